#include "backend/capabilities.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "backend/krun/krun_backend.h"
#include "backend/mock/mock_backend.h"
#include "backend/native/native_backend.h"
#include "backend/qemu/qemu_backend.h"
#include "backend/registry.h"

namespace krunbox {
namespace {

SandboxSpec base_spec() {
  SandboxSpec s;
  s.id = "capabilities-test";
  s.rootfs = "/";
  s.argv = {"/bin/true"};
  return s;
}

const BackendCapabilities& table(const std::string& backend) {
  for (const auto& c : all_backend_capabilities())
    if (c.backend == backend) return c;
  ADD_FAILURE() << "no capability table for " << backend;
  static const BackendCapabilities none;
  return none;
}

const char* kBackends[] = {"krun", "qemu", "native", "mock"};

struct Feature {
  std::string name;
  std::function<void(SandboxSpec&)> use;
  std::set<std::string> takers;  // the backends whose create accepts it
};

PortMapping port(PortProtocol protocol) { return PortMapping{"127.0.0.1", 5353, 53, protocol}; }

VolumeMount volume(bool ro = false, bool suid = false, bool dev = false) {
  return VolumeMount{"/tmp", "/mnt", ro, suid, dev};
}

const std::vector<Feature>& features() {
  static const std::vector<Feature> all = {
      {"defaults", [](SandboxSpec&) {}, {"krun", "qemu", "native", "mock"}},
      {"network host", [](SandboxSpec& s) { s.network = NetworkMode::kHost; }, {"native", "mock"}},
      {"network user", [](SandboxSpec& s) { s.network = NetworkMode::kUser; }, {"qemu", "mock"}},
      {"network user,host-loopback", [](SandboxSpec& s) { s.network = NetworkMode::kUserWithHostLoopback; },
       {"krun", "qemu", "mock"}},
      {"tcp port", [](SandboxSpec& s) { s.ports = {port(PortProtocol::kTcp)}; }, {"krun", "qemu", "native", "mock"}},
      {"udp port", [](SandboxSpec& s) { s.ports = {port(PortProtocol::kUdp)}; }, {"qemu", "mock"}},
      {"ports with network host",
       [](SandboxSpec& s) {
         s.network = NetworkMode::kHost;
         s.ports = {port(PortProtocol::kTcp)};
       },
       {}},
      {"volume", [](SandboxSpec& s) { s.volumes = {volume()}; }, {"native", "mock"}},
      {"read-only volume", [](SandboxSpec& s) { s.volumes = {volume(true)}; }, {"native", "mock"}},
      {"suid volume", [](SandboxSpec& s) { s.volumes = {volume(false, true)}; }, {"native", "mock"}},
      {"dev volume", [](SandboxSpec& s) { s.volumes = {volume(false, false, true)}; }, {"native", "mock"}},
      {"user namespace", [](SandboxSpec& s) { s.user_namespace = true; }, {"native", "mock"}},
      {"pids limit", [](SandboxSpec& s) { s.pids_limit = 10; }, {"native", "mock"}},
      {"accel kvm", [](SandboxSpec& s) { s.accel = VmAccel::kKvm; }, {"krun", "qemu", "mock"}},
      {"accel tcg", [](SandboxSpec& s) { s.accel = VmAccel::kTcg; }, {"qemu", "mock"}},
      {"tty", [](SandboxSpec& s) { s.tty = true; }, {"krun", "qemu", "native", "mock"}},
      {"no rootfs", [](SandboxSpec& s) { s.rootfs.clear(); }, {"mock"}},
      {"no id", [](SandboxSpec& s) { s.id.clear(); }, {}},
  };
  return all;
}

TEST(CapabilitiesTest, EveryBackendTakesExactlyTheFeaturesItImplements) {
  for (const auto& f : features()) {
    SandboxSpec spec = base_spec();
    f.use(spec);
    for (const char* backend : kBackends) {
      Status st = check_spec(spec, table(backend), all_backend_capabilities());
      EXPECT_EQ(st.ok(), f.takers.count(backend) == 1)
          << backend << ", " << f.name << ": " << (st.ok() ? "taken" : st.error().what());
    }
  }
}

TEST(CapabilitiesTest, TablesStateWhatTheBackendsAre) {
  ASSERT_EQ(all_backend_capabilities().size(), backend_names().size());
  for (size_t i = 0; i < backend_names().size(); ++i)
    EXPECT_EQ(all_backend_capabilities()[i].backend, backend_names()[i]);
  EXPECT_TRUE(table("krun").vm_isolation);
  EXPECT_TRUE(table("qemu").vm_isolation);
  EXPECT_FALSE(table("native").vm_isolation);
  EXPECT_FALSE(table("mock").vm_isolation);
  EXPECT_TRUE(table("mock").fake);
  for (const char* real : {"krun", "qemu", "native"}) EXPECT_FALSE(table(real).fake) << real;
  EXPECT_TRUE(table("qemu").snapshot) << "QemuSandbox saves and loads QEMU's migration stream";
  EXPECT_FALSE(table("krun").snapshot) << "libkrun has no call to save a VM's state";
  EXPECT_FALSE(table("native").snapshot) << "krunbox does not use CRIU";
  EXPECT_TRUE(table("qemu").pause_resume);
  EXPECT_TRUE(table("native").pause_resume);
  EXPECT_FALSE(table("krun").pause_resume) << "KrunSandbox keeps Sandbox's pause, which refuses";
  // Each backend's own capabilities() is the table the registry lists.
  for (auto make : {make_krun_backend, make_qemu_backend, make_native_backend}) {
    auto b = make();
    EXPECT_EQ(b->capabilities().backend, b->name());
  }
}

Error refusal(const std::string& backend, const std::function<void(SandboxSpec&)>& use) {
  SandboxSpec spec = base_spec();
  use(spec);
  Status st = check_spec(spec, table(backend), all_backend_capabilities());
  EXPECT_FALSE(st.ok()) << backend;
  return st.ok() ? Error(ErrorCode::kInternal, "taken") : st.error();
}

void expect_mentions(const Error& e, std::initializer_list<const char*> words) {
  for (const char* w : words) EXPECT_NE(e.what().find(w), std::string::npos) << "'" << w << "' in: " << e.what();
  // Worded for every caller: no CLI flag names in library text.
  for (const char* flag : {"--net", "--userns", "-p ", "-v ", "--accel", "--isolation", "--pids-limit"})
    EXPECT_EQ(e.what().find(flag), std::string::npos) << flag << " in: " << e.what();
}

TEST(CapabilitiesTest, RefusalsNameFieldValueBackendAndTheWayOut) {
  Error host = refusal("qemu", [](SandboxSpec& s) { s.network = NetworkMode::kHost; });
  EXPECT_EQ(host.code(), ErrorCode::kUnsupported);
  EXPECT_EQ(host.field().name, spec_field::kNetwork);
  EXPECT_EQ(host.field().value, "host");
  expect_mentions(host, {"network mode host is not possible on the qemu backend (a VM)", "use network mode user",
                         "the native backend, which takes it"});

  Error krun_user = refusal("krun", [](SandboxSpec& s) { s.network = NetworkMode::kUser; });
  EXPECT_EQ(krun_user.field().value, "user");
  expect_mentions(krun_user, {"krun backend", "host's loopback", "network mode user,host-loopback", "qemu backend"});

  Error native_user = refusal("native", [](SandboxSpec& s) { s.network = NetworkMode::kUser; });
  expect_mentions(native_user, {"network mode user", "native backend", "for VMs", "none or host", "qemu backend"});

  Error udp = refusal("native", [](SandboxSpec& s) { s.ports = {port(PortProtocol::kUdp)}; });
  EXPECT_EQ(udp.field().name, spec_field::kPorts);
  EXPECT_EQ(udp.field().value, "127.0.0.1:5353:53/udp");
  expect_mentions(udp, {"port 127.0.0.1:5353:53/udp", "native backend publishes tcp ports only", "qemu backend"});

  Error krun_udp = refusal("krun", [](SandboxSpec& s) { s.ports = {port(PortProtocol::kUdp)}; });
  expect_mentions(krun_udp, {"krun backend (a VM) publishes tcp ports only", "qemu backend"});

  Error host_ports = refusal("native", [](SandboxSpec& s) {
    s.network = NetworkMode::kHost;
    s.ports = {port(PortProtocol::kTcp)};
  });
  EXPECT_EQ(host_ports.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(host_ports.field().name, spec_field::kPorts);
  expect_mentions(host_ports, {"no meaning with network mode host", "host's ports", "network mode none"});

  Error vol = refusal("qemu", [](SandboxSpec& s) { s.volumes = {volume()}; });
  EXPECT_EQ(vol.field().name, spec_field::kVolumes);
  EXPECT_EQ(vol.field().value, "/tmp:/mnt");
  expect_mentions(vol, {"volume /tmp:/mnt", "qemu backend (a VM) takes no volumes", "put", "native backend"});

  Error userns = refusal("krun", [](SandboxSpec& s) { s.user_namespace = true; });
  EXPECT_EQ(userns.field().name, spec_field::kUserNamespace);
  expect_mentions(userns, {"user namespace", "krun backend", "native backend, which takes it"});

  Error pids = refusal("qemu", [](SandboxSpec& s) { s.pids_limit = 10; });
  EXPECT_EQ(pids.field().name, spec_field::kPidsLimit);
  EXPECT_EQ(pids.field().value, "10");
  expect_mentions(pids, {"pids limit 10", "qemu backend", "native backend"});

  Error tcg = refusal("krun", [](SandboxSpec& s) { s.accel = VmAccel::kTcg; });
  EXPECT_EQ(tcg.field().name, spec_field::kAccel);
  EXPECT_EQ(tcg.field().value, "tcg");
  expect_mentions(tcg, {"accelerator tcg is not possible on the krun backend", "auto or kvm", "qemu backend"});

  Error native_kvm = refusal("native", [](SandboxSpec& s) { s.accel = VmAccel::kKvm; });
  expect_mentions(native_kvm, {"accelerator kvm", "native backend, which runs no VM", "leave accelerator auto"});

  Error no_root = refusal("native", [](SandboxSpec& s) { s.rootfs.clear(); });
  EXPECT_EQ(no_root.code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(no_root.field().name, spec_field::kRootfs);
  expect_mentions(no_root, {"rootfs", "native backend needs a root file system"});
}

TEST(CapabilitiesTest, AdviceNamesOnlyRealBackendsAndNeverTheOneRefusing) {
  Error host = refusal("krun", [](SandboxSpec& s) { s.network = NetworkMode::kHost; });
  EXPECT_EQ(host.what().find("mock"), std::string::npos) << host.what();
  EXPECT_NE(host.what().find("use network mode user,host-loopback"), std::string::npos) << host.what();
  // Without the other tables there is still the fix on this backend.
  SandboxSpec spec = base_spec();
  spec.network = NetworkMode::kHost;
  Status alone = check_spec(spec, table("qemu"));
  ASSERT_FALSE(alone.ok());
  EXPECT_EQ(alone.error().what(),
            "network mode host is not possible on the qemu backend (a VM), which has a network of its own; use "
            "network mode user");
}

TEST(CapabilitiesTest, VmIsolationIsRequiredByField) {
  EXPECT_TRUE(check_vm_isolation(table("qemu"), all_backend_capabilities()).ok());
  EXPECT_TRUE(check_vm_isolation(table("krun")).ok());
  Status native = check_vm_isolation(table("native"), all_backend_capabilities());
  ASSERT_FALSE(native.ok());
  EXPECT_EQ(native.error().field().name, spec_field::kIsolation);
  EXPECT_EQ(native.error().field().value, "vm");
  expect_mentions(native.error(), {"isolation vm is required", "native backend gives container isolation",
                                   "drop the requirement", "krun or qemu backend, which give it"});
  Status mock = check_vm_isolation(table("mock"));
  ASSERT_FALSE(mock.ok());
  EXPECT_NE(mock.error().what().find("no isolation"), std::string::npos);

  // select_backend asks the table before any probe, so this holds on every host.
  auto chosen = select_backend("native", /*require_vm=*/true);
  ASSERT_FALSE(chosen.ok());
  EXPECT_EQ(chosen.error().field().name, spec_field::kIsolation);
}

TEST(CapabilitiesTest, CreateChecksTheSpecBeforeTheBackendSeesIt) {
  MockConfig config;
  config.run_agent = false;
  config.capabilities = table("qemu");
  config.capabilities->backend = "mock";
  MockBackend narrowed(config);
  SandboxSpec spec = base_spec();
  spec.network = NetworkMode::kHost;
  auto refused = narrowed.create(spec);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().field().name, spec_field::kNetwork);
  EXPECT_EQ(narrowed.call_count(MockOp::kCreate), 0);

  MockConfig fake_config;
  fake_config.run_agent = false;
  MockBackend plain(fake_config);
  auto taken = plain.create(spec);
  ASSERT_TRUE(taken.ok()) << taken.error().what();
  EXPECT_EQ(plain.call_count(MockOp::kCreate), 1);

  // The real backends refuse through the same gate, before making anything.
  for (auto make : {make_krun_backend, make_qemu_backend}) {
    auto backend = make();
    auto r = backend->create(spec);
    ASSERT_FALSE(r.ok()) << backend->name();
    EXPECT_EQ(r.error().field().name, spec_field::kNetwork) << r.error().what();
  }
  spec.network = NetworkMode::kUser;
  auto native = make_native_backend()->create(spec);
  ASSERT_FALSE(native.ok());
  EXPECT_NE(native.error().what().find("native backend"), std::string::npos) << native.error().what();
}

TEST(CapabilitiesTest, SummaryAndJsonSayWhatIsThere) {
  std::string qemu = table("qemu").summary();
  EXPECT_NE(qemu.find("VM isolation"), std::string::npos) << qemu;
  EXPECT_NE(qemu.find("ports tcp, udp"), std::string::npos) << qemu;
  EXPECT_NE(qemu.find("not: volumes"), std::string::npos) << qemu;
  EXPECT_NE(table("native").summary().find("volumes (ro, suid, dev)"), std::string::npos);
  EXPECT_NE(table("mock").summary().find("a test fake"), std::string::npos);
  Json j = table("krun").to_json();
  EXPECT_EQ(j["vm_isolation"], true);
  EXPECT_EQ(j["network"], Json::array({"none", "user,host-loopback"}));
  EXPECT_EQ(j["accel"], Json::array({"auto", "kvm"}));
  EXPECT_EQ(j["volumes"]["supported"], false);
}

}  // namespace
}  // namespace krunbox
