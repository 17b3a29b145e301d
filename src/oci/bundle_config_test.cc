#include "oci/bundle_config.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"
#include "oci/bundle_spec.h"
#include "oci/container.h"

namespace krunbox::oci {
namespace {

std::string with(const std::string& process, const std::string& rest = "") {
  return R"({"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":)" + process + rest + "}";
}
const std::string kProcess = R"({"args":["sh","-c","exit 3"],"env":["PATH=/bin"],"cwd":"/"})";

void expect_error(const std::string& text, const std::string& needle) {
  auto r = parse_bundle_config(text);
  ASSERT_FALSE(r.ok()) << text;
  EXPECT_NE(r.error().what().find(needle), std::string::npos) << r.error().what();
}

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto t = TempDir::create("krunbox-oci-");
    ASSERT_TRUE(t.ok());
    dir_.emplace(std::move(*t));
    ASSERT_TRUE(make_dirs(join_path(dir_->path(), "rootfs")).ok());
    ASSERT_TRUE(make_dirs(join_path(dir_->path(), "data")).ok());
  }
  Result<SandboxPlan> plan(const std::string& text) {
    auto c = parse_bundle_config(text);
    if (!c) return std::move(c).error();
    return plan_sandbox(*c, dir_->path(), std::string(64, 'a'));
  }
  void expect_plan_error(const std::string& text, const std::string& needle) {
    auto p = plan(text);
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_NE(p.error().what().find(needle), std::string::npos) << p.error().what();
  }
  std::optional<TempDir> dir_;
};

TEST_F(BundleTest, ProcessRootAndResourcesBecomeTheSpec) {
  auto p = plan(with(R"({"args":["sh","-c","exit 3"],"env":["PATH=/bin","A=b"],"cwd":"/tmp",
                       "user":{"uid":1000,"gid":100},"terminal":true})",
                     R"(,"hostname":"box","linux":{"resources":{"memory":{"limit":268435456},
                       "cpu":{"quota":150000,"period":100000},"pids":{"limit":64}}},
                       "mounts":[{"destination":"/proc","type":"proc","source":"proc"},
                                 {"destination":"/data","type":"bind","source":"data","options":["rbind","ro"]},
                                 {"destination":"/run","type":"tmpfs","source":"tmpfs"}])"));
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(p->backend, "native");
  EXPECT_EQ(p->spec.rootfs, join_path(dir_->path(), "rootfs"));
  EXPECT_TRUE(p->spec.rootfs_is_private);
  EXPECT_EQ(p->spec.argv, (std::vector<std::string>{"sh", "-c", "exit 3"}));
  EXPECT_EQ(p->spec.env, (std::vector<std::string>{"PATH=/bin", "A=b"}));
  EXPECT_EQ(p->spec.cwd, "/tmp");
  EXPECT_EQ(p->spec.user, "1000:100");
  EXPECT_TRUE(p->spec.tty);
  EXPECT_EQ(p->spec.hostname, "box");
  EXPECT_EQ(p->spec.memory_mib, 256u);
  EXPECT_EQ(p->spec.vcpus, 2u);
  EXPECT_EQ(p->spec.pids_limit, 64u);
  ASSERT_EQ(p->spec.volumes.size(), 1u);
  EXPECT_EQ(p->spec.volumes[0].host_path, join_path(dir_->path(), "data"));
  EXPECT_EQ(p->spec.volumes[0].guest_path, "/data");
  EXPECT_TRUE(p->spec.volumes[0].read_only);
  // No network namespace asked: the host's, as runc does.
  EXPECT_EQ(p->spec.network, NetworkMode::kHost);
  EXPECT_EQ(p->notes.size(), 2u);  // /proc from the backend, /run's tmpfs not mounted
}

TEST_F(BundleTest, ANetworkNamespaceMeansLoopbackOnly) {
  auto p = plan(with(kProcess, R"(,"linux":{"namespaces":[{"type":"pid"},{"type":"network"}]})"));
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(p->spec.network, NetworkMode::kNone);
}

TEST_F(BundleTest, MalformedDocumentsAreRefusedWithWhere) {
  expect_error("{not json", "config.json");
  expect_error("[]", "must be a JSON object");
  expect_error(R"({"ociVersion":"1.0.2","root":{"path":"r"}})", "process: is missing");
  expect_error(R"({"ociVersion":"2.0.0","root":{"path":"r"},"process":{"args":["a"]}})", "is not supported");
  expect_error(with(R"({"args":[]})"), "process.args: is empty");
  expect_error(with(R"({"args":["a",7]})"), "process.args[1]: must be a string");
  expect_error(with(R"({"args":["a"],"env":["=x"]})"), "process.env[0]");
  expect_error(with(R"({"args":["a"],"cwd":"tmp"})"), "process.cwd: 'tmp' is not an absolute path");
  expect_error(with(R"({"args":["a"],"user":{"uid":-1}})"), "process.user.uid");
  expect_error(with(kProcess, R"(,"hooks":{"prestart":[{"path":"/bin/true"}]})"), "hooks.prestart");
  expect_error(with(kProcess, R"(,"linux":{"namespaces":[{"type":"bogus"}]})"), "unknown namespace type");
}

TEST_F(BundleTest, MountDestinationsMustStayInsideTheRoot) {
  expect_error(with(kProcess, R"(,"mounts":[{"destination":"data","type":"bind","source":"/tmp"}])"),
               "mounts[0].destination: 'data' is not an absolute path");
  expect_error(with(kProcess, R"(,"mounts":[{"destination":"/a/../../etc","type":"bind","source":"/tmp"}])"),
               "climbs out of the container's root");
  expect_error(with(kProcess, R"(,"mounts":[{"type":"bind","source":"/tmp"}])"), "mounts[0].destination: is missing");
  expect_plan_error(with(kProcess, R"(,"mounts":[{"destination":"/x","type":"bind","source":"/no/such/dir"}])"),
                    "/no/such/dir");
  expect_plan_error(with(kProcess, R"(,"mounts":[{"destination":"/x","type":"nfs","source":"h:/e"}])"),
                    "type 'nfs' are not supported");
  expect_plan_error(with(kProcess, R"(,"mounts":[{"destination":"/x","type":"proc","source":"proc"}])"),
                    "only provided at its standard place");
}

TEST_F(BundleTest, HugeInputsAreRefusedByTheirBounds) {
  std::string args = R"({"args":[)";
  for (size_t i = 0; i <= kMaxArrayEntries; ++i) args += std::string(i ? "," : "") + "\"a\"";
  expect_error(with(args + "]}"), "process.args: has 4097 entries (at most 4096)");
  std::string mounts = R"(,"mounts":[)";
  for (size_t i = 0; i <= kMaxMounts; ++i)
    mounts += std::string(i ? "," : "") + R"({"destination":"/m","type":"bind","source":"/tmp"})";
  expect_error(with(kProcess, mounts + "]"), "mounts: has 257 entries (at most 256)");
  expect_error(std::string(kMaxConfigBytes + 1, ' '), "at most");
  std::string deep(100000, '[');
  EXPECT_FALSE(parse_bundle_config(deep).ok());
}

TEST_F(BundleTest, BackendsAndTheirRoots) {
  expect_plan_error(with(kProcess, R"(,"annotations":{"io.krunbox.backend":"docker"})"), "is not a backend");
  expect_plan_error(with(kProcess, R"(,"annotations":{"io.krunbox.backend":"qemu"})"), "virtiofs");
  expect_plan_error(R"({"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},"process":)" + kProcess + "}",
                    "root.readonly: the native backend cannot");
  auto vm = plan(R"({"ociVersion":"1.0.2","root":{"path":"rootfs","readonly":true},"process":)" + kProcess +
                 R"(,"annotations":{"io.krunbox.backend":"qemu","io.krunbox.memory":"300","io.krunbox.vcpus":"2"}})");
  ASSERT_TRUE(vm.ok()) << vm.error().what();
  EXPECT_EQ(vm->backend, "qemu");
  EXPECT_FALSE(vm->spec.rootfs_is_private);
  EXPECT_EQ(vm->spec.memory_mib, 300u);
  EXPECT_EQ(vm->spec.vcpus, 2u);
  expect_plan_error(with(kProcess, R"(,"annotations":{"io.krunbox.vcpus":"0"})"), "io.krunbox.vcpus");
  expect_plan_error(with(kProcess, R"(,"linux":{"resources":{"memory":{"limit":1048576}}})"),
                    "below krunbox's minimum");
  expect_plan_error(R"({"ociVersion":"1.0.2","root":{"path":"missing"},"process":)" + kProcess + "}", "root.path");
}

TEST(ContainerIdTest, RuncsRuleAndAStableSandboxId) {
  EXPECT_TRUE(check_container_id("web-1_a+b.c").ok());
  for (const char* bad : {"", ".", "..", "a/b", "a b", "../x"}) EXPECT_FALSE(check_container_id(bad).ok()) << bad;
  EXPECT_FALSE(check_container_id(std::string(1025, 'a')).ok());
  EXPECT_EQ(sandbox_id_for("web"), sandbox_id_for("web"));
  EXPECT_NE(sandbox_id_for("web"), sandbox_id_for("web2"));
  EXPECT_EQ(sandbox_id_for("web").size(), 64u);
}

TEST(ProcessConfigTest, ExecProcessFile) {
  auto p = parse_process_config(R"({"args":["ls"],"env":["A=1"],"cwd":"/x","terminal":true,"user":{"uid":5,"gid":6}})");
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(p->args, std::vector<std::string>{"ls"});
  EXPECT_TRUE(p->terminal);
  EXPECT_EQ(p->uid, 5u);
  EXPECT_EQ(p->gid, 6u);
  EXPECT_FALSE(parse_process_config("{").ok());
  EXPECT_FALSE(parse_process_config(R"({"env":[]})").ok());
}

}  // namespace
}  // namespace krunbox::oci
