// Long-lived sandboxes through the CLI: create/start/exec/stop/kill/rm/ps/
// logs/inspect, run -d, monitors and their crashes, ports, secrets, restart
// policy and krunbox sh. The mock backend covers the edge cases quickly; the
// native backend the real thing; tests/lifecycle/qemu_lifecycle_test.cc the VMs.
#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "base/temp_dir.h"
#include "base/test_util.h"
#include "base/unique_fd.h"
#include "lifecycle_env.h"

namespace krunbox {
namespace {

using lifecycle_test::bundled_rootfs;
using lifecycle_test::dir_entries;
using lifecycle_test::trim;
using lifecycle_test::World;
using namespace std::chrono_literals;

std::string native_skip_reason() {
  if (::geteuid() != 0) return "needs root for the native backend";
  if (!is_directory(bundled_rootfs())) return "no bundled rootfs at " + bundled_rootfs() + "; run scripts/setup.sh";
  auto agent = find_helper("krunbox-agent");
  if (!agent.ok()) return agent.error().what();
  World w;
  auto probe = w.kb({"run", "--backend", "native", "--rootfs", bundled_rootfs(), "--", "true"});
  if (!probe.ok() || probe->status.code != 0)
    return "the native backend cannot run here: " + (probe.ok() ? probe->err : probe.error().what());
  return "";
}

const std::string& native_skip() {
  static const std::string why = native_skip_reason();
  return why;
}

#define SKIP_WITHOUT_NATIVE() \
  if (!native_skip().empty()) GTEST_SKIP() << native_skip()

// Every file under `dir` (not following links) whose content holds `needle`.
std::vector<std::string> files_containing(const std::string& dir, const std::string& needle) {
  std::vector<std::string> hits;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return hits;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = join_path(dir, name);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      auto sub = files_containing(path, needle);
      hits.insert(hits.end(), sub.begin(), sub.end());
    } else if (S_ISREG(st.st_mode)) {
      auto content = read_file(path, 64u << 20);
      if (content.ok() && content->find(needle) != std::string::npos) hits.push_back(path);
    }
  }
  ::closedir(d);
  return hits;
}

// Processes whose command line mentions `needle`.
std::set<pid_t> processes_mentioning(const std::string& needle) {
  std::set<pid_t> out;
  for (const auto& e : dir_entries("/proc")) {
    if (e.find_first_not_of("0123456789") != std::string::npos) continue;
    auto cmd = read_file("/proc/" + e + "/cmdline", 1u << 16);
    if (!cmd.ok()) continue;
    std::replace(cmd->begin(), cmd->end(), '\0', ' ');
    if (cmd->find(needle) != std::string::npos) out.insert(std::stoi(e));
  }
  return out;
}

std::string mounts_mentioning(const std::string& needle) {
  auto m = read_file("/proc/mounts", 16u << 20);
  std::string out;
  std::istringstream in(m.ok() ? *m : "");
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) out += line + "\n";
  return out;
}

std::string run_d(const World& w, std::vector<std::string> args) {
  args.insert(args.begin(), {"run", "-d"});
  auto out = w.kb(args);
  EXPECT_TRUE(out.ok());
  if (!out.ok()) return "";
  EXPECT_EQ(out->status.code, 0) << out->err;
  return trim(out->out);
}

// ---- mock: the lifecycle's logic, fast ----

TEST(LifecycleMockTest, FullLifecycle) {
  World w;
  auto created =
      w.kb({"create", "--backend", "mock", "--name", "box", "--", "sh", "-c", "echo main-says-hi; sleep 600"});
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(created->status.code, 0) << created->err;
  std::string id = trim(created->out);
  ASSERT_EQ(id.size(), 64u);
  EXPECT_EQ(w.state("box"), "created");
  auto ps = w.kb({"ps"});
  EXPECT_EQ(ps->out.find(id.substr(0, 12)), std::string::npos) << "ps without -a lists only running ones";
  ps = w.kb({"ps", "-a"});
  EXPECT_NE(ps->out.find(id.substr(0, 12)), std::string::npos);

  auto started = w.kb({"start", "box"});
  ASSERT_EQ(started->status.code, 0) << started->err;
  EXPECT_EQ(w.state(id.substr(0, 8)), "running");

  auto exec = w.kb({"exec", "box", "--", "sh", "-c", "echo out; echo err >&2; exit 7"});
  EXPECT_EQ(exec->status.code, 7);
  EXPECT_EQ(exec->out, "out\n");
  EXPECT_EQ(exec->err, "err\n");
  auto in = w.kb({"exec", "-i", id.substr(0, 12), "--", "cat"}, "through stdin\n");
  EXPECT_EQ(in->status.code, 0);
  EXPECT_EQ(in->out, "through stdin\n");
  auto env = w.kb({"exec", "-e", "GREETING=hello", "-w", "/tmp", "box", "--", "sh", "-c", "echo $GREETING; pwd"});
  EXPECT_EQ(env->out, "hello\n/tmp\n");

  for (int i = 0; i < 100 && w.kb({"logs", "box"})->out.empty(); ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(w.kb({"logs", "box"})->out, "main-says-hi\n");
  EXPECT_EQ(w.kb({"logs", "--tail", "1", "box"})->out, "main-says-hi\n");

  Json j = w.inspect("box");
  EXPECT_EQ(j["Id"], id);
  EXPECT_EQ(j["Name"], "box");
  EXPECT_EQ(j["Backend"], "mock");
  EXPECT_EQ(j["State"]["Running"], true);

  auto stopped = w.kb({"stop", "-t", "1", "box"});
  ASSERT_EQ(stopped->status.code, 0) << stopped->err;
  EXPECT_EQ(w.state("box"), "stopped");
  auto after = w.kb({"exec", "box", "--", "true"});
  EXPECT_EQ(after->status.code, 125);
  EXPECT_NE(after->err.find("not running"), std::string::npos);

  // Started again: a new monitor, a new run.
  ASSERT_EQ(w.kb({"start", "box"})->status.code, 0);
  EXPECT_EQ(w.state("box"), "running");
  auto rm_running = w.kb({"rm", "box"});
  EXPECT_EQ(rm_running->status.code, 125);
  EXPECT_NE(rm_running->err.find("rm -f"), std::string::npos);
  ASSERT_EQ(w.kb({"rm", "-f", "box"})->status.code, 0);
  EXPECT_EQ(w.state(id), "(gone)");
  EXPECT_TRUE(dir_entries(join_path(w.data(), "lifecycle")).empty());
  EXPECT_TRUE(dir_entries(join_path(w.run(), "monitors")).empty());
}

TEST(LifecycleMockTest, NamesIdsAndErrors) {
  World w;
  std::string a = run_d(w, {"--backend", "mock", "--name", "same", "--", "sleep", "600"});
  auto dup = w.kb({"run", "-d", "--backend", "mock", "--name", "same", "--", "sleep", "600"});
  EXPECT_EQ(dup->status.code, 125);
  EXPECT_NE(dup->err.find("taken"), std::string::npos);
  EXPECT_EQ(w.kb({"exec", "nosuch", "--", "true"})->status.code, 125);
  EXPECT_NE(w.kb({"start", "nosuch"})->err.find("no sandbox"), std::string::npos);
  EXPECT_NE(w.kb({"start", "same"})->err.find("already"), std::string::npos);
  EXPECT_NE(w.kb({"kill", "-s", "NOPE", "same"})->err.find("unknown signal"), std::string::npos);
  EXPECT_NE(w.kb({"run", "--restart", "always", "--backend", "mock", "--", "true"})->err.find("-d"), std::string::npos);
  EXPECT_NE(w.kb({"create", "--restart", "sometimes", "--backend", "mock"})->err.find("--restart"), std::string::npos);
  auto inspect_missing = w.kb({"inspect", "--type", "sandbox", "nosuch"});
  EXPECT_EQ(inspect_missing->status.code, 125);
  // kill ends the main process: exited with 128+9, no restart.
  ASSERT_EQ(w.kb({"kill", "same"})->status.code, 0);
  ASSERT_TRUE(w.wait_state(a, "stopped"));
  EXPECT_EQ(w.inspect(a)["State"]["ExitCode"], 137);
  auto ps = w.kb({"ps", "-a", "--format", "json"});
  auto rows = parse_json(ps->out, "ps");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0]["state"], "stopped");
  EXPECT_NE((*rows)[0]["status"].get<std::string>().find("exited (137)"), std::string::npos);
}

TEST(LifecycleMockTest, LabelsFilterPsAndHostileLabelsCreateNothing) {
  World w;
  std::string web = run_d(w, {"--backend", "mock", "-l", "app=web", "-l", "tier=front", "--", "sleep", "600"});
  std::string db = run_d(w, {"--backend", "mock", "--label", "app=db", "--", "sleep", "600"});
  EXPECT_EQ(trim(w.kb({"ps", "-q", "--filter", "label=app=web"})->out), web.substr(0, 12));
  EXPECT_EQ(trim(w.kb({"ps", "-q", "-f", "label=app=db"})->out), db.substr(0, 12));
  EXPECT_EQ(trim(w.kb({"ps", "-q", "-f", "label=tier"})->out), web.substr(0, 12));
  EXPECT_EQ(trim(w.kb({"ps", "-q", "-f", "label=app=web", "-f", "label=tier=back"})->out), "");
  EXPECT_EQ(w.inspect(web)["Labels"], (Json{{"app", "web"}, {"tier", "front"}}));
  auto rows = parse_json(w.kb({"ps", "--format", "json", "-f", "label=app=db"})->out, "ps");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0]["labels"]["app"], "db");
  // Hostile labels and filters: refused, naming the problem; nothing recorded.
  for (const std::string& bad : {std::string("=v"), std::string("no-value"), std::string("a b=c"),
                                 std::string("k=a\x1b[2Jb\n"), std::string(200, 'k') + "=v"}) {
    auto r = w.kb({"run", "-d", "--backend", "mock", "-l", bad, "--", "sleep", "1"});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status.code, 125) << bad;
    EXPECT_NE(r->err.find("label"), std::string::npos) << r->err;
  }
  EXPECT_EQ(w.kb({"ps", "-f", "status=running"})->status.code, 125);
  EXPECT_EQ(w.kb({"run", "--backend", "mock", "-l", "a=b", "--", "true"})->status.code, 125);
  EXPECT_EQ(dir_entries(join_path(w.data(), "lifecycle")).size(), 2u);
  ASSERT_EQ(w.kb({"rm", "-f", web, db})->status.code, 0);
}

TEST(LifecycleMockTest, RestartOnFailureRestartsExactlyThreeTimes) {
  World w;
  std::string id =
      run_d(w, {"--backend", "mock", "--restart", "on-failure:3", "--", "sh", "-c", "echo attempt; exit 3"});
  ASSERT_TRUE(w.wait_state(id, "stopped", 60s));
  Json j = w.inspect(id);
  EXPECT_EQ(j["State"]["RestartCount"], 3);
  EXPECT_EQ(j["State"]["ExitCode"], 3);
  EXPECT_EQ(j["RestartPolicy"], "on-failure:3");
  EXPECT_EQ(w.kb({"logs", id})->out, "attempt\nattempt\nattempt\nattempt\n");
  // A success is not restarted by on-failure.
  std::string ok = run_d(w, {"--backend", "mock", "--restart", "on-failure", "--", "true"});
  ASSERT_TRUE(w.wait_state(ok, "stopped", 60s));
  EXPECT_EQ(w.inspect(ok)["State"]["RestartCount"], 0);
}

TEST(LifecycleMockTest, RestartAlwaysBacksOffUntilStopped) {
  World w;
  std::string id = run_d(w, {"--backend", "mock", "--restart", "always", "--", "true"});
  auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline && w.inspect(id)["State"].value("RestartCount", 0) < 3)
    std::this_thread::sleep_for(100ms);
  EXPECT_GE(w.inspect(id)["State"].value("RestartCount", 0), 3);
  ASSERT_EQ(w.kb({"stop", id})->status.code, 0);
  EXPECT_EQ(w.state(id), "stopped");
}

TEST(LifecycleMockTest, PortConflictIsRejectedBeforeAnythingStarts) {
  World w;
  uint16_t taken_port = 0;
  UniqueFd taken = testing::listen_on_loopback(&taken_port);
  ASSERT_TRUE(taken);
  std::string port = std::to_string(taken_port);
  auto out = w.kb({"run", "-d", "--backend", "mock", "-p", port + ":80", "--", "sleep", "600"});
  EXPECT_EQ(out->status.code, 125);
  EXPECT_NE(out->err.find("already in use"), std::string::npos) << out->err;
  EXPECT_EQ(trim(w.kb({"ps", "-a", "-q"})->out), "");
}

TEST(LifecycleMockTest, MonitorKilledMeansCrashedAndRmCleansUp) {
  World w;
  std::string id = run_d(w, {"--backend", "mock", "--", "sleep", "600"});
  Json j = w.inspect(id);
  ASSERT_TRUE(j["State"].contains("MonitorPid"));
  pid_t monitor = j["State"]["MonitorPid"].get<pid_t>();
  ASSERT_EQ(::kill(monitor, SIGKILL), 0);
  for (int i = 0; i < 100 && ::kill(monitor, 0) == 0; ++i) std::this_thread::sleep_for(20ms);
  auto ps = w.kb({"ps", "-a"});
  EXPECT_NE(ps->out.find("crashed"), std::string::npos) << ps->out;
  EXPECT_NE(w.inspect(id)["State"]["Reason"].get<std::string>().find("monitor"), std::string::npos);
  ASSERT_EQ(w.kb({"rm", id})->status.code, 0);
  EXPECT_TRUE(dir_entries(join_path(w.data(), "lifecycle")).empty());
}

TEST(LifecycleMockTest, SecretsReachTheWorkloadAndNothingElse) {
  World w;
  const std::string value = "s3cret-" + std::to_string(::getpid()) + "-value";
  std::string file = join_path(w.data(), "../secret-file");
  ASSERT_TRUE(write_file_atomic(file, "from-file-" + value + "\n").ok());
  std::string id = run_d(w, {"--backend", "mock", "--secret", "TOKEN=" + value, "--secret", "FROMFILE=@" + file, "-e",
                             "PLAIN=visible", "--", "sh", "-c", "echo main ran; sleep 600"});
  auto exec = w.kb({"exec", id, "--", "sh", "-c", "echo \"$TOKEN|$FROMFILE|$PLAIN\""});
  EXPECT_EQ(exec->out, value + "|from-file-" + value + "|visible\n");
  Json j = w.inspect(id);
  EXPECT_EQ(j["Secrets"], Json::array({"TOKEN", "FROMFILE"}));
  auto inspect = w.kb({"inspect", id});
  EXPECT_EQ(inspect->out.find(value), std::string::npos);
  EXPECT_EQ(w.kb({"logs", id})->out.find(value), std::string::npos);
  EXPECT_EQ(w.kb({"ps", "-a", "--format", "json"})->out.find(value), std::string::npos);
  ASSERT_TRUE(::unlink(file.c_str()) == 0);
  EXPECT_EQ(files_containing(w.data(), value), std::vector<std::string>{});
  EXPECT_EQ(files_containing(w.run(), value), std::vector<std::string>{});
  // Stopped, its monitor is gone and so are the values: start asks for them again.
  ASSERT_EQ(w.kb({"stop", "-t", "1", id})->status.code, 0);
  auto again = w.kb({"start", id});
  EXPECT_EQ(again->status.code, 125);
  EXPECT_NE(again->err.find("TOKEN"), std::string::npos);
  EXPECT_EQ(w.kb({"start", "--secret", "TOKEN=x", "--secret", "FROMFILE=y", id})->status.code, 0);
  EXPECT_EQ(w.kb({"exec", id, "--", "sh", "-c", "echo $TOKEN"})->out, "x\n");
}

TEST(LifecycleMockTest, ShStopsAtTheFirstFailure) {
  World w;
  std::string script = "echo one\n\n# a comment\necho two\nsh -c 'exit 3'\necho four\n";
  auto out = w.kb({"sh", "--backend", "mock", "--rootfs", "/"}, script);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status.code, 3);
  EXPECT_EQ(out->out, "one\ntwo\n");
  EXPECT_NE(out->err.find("line 5"), std::string::npos);
  auto all = w.kb({"sh", "--backend", "mock", "--rootfs", "/", "--keep-going"}, script);
  EXPECT_EQ(all->status.code, 3);
  EXPECT_EQ(all->out, "one\ntwo\nfour\n");
  auto bad_shell = w.kb({"sh", "--backend", "mock", "--rootfs", "/", "--shell", "/no/shell"}, "true\n");
  EXPECT_EQ(bad_shell->status.code, 125);
  EXPECT_NE(bad_shell->err.find("--shell"), std::string::npos);
  EXPECT_EQ(w.kb({"sh", "--backend", "mock", "--rootfs", "/"}, "# nothing\n\n")->status.code, 0);
}

// ---- native: the real thing ----

TEST(LifecycleNativeTest, FullLifecycleWithPortsAndLogs) {
  SKIP_WITHOUT_NATIVE();
  World w;
  std::string id =
      run_d(w, {"--backend", "native", "--rootfs", bundled_rootfs(), "--name", "web", "-p", "0:8080", "--", "sh", "-c",
                "mkdir -p /tmp/w && echo hello-port > /tmp/w/index.html && echo serving && "
                "exec httpd -f -p 8080 -h /tmp/w"});
  ASSERT_EQ(id.size(), 64u);
  Json j = w.inspect("web");
  ASSERT_EQ(j["Ports"].size(), 1u);
  std::string port_desc = j["Ports"][0];  // 127.0.0.1:PORT->8080/tcp
  uint16_t port = static_cast<uint16_t>(std::stoi(port_desc.substr(10, port_desc.find("->") - 10)));
  EXPECT_NE(port, 0);
  EXPECT_NE(w.kb({"ps"})->out.find(port_desc), std::string::npos);
  // The published port answers.
  std::string answer;
  for (int attempt = 0; attempt < 100 && answer.find("hello-port") == std::string::npos; ++attempt) {
    std::this_thread::sleep_for(100ms);
    UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) continue;
    std::string req = "GET /index.html HTTP/1.0\r\n\r\n";
    (void)write_all(s.get(), req.data(), req.size());
    char buf[4096];
    answer.clear();
    for (ssize_t n; (n = ::read(s.get(), buf, sizeof buf)) > 0;) answer.append(buf, static_cast<size_t>(n));
  }
  EXPECT_NE(answer.find("hello-port"), std::string::npos) << answer;
  EXPECT_EQ(w.kb({"exec", "web", "--", "cat", "/tmp/w/index.html"})->out, "hello-port\n");
  EXPECT_EQ(w.kb({"exec", "web", "--", "sh", "-c", "exit 42"})->status.code, 42);
  EXPECT_EQ(w.kb({"logs", "web"})->out, "serving\n");
  ASSERT_EQ(w.kb({"stop", "web"})->status.code, 0);
  EXPECT_EQ(w.state("web"), "stopped");
  ASSERT_EQ(w.kb({"rm", "web"})->status.code, 0);
  EXPECT_EQ(mounts_mentioning(w.run()), "");
  EXPECT_TRUE(processes_mentioning(id.substr(0, 12)).empty());
}

TEST(LifecycleNativeTest, PauseFreezesTheWorkloadAndUnpauseThawsIt) {
  SKIP_WITHOUT_NATIVE();
  World w;
  // A counter the workload bumps every 20 ms in a volume: frozen, it must not move.
  auto out = TempDir::create("krunbox-ticker-");
  ASSERT_TRUE(out.ok());
  std::string counter = out->path() + "/n";
  std::string id =
      run_d(w, {"--backend", "native", "--rootfs", bundled_rootfs(), "--name", "ticker", "-v", out->path() + ":/out",
                "--", "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /out/n; sleep 0.02; done"});
  ASSERT_EQ(id.size(), 64u);
  std::this_thread::sleep_for(200ms);
  auto paused = w.kb({"pause", "ticker"});
  ASSERT_EQ(paused->status.code, 0) << paused->err;
  EXPECT_EQ(w.state("ticker"), "paused");
  EXPECT_NE(w.kb({"ps"})->out.find("ticker"), std::string::npos);  // still listed without -a
  auto again = w.kb({"pause", "ticker"});
  EXPECT_EQ(again->status.code, 125);
  EXPECT_NE(again->err.find("already paused"), std::string::npos) << again->err;
  auto refused = w.kb({"exec", "ticker", "--", "true"});
  EXPECT_NE(refused->status.code, 0);
  EXPECT_NE(refused->err.find("paused"), std::string::npos) << refused->err;
  auto first = read_file(counter, 64);
  ASSERT_TRUE(first.ok()) << first.error().what();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(read_file(counter, 64).value_or(""), *first);
  auto resumed = w.kb({"unpause", "ticker"});
  ASSERT_EQ(resumed->status.code, 0) << resumed->err;
  EXPECT_EQ(w.state("ticker"), "running");
  std::this_thread::sleep_for(300ms);
  EXPECT_NE(read_file(counter, 64).value_or(""), *first);
  EXPECT_NE(w.kb({"unpause", "ticker"})->err.find("not paused"), std::string::npos);
  // Stop works from paused too, without waiting out the grace period on a frozen workload.
  ASSERT_EQ(w.kb({"pause", "ticker"})->status.code, 0);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(w.kb({"stop", "-t", "5", "ticker"})->status.code, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 4s);
  EXPECT_EQ(w.state("ticker"), "stopped");
  ASSERT_EQ(w.kb({"rm", "ticker"})->status.code, 0);
}

TEST(LifecycleNativeTest, FiftyConcurrentExecsAllGetTheirOwnOutput) {
  SKIP_WITHOUT_NATIVE();
  World w;
  std::string id = run_d(w, {"--backend", "native", "--rootfs", bundled_rootfs(), "--", "sleep", "600"});
  constexpr int kExecs = 50;
  std::vector<std::thread> threads;
  std::atomic<int> correct{0};
  std::vector<std::string> wrong(kExecs);
  for (int i = 0; i < kExecs; ++i) {
    threads.emplace_back([&, i] {
      std::string n = std::to_string(i);
      auto out =
          w.kb({"exec", id, "--", "sh", "-c",
                "echo start-" + n + "; echo err-" + n + " >&2; echo end-" + n + "; exit " + std::to_string(i % 5)});
      if (out.ok() && out->out == "start-" + n + "\nend-" + n + "\n" && out->err == "err-" + n + "\n" &&
          out->status.code == i % 5)
        ++correct;
      else
        wrong[i] = out.ok() ? out->out + "|" + out->err + "|" + std::to_string(out->status.code) : out.error().what();
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < kExecs; ++i) EXPECT_EQ(wrong[i], "") << "exec " << i;
  EXPECT_EQ(correct.load(), kExecs);
}

TEST(LifecycleNativeTest, TwentySandboxesAtOnce) {
  SKIP_WITHOUT_NATIVE();
  World w;
  constexpr int kCount = 20;
  std::vector<std::string> ids(kCount);
  // Started one after another, then all running at once (concurrent starts:
  // ConcurrentStartsInTwoWorldsLeaveEachOtherAlone).
  for (int i = 0; i < kCount; ++i) {
    auto out = w.kb({"run", "-d", "--backend", "native", "--rootfs", bundled_rootfs(), "--name",
                     "many-" + std::to_string(i), "--", "sleep", "600"});
    if (out.ok() && out->status.code == 0) ids[i] = trim(out->out);
  }
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(ids[i].size(), 64u) << "sandbox " << i;
  auto ps = w.kb({"ps", "--format", "json"});
  auto rows = parse_json(ps->out, "ps");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    auto e = w.kb({"exec", "many-" + std::to_string(i), "--", "hostname"});
    EXPECT_EQ(e->status.code, 0) << e->err;
  }
  std::vector<std::string> rm = {"rm", "-f"};
  rm.insert(rm.end(), ids.begin(), ids.end());
  auto removed = w.kb(rm);
  EXPECT_EQ(removed->status.code, 0) << removed->err;
  EXPECT_EQ(trim(w.kb({"ps", "-a", "-q"})->out), "");
  EXPECT_EQ(mounts_mentioning(w.run()), "");
  EXPECT_TRUE(dir_entries(join_path(w.run(), "sandboxes")).empty());
}

// What a server does: many `run -d` at once, from the default image (each
// makes an image root), in two worlds (KRUNBOX_ROOT/KRUNBOX_RUN_DIR) side
// by side, one world removing all its sandboxes while the other starts
// more. Every start-up runs the leftover sweeps; none may take a sandbox
// being created, or the other world's, for a leftover.
TEST(LifecycleNativeTest, ConcurrentStartsInTwoWorldsLeaveEachOtherAlone) {
  SKIP_WITHOUT_NATIVE();
  World a, b;
  const std::string marker = std::to_string(800000 + ::getpid() % 90000);  // a sleep only this test runs
  auto start_many = [&](const World& w, int count, std::vector<std::string>& ids) {
    std::vector<std::string> out(count);
    std::vector<std::string> errors(count);
    std::vector<std::thread> threads;
    for (int i = 0; i < count; ++i)
      threads.emplace_back([&, i] {
        auto r = w.kb({"run", "-d", "--backend", "native", "--", "sleep", marker}, "", 600s);
        if (r.ok() && r->status.code == 0) out[i] = trim(r->out);
        else errors[i] = r.ok() ? r->err : r.error().what();
      });
    for (auto& t : threads) t.join();
    for (int i = 0; i < count; ++i) {
      EXPECT_EQ(out[i].size(), 64u) << "start " << i << ": " << errors[i];
      if (out[i].size() == 64) ids.push_back(out[i]);
    }
  };
  auto running = [](const World& w) {
    auto ps = w.kb({"ps", "-a", "--format", "json"});
    std::map<std::string, int> states;
    auto rows = parse_json(ps.ok() ? ps->out : "", "ps");
    if (rows.ok())
      for (const auto& r : *rows) ++states[r.value("state", std::string("?"))];
    return states;
  };
  std::vector<std::string> ids_a, ids_b;
  {
    std::thread other([&] { start_many(b, 10, ids_b); });
    start_many(a, 30, ids_a);
    other.join();
  }
  EXPECT_EQ(running(a), (std::map<std::string, int>{{"running", 30}}));
  EXPECT_EQ(running(b), (std::map<std::string, int>{{"running", 10}}));
  // b removes everything (each rm sweeps too) while a starts ten more.
  {
    std::thread remover([&] {
      std::vector<std::thread> rms;
      for (const auto& id : ids_b) rms.emplace_back([&b, id] { (void)b.kb({"rm", "-f", id}); });
      for (auto& t : rms) t.join();
    });
    start_many(a, 10, ids_a);
    remover.join();
  }
  EXPECT_EQ(running(a), (std::map<std::string, int>{{"running", 40}}));
  EXPECT_TRUE(running(b).empty());
  for (const auto& id : ids_a) {
    auto e = a.kb({"exec", id, "--", "true"});
    EXPECT_EQ(e->status.code, 0) << id << ": " << e->err;
  }
  std::vector<std::string> rm = {"rm", "-f"};
  rm.insert(rm.end(), ids_a.begin(), ids_a.end());
  auto removed = a.kb(rm, "", 600s);
  EXPECT_EQ(removed->status.code, 0) << removed->err;
  // Nothing of either world is left: records, run dirs, roots, mounts, cgroups, processes.
  for (const World* w : {&a, &b}) {
    EXPECT_EQ(trim(w->kb({"ps", "-a", "-q"})->out), "");
    EXPECT_EQ(mounts_mentioning(w->run()), "");
    EXPECT_EQ(mounts_mentioning(w->data()), "");
    EXPECT_TRUE(dir_entries(join_path(w->run(), "sandboxes")).empty());
    EXPECT_TRUE(dir_entries(join_path(w->data(), "roots")).empty());
  }
  for (const auto& id : ids_a)
    for (const char* c : {"memory", "cpu", "pids", "freezer", "devices"})
      EXPECT_FALSE(path_exists(std::string("/sys/fs/cgroup/") + c + "/krunbox/" + id)) << c << " " << id;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!processes_mentioning("sleep " + marker).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(processes_mentioning("sleep " + marker).empty());
}

TEST(LifecycleNativeTest, KilledMonitorIsCrashedAndRmLeavesNothing) {
  SKIP_WITHOUT_NATIVE();
  World w;
  std::string mounts_before = mounts_mentioning(w.run());
  auto run_before = dir_entries(join_path(w.run(), "sandboxes"));
  const std::string marker = std::to_string(900000 + ::getpid() % 90000);  // a sleep only this test runs
  std::string id = run_d(w, {"--backend", "native", "--rootfs", bundled_rootfs(), "--", "sleep", marker});
  ASSERT_EQ(w.kb({"exec", id, "--", "true"})->status.code, 0);
  EXPECT_FALSE(processes_mentioning("sleep " + marker).empty());
  pid_t monitor = w.inspect(id)["State"]["MonitorPid"].get<pid_t>();
  ASSERT_EQ(::kill(monitor, SIGKILL), 0);
  for (int i = 0; i < 200 && ::kill(monitor, 0) == 0; ++i) std::this_thread::sleep_for(20ms);
  auto ps = w.kb({"ps", "-a"});
  EXPECT_NE(ps->out.find("crashed"), std::string::npos) << ps->out;
  EXPECT_EQ(w.state(id), "crashed");
  auto rm = w.kb({"rm", id});
  ASSERT_EQ(rm->status.code, 0) << rm->err;
  EXPECT_EQ(mounts_mentioning(w.run()), mounts_before);
  EXPECT_EQ(dir_entries(join_path(w.run(), "sandboxes")), run_before);
  EXPECT_TRUE(dir_entries(join_path(w.run(), "monitors")).empty());
  EXPECT_TRUE(dir_entries(join_path(w.data(), "lifecycle")).empty());
  // No process of the sandbox survives (its sleep ran in the sandbox's cgroup / pid namespace).
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!processes_mentioning("sleep " + marker).empty() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(processes_mentioning("sleep " + marker).empty());
}

TEST(LifecycleNativeTest, SecretsAreNotInStateLogsOrInspect) {
  SKIP_WITHOUT_NATIVE();
  World w;
  const std::string value = "native-secret-" + std::to_string(::getpid());
  std::string id = run_d(w, {"--backend", "native", "--rootfs", bundled_rootfs(), "--secret", "API_KEY=" + value,
                             "--restart", "on-failure:1", "--", "sh", "-c", "echo started; sleep 600"});
  EXPECT_EQ(w.kb({"exec", id, "--", "sh", "-c", "echo $API_KEY"})->out, value + "\n");
  EXPECT_EQ(w.kb({"inspect", id})->out.find(value), std::string::npos);
  EXPECT_EQ(w.kb({"logs", id})->out.find(value), std::string::npos);
  EXPECT_EQ(files_containing(w.data(), value), std::vector<std::string>{});
  EXPECT_EQ(files_containing(w.run(), value), std::vector<std::string>{});
}

TEST(LifecycleNativeTest, ShRunsTwoThenStopsAtTheFailingThird) {
  SKIP_WITHOUT_NATIVE();
  World w;
  auto out = w.kb({"sh", "--backend", "native", "--rootfs", bundled_rootfs(), "--workdir", "/tmp"},
                  "echo one > f\ncat f\nfalse\necho never\n");
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->status.code, 1);
  EXPECT_EQ(out->out, "one\n");
  EXPECT_EQ(out->err.find("never"), std::string::npos);
}

}  // namespace
}  // namespace krunbox
