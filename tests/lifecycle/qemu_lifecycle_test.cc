// Long-lived sandboxes on the qemu backend (TCG here, so one boot per case,
// few cases): the full lifecycle, a secret that stays off QEMU's command
// line, a killed monitor, and rm leaving no QEMU process behind.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "base/process_ref.h"
#include "base/subprocess.h"
#include "lifecycle_env.h"

namespace krunbox {
namespace {

using lifecycle_test::bundled_rootfs;
using lifecycle_test::dir_entries;
using lifecycle_test::trim;
using lifecycle_test::World;
using namespace std::chrono_literals;

// The QEMU processes of the world's sandboxes, as the qemu backend records
// them (<run>/qemu/<id>/state.json), that are still alive.
std::vector<ProcessRef> live_qemus(const World& w) {
  std::vector<ProcessRef> out;
  for (const auto& id : dir_entries(join_path(w.run(), "qemu"))) {
    auto j = read_json_file(join_path(join_path(w.run(), "qemu"), id + "/state.json"));
    if (!j.ok() || !j->contains("qemu")) continue;
    ProcessRef p{(*j)["qemu"]["pid"].get<pid_t>(), (*j)["qemu"]["start_time"].get<uint64_t>()};
    if (process_alive(p)) out.push_back(p);
  }
  return out;
}

TEST(LifecycleQemuTest, FullLifecycleSecretsAndCrashCleanup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!is_directory(bundled_rootfs())) GTEST_SKIP() << "no bundled rootfs; run scripts/setup.sh";
  World w;
  const std::string value = "qemu-secret-" + std::to_string(::getpid());
  auto created = w.kb({"create", "--backend", "qemu", "--rootfs", bundled_rootfs(), "--name", "vm", "--secret",
                       "TOKEN=" + value, "--", "sh", "-c", "echo vm-main; sleep 3600"});
  ASSERT_TRUE(created.ok());
  if (created->status.code != 0 && created->err.find("not usable") != std::string::npos) GTEST_SKIP() << created->err;
  ASSERT_EQ(created->status.code, 0) << created->err;
  std::string id = trim(created->out);
  auto started = w.kb({"start", "vm"}, "", 900s);
  ASSERT_EQ(started->status.code, 0) << started->err;
  EXPECT_EQ(w.state("vm"), "running");

  auto exec = w.kb({"exec", "vm", "--", "sh", "-c", "echo $TOKEN; exit 5"}, "", 300s);
  EXPECT_EQ(exec->status.code, 5);
  EXPECT_EQ(exec->out, value + "\n");
  EXPECT_EQ(w.kb({"exec", "-i", "vm", "--", "cat"}, "in the vm\n", 300s)->out, "in the vm\n");
  EXPECT_EQ(w.kb({"inspect", "vm"})->out.find(value), std::string::npos);
  auto vms = live_qemus(w);
  ASSERT_EQ(vms.size(), 1u) << "one QEMU for this sandbox";
  auto cmdline = read_file("/proc/" + std::to_string(vms[0].pid) + "/cmdline", 1u << 20);
  ASSERT_TRUE(cmdline.ok());
  EXPECT_NE(cmdline->find("qemu-system"), std::string::npos);
  EXPECT_EQ(cmdline->find(value), std::string::npos) << "the secret is on QEMU's command line";
  for (int i = 0; i < 300 && w.kb({"logs", "vm"})->out.empty(); ++i) std::this_thread::sleep_for(100ms);
  EXPECT_EQ(w.kb({"logs", "vm"})->out, "vm-main\n");

  // pause / unpause (QMP stop / cont): the guest's clock stands still while paused.
  auto uptime = [&] {
    return std::stod(w.kb({"exec", "vm", "--", "cut", "-d", " ", "-f1", "/proc/uptime"}, "", 300s)->out);
  };
  double guest_before = uptime();
  auto host_before = std::chrono::steady_clock::now();
  auto paused = w.kb({"pause", "vm"});
  ASSERT_EQ(paused->status.code, 0) << paused->err;
  EXPECT_EQ(w.state("vm"), "paused");
  EXPECT_NE(w.kb({"exec", "vm", "--", "true"})->err.find("is paused"), std::string::npos);
  std::this_thread::sleep_for(2s);
  ASSERT_EQ(w.kb({"unpause", "vm"})->status.code, 0);
  EXPECT_EQ(w.state("vm"), "running");
  double guest_elapsed = uptime() - guest_before;
  double host_elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - host_before).count();
  EXPECT_LT(guest_elapsed, host_elapsed - 1.0) << "guest " << guest_elapsed << " s, host " << host_elapsed << " s";

  // stop / start again (a new boot), then kill -9 the monitor.
  ASSERT_EQ(w.kb({"stop", "-t", "2", "vm"}, "", 300s)->status.code, 0);
  EXPECT_EQ(w.state("vm"), "stopped");
  EXPECT_FALSE(process_alive(vms[0])) << "stop left QEMU running";
  ASSERT_EQ(w.kb({"start", "--secret", "TOKEN=again", "vm"}, "", 900s)->status.code, 0);
  EXPECT_EQ(w.kb({"exec", "vm", "--", "sh", "-c", "echo $TOKEN"}, "", 300s)->out, "again\n");
  auto second = live_qemus(w);
  ASSERT_EQ(second.size(), 1u);
  pid_t monitor = w.inspect("vm")["State"]["MonitorPid"].get<pid_t>();
  ASSERT_EQ(::kill(monitor, SIGKILL), 0);
  for (int i = 0; i < 200 && ::kill(monitor, 0) == 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(w.state("vm"), "crashed");
  auto rm = w.kb({"rm", "vm"}, "", 300s);
  ASSERT_EQ(rm->status.code, 0) << rm->err;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (process_alive(second[0]) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(process_alive(second[0])) << "rm left QEMU running";
  EXPECT_EQ(trim(w.kb({"ps", "-a", "-q"})->out), "");
  (void)id;
}

// What a user types to serve from a microVM, and curl from the host.
TEST(LifecycleQemuTest, PublishedPortAnswersCurlFromTheHost) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!is_directory(bundled_rootfs())) GTEST_SKIP() << "no bundled rootfs; run scripts/setup.sh";
  auto curl = find_program("curl");
  ASSERT_TRUE(curl) << "curl is not installed (scripts/setup.sh installs it)";
  World w;
  auto created = w.kb({"run", "-d", "--backend", "qemu", "--name", "web", "-p", "127.0.0.1:0:8080", "--rootfs",
                       bundled_rootfs(), "--", "sh", "-c",
                       "mkdir -p /www && echo served-from-the-vm > /www/index.html && exec httpd -f -p 8080 -h /www"},
                      "", 900s);
  ASSERT_TRUE(created.ok());
  ASSERT_EQ(created->status.code, 0) << created->err;
  // The host port krunbox picked, as ps and inspect show it.
  Json ports = w.inspect("web")["Ports"];  // ["127.0.0.1:HOST->8080/tcp"]
  ASSERT_TRUE(ports.is_array() && ports.size() == 1u) << w.inspect("web").dump();
  std::string binding = ports[0].get<std::string>();
  auto colon = binding.find(':'), arrow = binding.find("->");
  ASSERT_TRUE(colon != std::string::npos && arrow != std::string::npos) << binding;
  std::string host_port = binding.substr(colon + 1, arrow - colon - 1);
  ASSERT_NE(host_port, "0");
  std::string body;
  for (int i = 0; i < 100 && body.empty(); ++i) {
    RunOptions o;
    o.timeout = 10s;
    auto got = run_capture({*curl, "-sS", "--max-time", "5", "http://127.0.0.1:" + host_port + "/index.html"}, o);
    if (got.ok() && got->status.success()) body = got->out;
    else std::this_thread::sleep_for(200ms);
  }
  EXPECT_EQ(body, "served-from-the-vm\n");
  ASSERT_EQ(w.kb({"rm", "-f", "web"}, "", 300s)->status.code, 0);
}

// A workload that panics the guest kernel: `run` says what the console
// said (the reported case only said the agent had closed the connection),
// with the guest's bytes defused for the terminal.
TEST(LifecycleQemuTest, GuestPanicReportsTheConsoleTail) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!is_directory(bundled_rootfs())) GTEST_SKIP() << "no bundled rootfs; run scripts/setup.sh";
  World w;
  auto r = w.kb({"run", "--backend", "qemu", "--rootfs", bundled_rootfs(), "--", "sh", "-c",
                 "printf '\\033]52;c;aGk=\\007' > /dev/console; echo c > /proc/sysrq-trigger; sleep 30"},
                "", 600s);
  ASSERT_TRUE(r.ok());
  if (r->status.code != 0 && r->err.find("not usable") != std::string::npos) GTEST_SKIP() << r->err;
  EXPECT_NE(r->status.code, 0);
  EXPECT_NE(r->err.find("guest console"), std::string::npos) << r->err;
  EXPECT_NE(r->err.find("sysrq"), std::string::npos) << r->err;
  EXPECT_EQ(r->err.find('\x1b'), std::string::npos) << "a raw escape from the guest reached the terminal";
  EXPECT_EQ(r->err.find('\x07'), std::string::npos);
}


// Eight microVMs started at once from the default image (each makes an image
// root and a disk from it): all run and answer exec, and rm -f of all leaves
// no QEMU, mount, run dir or record behind.
TEST(LifecycleQemuTest, EightAtOnceAndNothingLeftAfterRemoval) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!is_directory(bundled_rootfs())) GTEST_SKIP() << "no bundled rootfs; run scripts/setup.sh";
  constexpr int kCount = 8;
  World w;
  std::vector<std::string> ids(kCount), errors(kCount);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kCount; ++i)
      threads.emplace_back([&, i] {
        auto r = w.kb({"run", "-d", "--backend", "qemu", "--memory", "256", "--name", "vm-" + std::to_string(i), "--",
                       "sleep", "3600"},
                      "", 900s);
        if (r.ok() && r->status.code == 0) ids[i] = trim(r->out);
        else errors[i] = r.ok() ? r->err : r.error().what();
      });
    for (auto& t : threads) t.join();
  }
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(ids[i].size(), 64u) << "vm-" << i << ": " << errors[i];
  for (int i = 0; i < kCount; ++i) EXPECT_EQ(w.state("vm-" + std::to_string(i)), "running");
  EXPECT_EQ(live_qemus(w).size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    auto e = w.kb({"exec", "vm-" + std::to_string(i), "--", "hostname"}, "", 300s);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->status.code, 0) << e->err;
  }
  auto vms = live_qemus(w);
  std::vector<std::string> rm = {"rm", "-f"};
  rm.insert(rm.end(), ids.begin(), ids.end());
  auto removed = w.kb(rm, "", 600s);
  ASSERT_EQ(removed->status.code, 0) << removed->err;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  auto any_alive = [&] {
    for (const auto& p : vms)
      if (process_alive(p)) return true;
    return false;
  };
  while (any_alive() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  EXPECT_FALSE(any_alive()) << "rm -f left QEMU running";
  EXPECT_EQ(trim(w.kb({"ps", "-a", "-q"})->out), "");
  EXPECT_TRUE(dir_entries(join_path(w.run(), "qemu")).empty());
  EXPECT_TRUE(dir_entries(join_path(w.data(), "roots")).empty());
  auto mounts = read_file("/proc/self/mountinfo", 1u << 22);
  ASSERT_TRUE(mounts.ok());
  EXPECT_EQ(mounts->find(w.data()), std::string::npos) << "a mount under the data root is left";
  EXPECT_EQ(mounts->find(w.run()), std::string::npos) << "a mount under the run dir is left";
}

}  // namespace
}  // namespace krunbox
