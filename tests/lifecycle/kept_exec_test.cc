// Background commands (`exec -d`) and time limits (`--ttl`,
// `--idle-timeout`) of long-lived sandboxes: made with the CLI, as a user
// would, then read and driven through the library's kept-exec client
// (sandbox/kept_exec.h) as a program linking krunbox would.
#include "sandbox/kept_exec.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "library_env.h"
#include "lifecycle_env.h"
#include "sandbox/exec_session.h"
#include "sandbox/lifecycle.h"
#include "sandbox/monitor_execs.h"

namespace krunbox {
namespace {

using lifecycle_test::bundled_rootfs;
using lifecycle_test::lifecycle_of;
using lifecycle_test::trim;
using lifecycle_test::World;
using namespace std::chrono_literals;

std::string native_sleeper(World& w, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"run", "-d", "--backend", "native", "--rootfs", bundled_rootfs()};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"--", "sleep", "600"});
  auto r = w.kb(args);
  EXPECT_TRUE(r.ok());
  if (!r.ok()) return "";
  EXPECT_EQ(r->status.code, 0) << r->err;
  return trim(r->out);
}

// Everything kept from `offset`, and how it ended (nullopt: still running).
struct Drained {
  std::string out, err;
  uint64_t from = 0, first_kept = 0;
  std::optional<WorkloadOutcome> outcome;
};
Drained drain(Lifecycle& lc, const std::string& id, const std::string& exec_id, bool follow, uint64_t offset = 0) {
  Drained d;
  auto s = ExecSession::attach(lc, id, exec_id, follow, offset);
  EXPECT_TRUE(s.ok()) << s.error().what();
  if (!s.ok()) return d;
  d.from = (*s)->from();
  d.first_kept = (*s)->first_kept();
  auto end =
      (*s)->read_output({[&](std::string_view b) { d.out.append(b); }, [&](std::string_view b) { d.err.append(b); }});
  EXPECT_TRUE(end.ok()) << end.error().what();
  if (end.ok()) d.outcome = *end;
  return d;
}

TEST(KeptExecTest, ExecDetachedOutlivesTheCliAndKeepsItsOutput) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for the native backend";
  World w;
  std::string id = native_sleeper(w);
  ASSERT_EQ(id.size(), 64u);
  auto d = w.kb({"exec", "-d", id, "--", "sh", "-c", "echo started; sleep 1; echo done >&2; exit 5"});
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->status.code, 0) << d->err;
  std::string exec_id = trim(d->out);
  ASSERT_EQ(exec_id.size(), 16u) << d->out;
  // The CLI is gone; the command runs on.
  Lifecycle lc = lifecycle_of(w);
  auto info = kept_exec_info(lc, id, exec_id);
  ASSERT_TRUE(info.ok()) << info.error().what();
  EXPECT_EQ(info->argv, (std::vector<std::string>{"sh", "-c", "echo started; sleep 1; echo done >&2; exit 5"}));
  auto all = drain(lc, id, exec_id, /*follow=*/true);
  EXPECT_EQ(all.out, "started\n");
  EXPECT_EQ(all.err, "done\n");
  ASSERT_TRUE(all.outcome.has_value());
  EXPECT_EQ(all.outcome->exit_code(), 5);
  auto ended = kept_exec_info(lc, id, exec_id);
  ASSERT_TRUE(ended.ok()) << ended.error().what();
  EXPECT_FALSE(ended->running());
  // -d with -i has no stdin to take.
  auto both = w.kb({"exec", "-d", "-i", id, "--", "cat"});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->status.code, 125);
  EXPECT_NE(both->err.find("-d"), std::string::npos) << both->err;
  ASSERT_EQ(w.kb({"rm", "-f", id})->status.code, 0);
}

TEST(KeptExecTest, OutputBeyondTheWindowIsDroppedOldestFirst) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for the native backend";
  World w;
  std::string id = native_sleeper(w);
  ASSERT_EQ(id.size(), 64u);
  Lifecycle lc = lifecycle_of(w);
  Workload big;
  // 3 MiB of numbered lines, then a marker: only the last 1 MiB is kept.
  big.argv = {"sh", "-c", "i=0; while [ $i -lt 3000 ]; do printf '%01023d\\n' $i; i=$((i+1)); done; echo END"};
  auto started = start_kept_exec(lc, id, big);
  ASSERT_TRUE(started.ok()) << started.error().what();
  // Nobody reads while it writes: it must not wait for a reader.
  for (int i = 0; i < 600; ++i) {
    auto info = kept_exec_info(lc, id, started->exec_id);
    ASSERT_TRUE(info.ok()) << info.error().what();
    if (!info->running()) break;
    std::this_thread::sleep_for(100ms);
  }
  auto all = drain(lc, id, started->exec_id, /*follow=*/true);
  ASSERT_TRUE(all.outcome.has_value());
  EXPECT_EQ(all.outcome->exit_code(), 0);
  const uint64_t total = 3000u * 1024 + 4;
  EXPECT_EQ(all.first_kept, total - kKeptOutputBytes);
  EXPECT_EQ(all.from, all.first_kept);
  EXPECT_EQ(all.out.size(), kKeptOutputBytes);
  EXPECT_TRUE(all.out.ends_with("02999\nEND\n")) << all.out.substr(all.out.size() - 40);
  // Resuming past the start of the window gives exactly the rest.
  auto tail = drain(lc, id, started->exec_id, /*follow=*/false, total - 4);
  EXPECT_EQ(tail.out, "END\n");
  ASSERT_EQ(w.kb({"rm", "-f", id})->status.code, 0);
}

TEST(KeptExecTest, AtMostSixtyFourRunAtOnceAndNothingElseIsDisturbed) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for the native backend";
  World w;
  std::string id = native_sleeper(w);
  ASSERT_EQ(id.size(), 64u);
  Lifecycle lc = lifecycle_of(w);
  Workload sleeper;
  sleeper.argv = {"sleep", "600"};
  std::vector<std::string> ids;
  for (size_t i = 0; i < kMaxRunningKeptExecs; ++i) {
    auto s = start_kept_exec(lc, id, sleeper);
    ASSERT_TRUE(s.ok()) << i << ": " << s.error().what();
    ids.push_back(s->exec_id);
  }
  auto over = start_kept_exec(lc, id, sleeper);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code(), ErrorCode::kBusy) << over.error().what();
  // A foreground exec still works, and ending one makes room.
  EXPECT_EQ(w.kb({"exec", id, "--", "echo", "still"})->out, "still\n");
  ASSERT_TRUE(signal_kept_exec(lc, id, ids[0], 9).ok());
  auto gone = drain(lc, id, ids[0], /*follow=*/true);
  ASSERT_TRUE(gone.outcome.has_value());
  EXPECT_EQ(gone.outcome->status().signal, 9);
  auto again = start_kept_exec(lc, id, sleeper);
  EXPECT_TRUE(again.ok()) << again.error().what();
  // Hostile ids are refused before anything is sent.
  EXPECT_EQ(kept_exec_info(lc, id, "../../etc/passwd").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(kept_exec_info(lc, id, "0000000000000000").error().code(), ErrorCode::kNotFound);
  ASSERT_EQ(w.kb({"rm", "-f", id})->status.code, 0);
}

TEST(KeptExecTest, TimeToLiveAndIdleTimeoutStopTheRun) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for the native backend";
  World w;
  std::string ttl = native_sleeper(w, {"--ttl", "2"});
  std::string idle = native_sleeper(w, {"--idle-timeout", "2"});
  ASSERT_EQ(ttl.size(), 64u);
  ASSERT_EQ(idle.size(), 64u);
  Json j = w.inspect(ttl);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.value("TimeToLive", 0), 2);
  EXPECT_GT(j["State"].value("Deadline", int64_t{0}), 0);
  EXPECT_EQ(w.inspect(idle).value("IdleTimeout", 0), 2);
  // ps and inspect are status reads: they keep neither alive.
  ASSERT_TRUE(w.wait_state(ttl, "stopped", 30s));
  ASSERT_TRUE(w.wait_state(idle, "stopped", 30s));
  auto ps = w.kb({"ps", "-a"});
  ASSERT_TRUE(ps.ok());
  Json t = w.inspect(ttl);
  Json i = w.inspect(idle);
  EXPECT_NE(t["State"].value("Reason", std::string()).find("time to live"), std::string::npos) << t.dump();
  EXPECT_NE(i["State"].value("Reason", std::string()).find("idle"), std::string::npos) << i.dump();
  // Hostile values are refused with the flag's name, creating nothing.
  auto bad =
      w.kb({"run", "-d", "--backend", "native", "--rootfs", bundled_rootfs(), "--ttl", "99999999999", "--", "true"});
  ASSERT_TRUE(bad.ok());
  EXPECT_NE(bad->status.code, 0);
  EXPECT_NE(bad->err.find("--ttl"), std::string::npos) << bad->err;
  auto one_shot = w.kb({"run", "--rootfs", bundled_rootfs(), "--ttl", "5", "--", "true"});
  ASSERT_TRUE(one_shot.ok());
  EXPECT_NE(one_shot->err.find("add -d"), std::string::npos) << one_shot->err;
  EXPECT_EQ(w.kb({"ps", "-a", "-q"})->out.size(), 2u * 13);
}

}  // namespace
}  // namespace krunbox
