// krunbox's libkrun backend end to end through the libkrun C-API test double:
// `krunbox run --backend krun`, krunbox-vmm's call sequence and pre-flight
// checks, krunclient. The double checks our use of libkrun's API; no real
// libkrun or KVM runs here (see docs/backends/krun.md).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <thread>

#include "backend/krun/krun_backend.h"
#include "backend/probe.h"
#include "base/fs.h"
#include "base/json.h"
#include "base/paths.h"
#include "base/subprocess.h"
#include "base/temp_dir.h"

namespace krunbox {
namespace {

std::string bin(const std::string& name) {
  const char* d = std::getenv("KRUNBOX_BIN_DIR");
  return std::string(d ? d : "build/bin") + "/" + name;
}

// The calls of the process that reached krun_start_enter (krunbox-vmm run);
// probes (krunbox-vmm probe) record theirs too, under other pids.
std::vector<Json> read_calls(const std::string& path) {
  std::vector<Json> all, calls;
  auto text = read_file(path);
  if (!text) return calls;
  size_t start = 0;
  while (start < text->size()) {
    size_t nl = text->find('\n', start);
    if (nl == std::string::npos) nl = text->size();
    auto j = parse_json(text->substr(start, nl - start), "record line");
    if (j) all.push_back(*j);
    start = nl + 1;
  }
  int vm_pid = -1;
  for (const auto& c : all)
    if (c["call"] == "krun_start_enter") vm_pid = c["pid"].get<int>();
  for (const auto& c : all)
    if (c["pid"].get<int>() == vm_pid) calls.push_back(c);
  return calls;
}

const Json* find_call(const std::vector<Json>& calls, const std::string& name) {
  for (const auto& c : calls)
    if (c["call"] == name) return &c;
  return nullptr;
}

class KrunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the libkrun double emulates the guest with namespaces and needs root";
    rootfs_ = bundled_rootfs_dir();
    if (!is_directory(rootfs_)) GTEST_SKIP() << "bundled image missing at " << rootfs_ << " (run scripts/setup.sh)";
    auto dir = TempDir::create("krun-test-");
    ASSERT_TRUE(dir.ok());
    dir_ = std::move(*dir);
    record_ = dir_.path() + "/calls.jsonl";
  }

  std::vector<std::string> env(const std::string& libkrun = LIBKRUN_DOUBLE_PATH) const {
    std::vector<std::string> e = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "KRUNBOX_LIBKRUN=" + libkrun,
                                  "KRUN_DOUBLE_RECORD=" + record_, "KRUNBOX_RUN_DIR=" + dir_.path() + "/run"};
    if (const char* r = std::getenv("KRUNBOX_ROOT")) e.push_back(std::string("KRUNBOX_ROOT=") + r);
    return e;
  }

  RunOutput run(const std::vector<std::string>& argv, std::vector<std::string> environment) {
    RunOptions o;
    o.env = std::move(environment);
    o.timeout = std::chrono::seconds(120);
    auto out = run_capture(argv, o);
    EXPECT_TRUE(out.ok()) << out.error().what();
    return out.ok() ? *out : RunOutput{};
  }

  // A private app root for krunclient: the busybox image plus /bin/app.
  std::string make_app_root(const std::string& app_script) {
    std::string root = dir_.path() + "/approot";
    auto cp = run({"cp", "-a", rootfs_, root}, env());
    EXPECT_EQ(cp.status.code, 0) << cp.err;
    EXPECT_TRUE(write_file_atomic(root + "/bin/app", "#!/bin/sh\n" + app_script, 0755).ok());
    return root;
  }

  std::string rootfs_;
  TempDir dir_;
  std::string record_;
};

TEST_F(KrunTest, RunWorksEndToEndThroughTheAgent) {
  auto out = run({bin("krunbox"), "run", "--backend", "krun", "--", "sh", "-c", "echo out; exit 3"}, env());
  EXPECT_EQ(out.status.code, 3) << out.err;
  EXPECT_EQ(out.out, "out\n");
  // Nothing of the sandbox stays behind.
  auto left = run({"sh", "-c", "ls -A " + dir_.path() + "/run/krun 2>/dev/null"}, env());
  EXPECT_EQ(left.out, "");
}

TEST_F(KrunTest, CallSequenceFollowsLibkrunRules) {
  auto out = run({bin("krunbox"), "run", "--backend", "krun", "-p", "18181:8080", "--", "true"}, env());
  ASSERT_EQ(out.status.code, 0) << out.err;
  auto calls = read_calls(record_);
  ASSERT_GE(calls.size(), 4u);
  EXPECT_EQ(calls.front()["call"], "krun_create_ctx");
  EXPECT_EQ(calls.back()["call"], "krun_start_enter");
  for (const auto& c : calls) EXPECT_EQ(c["ret"].get<int>() < 0, false) << c.dump();
  const Json* exec = find_call(calls, "krun_set_exec");
  ASSERT_NE(exec, nullptr);
  const Json& a = (*exec)["args"];
  EXPECT_EQ(a["exec_path"], "/.krunbox/krunbox-agent");
  ASSERT_TRUE(a["argv"].is_array());
  EXPECT_NE(a["argv"][0], a["exec_path"]);  // argv without argv[0]
  EXPECT_EQ(a["argv"][0], "--transport");
  ASSERT_TRUE(a["envp"].is_array());  // never NULL
  const Json* map = find_call(calls, "krun_set_port_map");
  ASSERT_NE(map, nullptr);
  EXPECT_EQ((*map)["args"]["port_map"], Json::array({"18181:8080"}));
  const Json* vsock = find_call(calls, "krun_add_vsock_port2");
  ASSERT_NE(vsock, nullptr);
  EXPECT_EQ((*vsock)["args"]["listen"], false);
  const Json* root = find_call(calls, "krun_set_root");
  ASSERT_NE(root, nullptr);
  EXPECT_NE((*root)["args"]["root_path"], rootfs_);  // an overlay, never the cached image
  EXPECT_FALSE(path_exists(rootfs_ + "/.krunbox"));
  const Json* rl = find_call(calls, "krun_set_rlimits");
  ASSERT_NE(rl, nullptr);
  EXPECT_EQ((*rl)["args"]["rlimits"][0].get<std::string>().rfind("7=", 0), 0u);  // numeric RLIMIT_NOFILE
}

TEST_F(KrunTest, KrunclientPassesExactlyHostAndSecret) {
  std::string root = make_app_root("tr '\\0' '\\n' < /proc/$$/environ > /env.txt; exit 7\n");
  auto e = env();
  e.push_back("HOST=app.example");
  e.push_back("INTERNAL_SECRET=t0p");
  e.push_back("OTHER=must-not-leak");
  auto out = run({bin("krunclient"), root, "18080"}, e);
  EXPECT_EQ(out.status.code, 7) << out.err;
  auto guest_env = read_file(root + "/env.txt");
  ASSERT_TRUE(guest_env.ok()) << out.err;
  EXPECT_EQ(*guest_env, "HOST=app.example\nINTERNAL_SECRET=t0p\n");
  auto calls = read_calls(record_);
  const Json* vm = find_call(calls, "krun_set_vm_config");
  ASSERT_NE(vm, nullptr);
  EXPECT_EQ((*vm)["args"]["num_vcpus"], 1);
  EXPECT_EQ((*vm)["args"]["ram_mib"], 512);
  const Json* map = find_call(calls, "krun_set_port_map");
  ASSERT_NE(map, nullptr);
  EXPECT_EQ((*map)["args"]["port_map"], Json::array({"18080:80"}));
  const Json* exec = find_call(calls, "krun_set_exec");
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ((*exec)["args"]["exec_path"], "/bin/app");
  EXPECT_EQ((*exec)["args"]["argv"], Json::array());
  EXPECT_EQ((*exec)["args"]["envp"], Json::array({"HOST=app.example", "INTERNAL_SECRET=t0p"}));
  const Json* root_call = find_call(calls, "krun_set_root");
  ASSERT_NE(root_call, nullptr);
  EXPECT_EQ((*root_call)["args"]["root_path"], root);
}

TEST_F(KrunTest, KrunclientBadArgumentsGiveUsage) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {}, {"/nonexistent-root", "8080"}, {rootfs_, "http"}, {rootfs_, "70000"}, {rootfs_, "0"}, {rootfs_}}) {
    std::vector<std::string> argv = {bin("krunclient")};
    argv.insert(argv.end(), args.begin(), args.end());
    auto out = run(argv, env());
    EXPECT_EQ(out.status.code, 2) << argv.size();
    EXPECT_NE(out.err.find("usage: krunclient ROOT_PATH LOCAL_PORT"), std::string::npos) << out.err;
  }
}

TEST_F(KrunTest, KrunclientDiesCleanlyOnSigterm) {
  std::string root = make_app_root("echo started > /started; exec sleep 4242\n");
  SpawnOptions so;
  so.env = env();
  so.stdout_mode = Stdio::kNull;
  so.stderr_mode = Stdio::kFile;
  so.stderr_file = dir_.path() + "/krunclient.err";
  auto sp = Subprocess::spawn({bin("krunclient"), root, "18081"}, so);
  ASSERT_TRUE(sp.ok()) << sp.error().what();
  for (int i = 0; i < 300 && !path_exists(root + "/started"); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(path_exists(root + "/started")) << read_file(dir_.path() + "/krunclient.err").value_or("");
  ASSERT_TRUE(sp->kill(SIGTERM).ok());
  auto st = sp->wait_for(std::chrono::seconds(20));
  ASSERT_TRUE(st.ok() && st->has_value());
  EXPECT_TRUE((*st)->signaled);
  EXPECT_EQ((*st)->signal, SIGTERM);
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    auto p = run_capture({"sh", "-c", "pgrep -f '[s]leep 4242' || true"});
    gone = p.ok() && p->out.empty();
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone) << "the guest workload outlived krunclient";
}

TEST_F(KrunTest, WithoutLibkrunTheBackendSaysWhatIsMissing) {
  auto out = run({bin("krunbox"), "run", "--backend", "krun", "--", "true"}, env("/nonexistent/libkrun.so.1"));
  EXPECT_NE(out.status.code, 0);
  EXPECT_NE(out.err.find("backend krun is not usable"), std::string::npos) << out.err;
  EXPECT_NE(out.err.find("libkrun"), std::string::npos) << out.err;
}

TEST_F(KrunTest, AutoNeverPicksTheDouble) {
  ::setenv("KRUNBOX_LIBKRUN", LIBKRUN_DOUBLE_PATH, 1);
  ::setenv("KRUNBOX_LIBEXEC", bin("").c_str(), 1);
  auto r = probe_krun();
  ::unsetenv("KRUNBOX_LIBKRUN");
  ::unsetenv("KRUNBOX_LIBEXEC");
  EXPECT_TRUE(r.usable) << (r.reasons.empty() ? "" : r.reasons[0]);
  EXPECT_EQ(r.level, IsolationLevel::kNone);
  EXPECT_FALSE(pick_auto_backend({r}).has_value());
  auto doctor = run({bin("krunbox"), "doctor"}, env());
  EXPECT_NE(doctor.out.find("TEST DOUBLE"), std::string::npos) << doctor.out;
}

TEST_F(KrunTest, VmmNamesMissingLibkrunfw) {
  // The double alone, without the libkrunfw double beside it.
  std::string lone = dir_.path() + "/lone";
  ASSERT_TRUE(make_dirs(lone).ok());
  auto cp = run({"cp", LIBKRUN_DOUBLE_PATH, lone + "/libkrun.so.1"}, env());
  ASSERT_EQ(cp.status.code, 0);
  std::string cfg = dir_.path() + "/vmm.json";
  ASSERT_TRUE(write_file_atomic(cfg, R"({"root":")" + rootfs_ + R"(","root_is_private":true,"exec":"/bin/true"})").ok());
  auto out = run({bin("krunbox-vmm"), "run", "--config", cfg}, env(lone + "/libkrun.so.1"));
  EXPECT_EQ(out.status.code, 1);
  EXPECT_NE(out.err.find("libkrunfw"), std::string::npos) << out.err;
}

TEST_F(KrunTest, VmmRefusesHostileConfigs) {
  std::string cfg = dir_.path() + "/vmm.json";
  for (const std::string& text : {std::string("{"), std::string(R"({"root":"/","exec":"/x","vcpus":0})"),
                                  std::string(R"({"root":"/","root_is_private":true,"exec":"/x","evil":1})")}) {
    ASSERT_TRUE(write_file_atomic(cfg, text).ok());
    auto out = run({bin("krunbox-vmm"), "run", "--config", cfg}, env());
    EXPECT_EQ(out.status.code, 2) << text;
    EXPECT_NE(out.err.find("vmm config"), std::string::npos) << out.err;
  }
  auto out = run({bin("krunbox-vmm"), "run", "--config-fd", "1x"}, env());
  EXPECT_EQ(out.status.code, 2);
  EXPECT_FALSE(path_exists(record_));  // libkrun was never called
}

TEST_F(KrunTest, CommandsTheKernelLineCannotCarryGoThroughKrunConfigJson) {
  auto out = run({bin("krunbox-vmm"), "run", "--config", dir_.path() + "/c.json"}, env());  // absent file
  EXPECT_EQ(out.status.code, 2);
  std::string cfg = dir_.path() + "/c.json";
  Json j = {{"root", rootfs_},
            {"state_dir", dir_.path() + "/state"},
            {"exec", "/bin/sh"},
            {"args", {"-c", "echo \"quoted\" $A"}},
            {"env", {"A=caf\xc3\xa9"}}};
  ASSERT_TRUE(write_file_atomic(cfg, j.dump()).ok());
  out = run({bin("krunbox-vmm"), "run", "--config", cfg}, env());
  EXPECT_EQ(out.status.code, 0) << out.err;
  EXPECT_EQ(out.out, "quoted caf\xc3\xa9\n");  // the shell removed the quotes
  auto calls = read_calls(record_);
  EXPECT_EQ(find_call(calls, "krun_set_exec"), nullptr);
  const Json* env_call = find_call(calls, "krun_set_env");
  ASSERT_NE(env_call, nullptr);
  EXPECT_EQ((*env_call)["args"]["envp"], Json::array());  // empty, never NULL
  EXPECT_FALSE(path_exists(rootfs_ + "/.krun_config.json"));  // written in the overlay only
}

class KrunSandboxTest : public KrunTest {
 protected:
  void SetUp() override {
    KrunTest::SetUp();
    if (IsSkipped()) return;
    ::setenv("KRUNBOX_LIBKRUN", LIBKRUN_DOUBLE_PATH, 1);
    ::setenv("KRUNBOX_LIBEXEC", bin("").c_str(), 1);
    ::setenv("KRUNBOX_RUN_DIR", (dir_.path() + "/run").c_str(), 1);
  }
  void TearDown() override {
    ::unsetenv("KRUNBOX_LIBKRUN");
    ::unsetenv("KRUNBOX_LIBEXEC");
    ::unsetenv("KRUNBOX_RUN_DIR");
  }
  std::unique_ptr<Sandbox> start() {
    auto spec = SandboxSpecBuilder().rootfs(rootfs_).build();
    EXPECT_TRUE(spec.ok()) << spec.error().what();
    auto sb = make_krun_backend()->create(*spec);
    EXPECT_TRUE(sb.ok()) << sb.error().what();
    auto st = (*sb)->start();
    EXPECT_TRUE(st.ok()) << st.error().what();
    return std::move(*sb);
  }
  std::string left_over() { return run({"sh", "-c", "ls -A " + dir_.path() + "/run/krun 2>/dev/null"}, env()).out; }
};

TEST_F(KrunSandboxTest, StopShutsTheAgentDownAndLeavesNothing) {
  auto sb = start();
  ASSERT_EQ(sb->state(), SandboxState::kRunning);
  ASSERT_NE(sb->agent(), nullptr);
  ASSERT_TRUE(sb->stop(std::chrono::seconds(5)).ok());
  EXPECT_EQ(sb->state(), SandboxState::kStopped);
  EXPECT_EQ(left_over(), "");
}

TEST_F(KrunSandboxTest, AHelperThatDiesMakesTheSandboxCrashed) {
  auto sb = start();
  ASSERT_EQ(sb->state(), SandboxState::kRunning);
  ASSERT_TRUE(sb->kill(SIGKILL).ok());
  auto st = sb->wait();
  ASSERT_TRUE(st.ok());
  EXPECT_TRUE(st->signaled);
  EXPECT_EQ(sb->state(), SandboxState::kCrashed);
  EXPECT_NE(sb->crash_reason().find("krunbox-vmm"), std::string::npos) << sb->crash_reason();
}

TEST_F(KrunSandboxTest, LibkrunExitCodesAreNamed) {
  EXPECT_NE(describe_libkrun_exit(127).find("did not find"), std::string::npos);
  EXPECT_NE(describe_libkrun_exit(150).find("SIGSEGV"), std::string::npos);
  EXPECT_NE(describe_libkrun_exit(137).find("signal 9"), std::string::npos);
  EXPECT_EQ(describe_libkrun_exit(3), "");
}

TEST_F(KrunSandboxTest, SweepRemovesTheRunDirsOfDeadOwners) {
  std::string stale = dir_.path() + "/run/krun/0123456789abcdef";
  ASSERT_TRUE(make_dirs(stale).ok());
  ASSERT_TRUE(write_file_atomic(stale + "/state.json", R"({"id":"x","owner":{"pid":999999999,"start_time":1}})").ok());
  auto swept = sweep_krun_leftovers(dir_.path() + "/run");
  ASSERT_TRUE(swept.ok()) << swept.error().what();
  EXPECT_FALSE(path_exists(stale));
}

}  // namespace
}  // namespace krunbox
