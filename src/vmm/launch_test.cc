#include "vmm/launch.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/json.h"
#include "base/temp_dir.h"

namespace krunbox::vmm {
namespace {

VmmConfig base_config() {
  VmmConfig c;
  c.root = "/";
  c.root_is_private = true;
  c.exec_path = "/bin/app";
  return c;
}

HostFacts good_facts(const std::string& kvm) {
  HostFacts f;
  f.kvm_device = kvm;
  f.libkrunfw.found = true;
  f.max_vcpus = 8;
  return f;
}

TEST(LaunchTest, PlainCommandsFitTheKernelCommandLine) {
  auto c = base_config();
  c.args = {"-c", "echo hi"};
  c.env = {"HOST=example.com", "INTERNAL_SECRET=s3cret"};
  std::string why;
  EXPECT_TRUE(fits_kernel_cmdline(c, &why)) << why;
}

TEST(LaunchTest, WhatBreaksTheCommandLineGoesToTheConfigFile) {
  auto quote = base_config();
  quote.args = {"say \"hi\""};
  auto newline = base_config();
  newline.env = {"A=line\nbreak"};
  auto utf8 = base_config();
  utf8.args = {"caf\xc3\xa9"};
  auto dotted = base_config();
  dotted.env = {"a.b=1"};
  auto many = base_config();
  for (int i = 0; i < 25; ++i) many.env.push_back("V" + std::to_string(i) + "=1");
  auto big = base_config();
  big.args = {std::string(2000, 'x')};
  auto spaced = base_config();
  spaced.exec_path = "/bin/my app";
  for (const auto* c : {&quote, &newline, &utf8, &dotted, &many, &big, &spaced}) {
    std::string why;
    EXPECT_FALSE(fits_kernel_cmdline(*c, &why));
    EXPECT_FALSE(why.empty());
  }
  auto j = parse_json(krun_config_json(quote), "config");
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["Cmd"], Json::array({"/bin/app", "say \"hi\""}));
  EXPECT_TRUE((*j)["Env"].is_array());
}

TEST(LaunchTest, PreflightNamesAMissingKvmDevice) {
  auto st = preflight(base_config(), good_facts("/nonexistent/kvm"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(st.error().what().find("/nonexistent/kvm is absent"), std::string::npos) << st.error().what();
}

TEST(LaunchTest, PreflightNamesAReadOnlyKvmDevice) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can write any file; the read-write check cannot fail for root";
  auto dir = TempDir::create("kvm");
  ASSERT_TRUE(dir.ok());
  std::string dev = dir->path() + "/kvm";
  FILE* f = std::fopen(dev.c_str(), "w");
  std::fclose(f);
  ::chmod(dev.c_str(), 0444);
  auto st = preflight(base_config(), good_facts(dev));
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().what().find("not read-write"), std::string::npos);
}

TEST(LaunchTest, PreflightNamesMissingLibkrunfwAndTooManyVcpus) {
  auto dir = TempDir::create("kvm");
  ASSERT_TRUE(dir.ok());
  std::string dev = dir->path() + "/kvm";
  FILE* f = std::fopen(dev.c_str(), "w");
  std::fclose(f);
  auto facts = good_facts(dev);
  EXPECT_TRUE(preflight(base_config(), facts).ok());
  facts.libkrunfw.found = false;
  facts.libkrunfw.error = "libkrunfw.so.5: cannot open";
  auto st = preflight(base_config(), facts);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().what().find("libkrunfw"), std::string::npos);

  facts = good_facts(dev);
  auto c = base_config();
  c.vcpus = 9;
  st = preflight(c, facts);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().what().find("9 vCPUs"), std::string::npos);
  facts.max_vcpus = 64;  // libkrunfw's kernel still stops at 16
  c.vcpus = 17;
  EXPECT_FALSE(preflight(c, facts).ok());
  c.vcpus = 16;
  EXPECT_TRUE(preflight(c, facts).ok());
}

TEST(LaunchTest, PreflightChecksVsockSockets) {
  auto dir = TempDir::create("vsock");
  ASSERT_TRUE(dir.ok());
  auto facts = good_facts("/");
  facts.test_double = true;
  auto c = base_config();
  c.vsock_ports = {{5000, dir->path() + "/agent.sock", false}};
  auto st = preflight(c, facts);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().what().find("nothing listens"), std::string::npos);

  int s = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", c.vsock_ports[0].path.c_str());
  ASSERT_EQ(::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ::listen(s, 1);
  EXPECT_TRUE(preflight(c, facts).ok());
  c.vsock_ports[0].listen = true;  // libkrun would fail with -EEXIST
  st = preflight(c, facts);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().what().find("already exists"), std::string::npos);
  ::close(s);
}

}  // namespace
}  // namespace krunbox::vmm
