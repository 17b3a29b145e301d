// Checkpoints of qemu sandboxes, as a user drives them with the CLI: a
// workload that goes on counting after a restore, tmpfs contents that
// survive, forks that diverge and draw different random numbers, and
// damaged or refused checkpoints that fail with a clear error.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <thread>

#include "lifecycle_env.h"

namespace krunbox {
namespace {

using lifecycle_test::bundled_rootfs;
using lifecycle_test::dir_entries;
using lifecycle_test::trim;
using lifecycle_test::World;
using namespace std::chrono_literals;

// The counter writes its count every 0.1 s.
const std::vector<std::string> kCounter = {"sh", "-c",
                                           "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done"};

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (!is_directory(bundled_rootfs())) GTEST_SKIP() << "no bundled rootfs; run scripts/setup.sh";
  }

  // A running qemu sandbox named `name` running the counter; false (with a
  // failure recorded) if it could not be made.
  bool start_counter(World& w, const std::string& name) {
    std::vector<std::string> args = {"run",    "-d", "--backend", "qemu", "--rootfs", bundled_rootfs(),
                                     "--name", name, "--"};
    args.insert(args.end(), kCounter.begin(), kCounter.end());
    auto r = w.kb(args, "", 900s);
    EXPECT_TRUE(r.ok());
    if (!r.ok()) return false;
    EXPECT_EQ(r->status.code, 0) << r->err;
    return r->status.code == 0;
  }

  std::string exec(const World& w, const std::string& name, const std::string& script, int* code = nullptr) {
    auto r = w.kb({"exec", name, "--", "sh", "-c", script}, "", 300s);
    if (!r.ok()) return "(exec failed to run)";
    if (code) *code = r->status.code;
    return trim(r->out);
  }

  // The counter's `echo $i > /tmp/count` truncates before it writes: a read
  // that meets it empty waits for the next line.
  long count(const World& w, const std::string& name) {
    std::string out = exec(w, name, "for i in 1 2 3 4 5 6 7 8 9 10; do test -s /tmp/count && break; sleep 0.05; done; cat /tmp/count");
    char* end = nullptr;
    long n = std::strtol(out.c_str(), &end, 10);
    return end && *end == '\0' && !out.empty() ? n : -1;
  }

  // Waits until the counter of `name` has reached `at_least`.
  bool counted_to(const World& w, const std::string& name, long at_least) {
    for (int i = 0; i < 600; ++i) {
      if (count(w, name) >= at_least) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
};

TEST_F(CheckpointTest, RestoredWorkloadGoesOnAndForksDiverge) {
  World w;
  ASSERT_TRUE(start_counter(w, "src"));
  ASSERT_TRUE(counted_to(w, "src", 5));
  EXPECT_EQ(exec(w, "src", "echo before > /tmp/note && cat /tmp/note"), "before");

  auto cp = w.kb({"checkpoint", "src", "cp1"}, "", 600s);
  ASSERT_TRUE(cp.ok());
  ASSERT_EQ(cp->status.code, 0) << cp->err;
  EXPECT_EQ(trim(cp->out), "cp1");
  EXPECT_TRUE(w.wait_state("src", "stopped")) << "the checkpointed sandbox stops: " << w.state("src");

  auto ls = w.kb({"checkpoint", "ls"});
  EXPECT_NE(ls->out.find("cp1"), std::string::npos) << ls->out;
  auto inspected = w.kb({"checkpoint", "inspect", "cp1"});
  ASSERT_EQ(inspected->status.code, 0) << inspected->err;
  auto doc = parse_json(inspected->out, "checkpoint inspect");
  ASSERT_TRUE(doc.ok() && doc->is_array() && doc->size() == 1) << inspected->out;
  EXPECT_EQ((*doc)[0].value("source_name", ""), "src");
  EXPECT_EQ((*doc)[0].value("backend", ""), "qemu");
  EXPECT_GT((*doc)[0].value("size_bytes", uint64_t{0}), 0u);

  for (const char* fork : {"a", "b"}) {
    auto r = w.kb({"run", "-d", "--from-checkpoint", "cp1", "--name", fork}, "", 900s);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status.code, 0) << r->err;
  }
  // The counter was not started again: it goes on from where it was saved.
  long a1 = count(w, "a");
  EXPECT_GE(a1, 5) << "the restored counter starts over";
  ASSERT_TRUE(counted_to(w, "a", a1 + 3)) << "the restored counter does not count";
  EXPECT_EQ(exec(w, "a", "cat /tmp/note"), "before") << "the tmpfs file is lost";
  EXPECT_EQ(exec(w, "b", "cat /tmp/note"), "before");

  // Two forks: a write in one is not seen in the other.
  EXPECT_EQ(exec(w, "a", "echo in-a > /tmp/fork && cat /tmp/fork"), "in-a");
  int code = 0;
  exec(w, "b", "test -e /tmp/fork", &code);
  EXPECT_NE(code, 0) << "b sees a's write";
  EXPECT_EQ(exec(w, "b", "echo in-b > /tmp/fork && cat /tmp/fork"), "in-b");
  EXPECT_EQ(exec(w, "a", "cat /tmp/fork"), "in-a");

  // Each has its own identity and random numbers.
  EXPECT_EQ(exec(w, "a", "hostname"), "a");
  EXPECT_EQ(exec(w, "b", "hostname"), "b");
  std::string ra = exec(w, "a", "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'");
  std::string rb = exec(w, "b", "head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n'");
  EXPECT_EQ(ra.size(), 64u) << ra;
  EXPECT_NE(ra, rb) << "two forks of one checkpoint read the same random bytes";
  // The guest clock follows the host's, not the checkpoint's.
  long guest_now = std::strtol(exec(w, "a", "date +%s").c_str(), nullptr, 10);
  EXPECT_LE(std::labs(guest_now - static_cast<long>(::time(nullptr))), 5);
  // Still a VM: the guest's kernel, not the host's.
  utsname host{};
  ::uname(&host);
  EXPECT_NE(exec(w, "a", "uname -r"), host.release);

  Json a = w.inspect("a");
  EXPECT_EQ(a.value("Checkpoint", ""), "cp1");
  EXPECT_EQ(a.value("Backend", ""), "qemu");

  // A checkpoint that sandboxes start from stays.
  auto rm = w.kb({"checkpoint", "rm", "cp1"});
  EXPECT_NE(rm->status.code, 0);
  EXPECT_NE(rm->err.find("remove that sandbox first"), std::string::npos) << rm->err;
  // A restored sandbox stops and starts again from its checkpoint.
  ASSERT_EQ(w.kb({"stop", "-t", "0", "b"}, "", 300s)->status.code, 0);
  ASSERT_EQ(w.kb({"start", "b"}, "", 900s)->status.code, 0);
  EXPECT_EQ(exec(w, "b", "cat /tmp/note; test -e /tmp/fork || echo fresh"), "before\nfresh");
  ASSERT_EQ(w.kb({"rm", "-f", "a", "b", "src"}, "", 300s)->status.code, 0);
  rm = w.kb({"checkpoint", "rm", "cp1"});
  EXPECT_EQ(rm->status.code, 0) << rm->err;
  EXPECT_FALSE(path_exists(join_path(w.data(), "checkpoints/cp1")));
}

TEST_F(CheckpointTest, LeaveRunningKeepsTheSandbox) {
  World w;
  ASSERT_TRUE(start_counter(w, "live"));
  ASSERT_TRUE(counted_to(w, "live", 2));
  auto cp = w.kb({"checkpoint", "--leave-running", "live", "live-cp"}, "", 600s);
  ASSERT_EQ(cp->status.code, 0) << cp->err;
  EXPECT_EQ(w.state("live"), "running");
  long before = count(w, "live");
  EXPECT_TRUE(counted_to(w, "live", before + 3)) << "the sandbox stopped counting after its checkpoint";
  // A second checkpoint of the same name is refused, and the first stays whole.
  auto again = w.kb({"checkpoint", "--leave-running", "live", "live-cp"}, "", 600s);
  EXPECT_NE(again->status.code, 0);
  EXPECT_NE(again->err.find("exists already"), std::string::npos) << again->err;
  auto restored = w.kb({"run", "-d", "--from-checkpoint", "live-cp", "--name", "twin"}, "", 900s);
  ASSERT_EQ(restored->status.code, 0) << restored->err;
  EXPECT_GE(count(w, "twin"), 2);
}

TEST_F(CheckpointTest, DamagedAndRefusedCheckpointsFailClearly) {
  World w;
  ASSERT_TRUE(start_counter(w, "v"));
  ASSERT_TRUE(counted_to(w, "v", 1));

  auto bad_name = w.kb({"checkpoint", "--leave-running", "v", "../escape"});
  EXPECT_NE(bad_name->status.code, 0);
  EXPECT_NE(bad_name->err.find("is not 1-128 characters"), std::string::npos) << bad_name->err;
  auto no_sandbox = w.kb({"checkpoint", "nosuch", "x"});
  EXPECT_NE(no_sandbox->status.code, 0);
  EXPECT_NE(no_sandbox->err.find("nosuch"), std::string::npos) << no_sandbox->err;
  auto missing = w.kb({"run", "-d", "--from-checkpoint", "nosuch"});
  EXPECT_NE(missing->status.code, 0);
  EXPECT_NE(missing->err.find("no checkpoint named 'nosuch'"), std::string::npos) << missing->err;

  ASSERT_EQ(w.kb({"checkpoint", "--leave-running", "v", "good"}, "", 600s)->status.code, 0);
  auto with_command = w.kb({"run", "-d", "--from-checkpoint", "good", "--", "true"});
  EXPECT_NE(with_command->status.code, 0);
  EXPECT_NE(with_command->err.find("cannot be combined with a command"), std::string::npos) << with_command->err;
  auto without_d = w.kb({"run", "--from-checkpoint", "good"});
  EXPECT_NE(without_d->status.code, 0);
  EXPECT_NE(without_d->err.find("add -d"), std::string::npos) << without_d->err;

  // Copies of the good checkpoint, each damaged in one way (as a disk or a
  // careless hand would), fail to restore with the reason, and leave the
  // good one working.
  const std::string store = join_path(w.data(), "checkpoints");
  auto damaged = [&](const std::string& name, const std::string& how) {
    auto r = run_capture({"sh", "-c",
                          "cp -a " + store + "/good " + store + "/" + name + " && cd " + store + "/" + name +
                              " && sed -i 's/\"good\"/\"" + name + "\"/' checkpoint.json && " + how},
                         RunOptions{});
    EXPECT_TRUE(r.ok() && r->status.code == 0) << name;
    return w.kb({"run", "-d", "--from-checkpoint", name, "--name", "r-" + name}, "", 600s);
  };
  auto truncated = damaged("truncated", "truncate -s 4096 memory");
  EXPECT_NE(truncated->status.code, 0);
  EXPECT_NE(truncated->err.find("restoring"), std::string::npos) << truncated->err;
  auto no_disk = damaged("nodisk", "rm root.img");
  EXPECT_NE(no_disk->status.code, 0);
  EXPECT_NE(no_disk->err.find("root disk"), std::string::npos) << no_disk->err;
  auto other_qemu =
      damaged("otherqemu", "sed -i 's/\"qemu_version\": \"[^\"]*\"/\"qemu_version\": \"1.0.0\"/' engine.json");
  EXPECT_NE(other_qemu->status.code, 0);
  EXPECT_NE(other_qemu->err.find("made with QEMU 1.0.0"), std::string::npos) << other_qemu->err;
  auto garbage = damaged("garbage", "echo '{' > checkpoint.json");
  EXPECT_NE(garbage->status.code, 0);
  EXPECT_NE(garbage->err.find("damaged"), std::string::npos) << garbage->err;

  auto good = w.kb({"run", "-d", "--from-checkpoint", "good", "--name", "ok"}, "", 900s);
  ASSERT_EQ(good->status.code, 0) << good->err;
  EXPECT_GE(count(w, "ok"), 1);

  // Backends that cannot save a VM's state say so.
  auto native =
      w.kb({"run", "-d", "--backend", "native", "--rootfs", bundled_rootfs(), "--name", "n", "--", "sleep", "600"});
  if (native->status.code == 0) {
    auto refused = w.kb({"checkpoint", "n", "ncp"});
    EXPECT_NE(refused->status.code, 0);
    EXPECT_NE(refused->err.find("CRIU"), std::string::npos) << refused->err;
    EXPECT_FALSE(path_exists(join_path(store, "ncp")));
  }
}

TEST_F(CheckpointTest, PauseToDiskOutlivesItsMonitorAndResumes) {
  World w;
  ASSERT_TRUE(start_counter(w, "p"));
  ASSERT_TRUE(counted_to(w, "p", 3));
  EXPECT_EQ(exec(w, "p", "echo kept > /tmp/note && cat /tmp/note"), "kept");
  Json running = w.inspect("p");
  ASSERT_TRUE(running.is_object());
  const int monitor = running["State"].value("MonitorPid", 0);
  ASSERT_GT(monitor, 0);
  auto paused = w.kb({"pause", "--to-disk", "p"}, "", 600s);
  ASSERT_EQ(paused->status.code, 0) << paused->err;
  Json after = w.inspect("p");
  EXPECT_EQ(after["State"].value("Description", "").rfind("paused (on disk)", 0), 0u) << after.dump();
  EXPECT_TRUE(after["State"].value("PausedToDisk", false));
  // Nothing of it runs: no monitor, no QEMU, so nothing holds its memory.
  EXPECT_FALSE(after["State"].value("MonitorAlive", true));
  // As after a host reboot, no monitor of its earlier run is left (kill -9 of one that lingers).
  if (::kill(monitor, 0) == 0) ::kill(monitor, SIGKILL);
  EXPECT_TRUE(dir_entries(join_path(w.run(), "qemu")).empty()) << "a QEMU run dir is left";
  EXPECT_NE(w.kb({"exec", "p", "--", "true"})->status.code, 0);
  // A plain start is an unpause too; unpause is the way it is named.
  auto resumed = w.kb({"unpause", "p"}, "", 900s);
  ASSERT_EQ(resumed->status.code, 0) << resumed->err;
  EXPECT_EQ(w.state("p"), "running");
  long saved = count(w, "p");
  EXPECT_GE(saved, 3) << "the counter started over";
  EXPECT_TRUE(counted_to(w, "p", saved + 3)) << "the resumed counter does not count";
  EXPECT_EQ(exec(w, "p", "cat /tmp/note"), "kept");
  // The pause's checkpoint is used up: a second unpause is refused, and the sandbox stops and starts afresh.
  EXPECT_NE(w.kb({"unpause", "p"})->status.code, 0);
  EXPECT_FALSE(w.inspect("p")["State"].value("PausedToDisk", true));
  auto native =
      w.kb({"run", "-d", "--backend", "native", "--rootfs", bundled_rootfs(), "--name", "n", "--", "sleep", "600"});
  if (native->status.code == 0) {
    auto refused = w.kb({"pause", "--to-disk", "n"});
    EXPECT_NE(refused->status.code, 0);
    EXPECT_NE(refused->err.find("CRIU"), std::string::npos) << refused->err;
    EXPECT_EQ(w.state("n"), "running");
  }
}

}  // namespace
}  // namespace krunbox
