// Failed and killed commands leave image roots and overlay mounts behind
// (issue 21, attack 7).
//
// A `create` or `run -d` that failed after its image root was made (a bad or
// taken --name, a bad --memory) kept the root and its overlay mounted on the
// host for good; anyone can repeat such a command until the disk or the mount
// table is full. And a `krunbox run` killed with SIGKILL leaves its root
// until some later command sweeps it. Each failure here must leave
// <KRUNBOX_ROOT>/roots and the mount table as they were.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include "base/test_util.h"
#include "security_env.h"

namespace krunbox {
namespace {

using namespace security_test;

// Whether any process has `merged` (an overlay root) as its root directory.
// /proc/PID/root reads as "/" from another mount namespace, so the file
// systems are compared instead.
bool processes_rooted_at(const std::string& merged) {
  struct stat root_st {};
  if (::stat(merged.c_str(), &root_st) != 0) return false;
  for (const auto& e : dir_entries("/proc")) {
    if (e.find_first_not_of("0123456789") != std::string::npos) continue;
    struct stat st {};
    if (::stat(("/proc/" + e + "/root").c_str(), &st) == 0 && st.st_dev == root_st.st_dev) return true;
  }
  return false;
}

TEST(LeakTest, FailedCreatesLeaveNoRootAndNoMount) {
  SKIP_WITHOUT_ROOT();
  if (!have_bundled_image()) GTEST_SKIP() << "no bundled image under " << host_bundled_dir();
  World w;
  auto first = w.kb({"create", "--backend", "mock", "--name", "taken", "--", "sleep", "600"});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->status.code, 0) << first->err;
  std::string id = trim(first->out);
  const auto roots = w.roots();
  const auto mounts = w.mounts();
  ASSERT_EQ(roots.size(), 1u) << "the sandbox made from the image has its own root";
  ASSERT_EQ(mounts.size(), 1u) << "and its overlay is mounted under " << w.data();

  uint16_t port = 0;
  UniqueFd holder = testing::listen_on_loopback(&port);
  ASSERT_TRUE(holder);
  struct Attempt {
    std::vector<std::string> args;
    std::string names;  // what the error must name
  };
  const std::vector<Attempt> attempts = {
      {{"create", "--backend", "mock", "--name", "taken", "--", "true"}, "'taken' is taken"},
      {{"run", "-d", "--backend", "mock", "--name", "taken", "--", "true"}, "'taken' is taken"},
      {{"run", "-d", "--backend", "mock", "--name", "bad/name!", "--", "true"}, "bad/name!"},
      {{"create", "--backend", "mock", "--name", "bad/name!", "--", "true"}, "bad/name!"},
      {{"create", "--backend", "mock", "-m", "1", "--", "true"}, "memory"},
      {{"run", "-d", "--backend", "mock", "--hostname", "bad_host", "--", "true"}, "bad_host"},
      {{"create", "--backend", "mock", "--pull", "never", "no-such-image:7", "--", "true"}, "no-such-image"},
      {{"run", "-d", "--backend", "mock", "-p", std::to_string(port) + ":80", "--", "true"}, std::to_string(port)},
      {{"run", "-d", "--backend", "mock", "-e", "BIG=" + std::string(70000, 'x'), "--", "true"}, "65536"},
  };
  for (const auto& a : attempts) {
    std::string what = a.args[0] + " ... " + a.names;
    auto out = w.kb(a.args);
    ASSERT_TRUE(out.ok()) << what;
    EXPECT_EQ(out->status.code, 125) << what << ": " << out->out;
    EXPECT_NE(out->err.find(a.names), std::string::npos) << what << ": " << out->err;
    EXPECT_EQ(w.roots(), roots) << what << " left a root in " << w.data() << "/roots";
    EXPECT_EQ(w.mounts(), mounts) << what << " left a mount";
    EXPECT_TRUE(w.leases().empty()) << what << " left a lease: " << *w.leases().begin();
  }
  auto ps = w.kb({"ps", "-a", "-q"});
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(trim(ps->out), id.substr(0, 12)) << "only the first sandbox exists";
  auto rm = w.kb({"rm", "-f", id});
  ASSERT_TRUE(rm.ok());
  EXPECT_EQ(rm->status.code, 0) << rm->err;
  EXPECT_TRUE(w.roots().empty());
  EXPECT_TRUE(w.mounts().empty());
}

// `krunbox run` in the foreground is killed with SIGKILL mid-run: nothing of
// its own removes its root. The next command that makes sandboxes (create
// here) must sweep it, root and mount.
TEST(LeakTest, RootOfAKilledRunIsSweptByTheNextCreate) {
  SKIP_WITHOUT_NATIVE();
  World w;
  SpawnOptions so;
  so.env = w.env();
  so.stdout_mode = Stdio::kNull;
  so.stderr_mode = Stdio::kNull;
  auto run = Subprocess::spawn({krunbox_bin(), "run", "--backend", "native", "--", "sleep", "120"}, so);
  ASSERT_TRUE(run.ok()) << run.error().what();
  std::string merged;
  for (int i = 0; i < 600; ++i) {
    auto roots = w.roots();
    if (roots.size() == 1) {
      std::string candidate = join_path(join_path(join_path(w.data(), "roots"), *roots.begin()), "merged");
      if (processes_rooted_at(candidate)) {
        merged = candidate;
        break;
      }
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(merged.empty()) << "the run never started its sandbox";
  ASSERT_EQ(w.mounts().size(), 1u);
  ASSERT_TRUE(run->kill(SIGKILL).ok());
  ASSERT_TRUE(run->wait().ok());
  // Its sandbox dies by parent-death signal; until the last process inside is
  // gone the root is rightly busy.
  for (int i = 0; i < 200 && processes_rooted_at(merged); ++i) std::this_thread::sleep_for(50ms);
  ASSERT_FALSE(processes_rooted_at(merged)) << "the killed run's sandbox outlived it";
  ASSERT_EQ(w.roots().size(), 1u) << "the killed run's root is there to be swept";

  auto next = w.kb({"create", "--backend", "mock", "--rootfs", "/", "--", "true"});
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(next->status.code, 0) << next->err;
  EXPECT_TRUE(w.roots().empty()) << "left: " << *w.roots().begin();
  EXPECT_TRUE(w.leases().empty());
  EXPECT_TRUE(w.mounts().empty()) << "left: " << w.mounts().front();
}

}  // namespace
}  // namespace krunbox
