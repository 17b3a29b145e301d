#include "vmm/vmm_config.h"

#include <sys/resource.h>

#include <gtest/gtest.h>

namespace krunbox::vmm {
namespace {

const char* kMinimal = R"({"root":"/r","root_is_private":true,"exec":"/bin/app"})";

std::string with(const std::string& extra) {
  return R"({"root":"/r","state_dir":"/s","exec":"/bin/app",)" + extra + "}";
}

void expect_rejected(const std::string& text, const std::string& needle) {
  auto c = parse_vmm_config(text);
  ASSERT_FALSE(c.ok()) << text;
  EXPECT_EQ(c.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(c.error().what().find(needle), std::string::npos) << c.error().what();
}

TEST(VmmConfigTest, MinimalHasLibkrunDefaults) {
  auto c = parse_vmm_config(kMinimal);
  ASSERT_TRUE(c.ok()) << c.error().what();
  EXPECT_EQ(c->vcpus, 1u);
  EXPECT_EQ(c->memory_mib, 512u);
  EXPECT_EQ(c->network, VmmNetwork::kTsi);
  EXPECT_TRUE(c->env.empty());
}

TEST(VmmConfigTest, RoundTripsThroughJson) {
  auto c = parse_vmm_config(with(R"("args":["-c","echo hi"],"env":["A=1"],"vcpus":2,"memory_mib":256,
      "vsock_ports":[{"port":5000,"path":"/run/a.sock"}],"port_map":["18080:80"],
      "rlimits":[{"resource":"nofile","soft":1024,"hard":4096}],"log_level":2,"workdir":"/w",
      "console_log":"/tmp/c.log","agent":"/usr/lib/krunbox-agent")"));
  ASSERT_TRUE(c.ok()) << c.error().what();
  auto again = parse_vmm_config(to_json(*c));
  ASSERT_TRUE(again.ok()) << again.error().what();
  EXPECT_EQ(again->args, c->args);
  EXPECT_EQ(again->port_map, std::vector<std::string>{"18080:80"});
  ASSERT_EQ(again->rlimits.size(), 1u);
  EXPECT_EQ(again->rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(again->vsock_ports[0].path, "/run/a.sock");
  EXPECT_EQ(again->agent, c->agent);
}

TEST(VmmConfigTest, HostileDocumentsAreRefusedNamingTheField) {
  expect_rejected("", "krunbox-vmm config");
  expect_rejected("[]", "JSON object");
  expect_rejected("{\"root\":\"/r\"}", "exec");
  expect_rejected(R"({"exec":"/x","root":"/r"})", "state_dir");
  expect_rejected(with(R"("bogus":1)"), "unknown key 'bogus'");
  expect_rejected(with(R"("vcpus":0)"), "vcpus");
  expect_rejected(with(R"("vcpus":256)"), "vcpus");
  expect_rejected(with(R"("vcpus":-1)"), "vcpus");
  expect_rejected(with(R"("vcpus":1.5)"), "vcpus");
  expect_rejected(with(R"("vcpus":"2")"), "vcpus");
  expect_rejected(with(R"("memory_mib":0)"), "memory_mib");
  expect_rejected(with(R"("memory_mib":18446744073709551615)"), "memory_mib");
  expect_rejected(R"({"root":"relative","root_is_private":true,"exec":"/x"})", "absolute");
  expect_rejected(R"({"root":"/r","root_is_private":true,"exec":"/x\u0000y"})", "NUL");
  expect_rejected(with(R"("env":["NOEQUALS"])"), "KEY=VALUE");
  expect_rejected(with(R"("env":["=x"])"), "KEY=VALUE");
  expect_rejected(with(R"("env":[1])"), "string");
  expect_rejected(with(R"("args":"notalist")"), "array");
  expect_rejected(with(R"("port_map":["80"])"), "HOST:GUEST");
  expect_rejected(with(R"("port_map":["0:80"])"), "HOST:GUEST");
  expect_rejected(with(R"("port_map":["65536:80"])"), "HOST:GUEST");
  expect_rejected(with(R"("port_map":["8080:-1"])"), "HOST:GUEST");
  expect_rejected(with(R"("port_map":["a:b"])"), "HOST:GUEST");
  expect_rejected(with(R"("network":"passt","port_map":["1:2"])"), "tsi");
  expect_rejected(with(R"("network":"bridge")"), "network");
  expect_rejected(with(R"("vsock_ports":[{"port":1024,"path":"/a"}])"), "reserved");
  expect_rejected(with(R"("vsock_ports":[{"port":5000}])"), "port and path");
  expect_rejected(with(R"("vsock_ports":[{"port":5000,"path":"/a"},{"port":5001,"path":"/a"}])"), "twice");
  expect_rejected(with(R"("vsock_ports":[{"port":5000,"path":"/a","x":1}])"), "unknown key");
  expect_rejected(with("\"vsock_ports\":[{\"port\":5000,\"path\":\"/" + std::string(200, 'a') + "\"}]"), "longer");
  expect_rejected(with(R"("rlimits":[{"resource":"bogus","soft":1,"hard":2}])"), "unknown resource");
  expect_rejected(with(R"("rlimits":[{"resource":"nofile","soft":3,"hard":2}])"), "soft limit");
  expect_rejected(with(R"("rlimits":[{"resource":"99","soft":1,"hard":2}])"), "unknown resource");
  expect_rejected(with(R"("log_level":6)"), "log_level");
  expect_rejected(std::string(2u << 20, ' '), "larger than");
  std::string deep(10000, '[');
  EXPECT_FALSE(parse_vmm_config(deep).ok());
}

TEST(VmmConfigTest, TooManyEntriesAreRefused) {
  VmmLimits limits;
  limits.max_args = 2;
  auto c = parse_vmm_config(with(R"("args":["a","b","c"])"), limits);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().what().find("more than 2"), std::string::npos);
}

}  // namespace
}  // namespace krunbox::vmm
