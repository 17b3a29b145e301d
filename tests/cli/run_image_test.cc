// `krunbox run IMAGE`: images from the store with Docker's override rules,
// the bundled image as an ordinary stored image, and per-sandbox roots that
// are released after the run, also when the CLI is killed. Runs on the
// native backend (fast); the VM backends take the same spec.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "../image/fixture_util.h"
#include "base/fs.h"
#include "base/paths.h"
#include "base/subprocess.h"
#include "base/temp_dir.h"
#include "cli_env.h"
#include "image/test_layout.h"

namespace krunbox {
namespace {

using image::testing::LayoutBuilder;
using image::testing::TarBuilder;

std::string bundled_layout_source() {
  return join_path(data_root(), "bundled/busybox-oci");
}

class RunImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (native backend)";
    if (!is_directory(bundled_layout_source()) || !is_directory(bundled_rootfs_dir()))
      GTEST_SKIP() << "bundled image missing at " << bundled_layout_source() << " (run scripts/setup.sh)";
    auto t = TempDir::create("krunbox-run-image");
    ASSERT_TRUE(t.ok());
    tmp_ = std::move(*t);
    store_ = tmp_.path() + "/store";
    ASSERT_TRUE(make_dirs(store_ + "/bundled", 0700).ok());
    image::testing::run_ok({"cp", "-a", bundled_layout_source(), store_ + "/bundled/busybox-oci"});
  }

  std::vector<std::string> env() const {
    std::vector<std::string> e = {"KRUNBOX_ROOT=" + store_, "KRUNBOX_RUN_DIR=" + tmp_.path() + "/run",
                                  "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "FROM_CALLER=caller-value"};
    return e;
  }

  RunOutput krunbox(std::vector<std::string> args) {
    args.insert(args.begin(), testing::krunbox_bin());
    RunOptions o;
    o.env = env();
    o.timeout = std::chrono::seconds(120);
    auto r = run_capture(args, o);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().what());
    return r.ok() ? std::move(*r) : RunOutput{};
  }

  std::string run_ok(std::vector<std::string> args) {
    auto r = krunbox(std::move(args));
    EXPECT_EQ(r.status.code, 0) << r.err;
    return r.out;
  }

  // An image on top of the bundled rootfs with every config field a run uses.
  void load_app_image() {
    std::string base_tar = tmp_.path() + "/base.tar";
    image::testing::tar_dir(bundled_rootfs_dir(), base_tar);
    auto base = read_file(base_tar, 64u << 20);
    ASSERT_TRUE(base.ok());
    TarBuilder app;
    app.dir("srv", 0755).file("srv/motd", "from the image\n").end();
    LayoutBuilder layout(tmp_.path() + "/app-layout");
    Json config = {{"Entrypoint", {"/bin/echo", "ep"}},
                   {"Cmd", {"default-cmd"}},
                   {"Env", {"PATH=/bin:/sbin", "GREETING=hello"}},
                   {"WorkingDir", "/srv"},
                   {"User", "nobody"}};
    layout.image({*base, app.str()}, config, "1.0");
    run_ok({"load", "--name", "app", layout.dir()});
    Json bare = {{"Env", {"PATH=/bin"}}};
    layout.image({*base}, bare, "bare");
    run_ok({"load", "--name", "app", layout.dir()});
  }

  // Whether any process has the image root at `dir` (its overlay, mounted on
  // dir/merged) as its root directory. /proc/PID/root reads as "/" from
  // another mount namespace, so the file systems are compared instead.
  static bool processes_rooted_under(const std::string& dir) {
    struct stat merged {};
    if (::stat((dir + "/merged").c_str(), &merged) != 0) return false;
    DIR* d = ::opendir("/proc");
    if (!d) return false;
    bool found = false;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
      struct stat root {};
      if (::stat((std::string("/proc/") + e->d_name + "/root").c_str(), &root) == 0 && root.st_dev == merged.st_dev) {
        found = true;
        break;
      }
    }
    ::closedir(d);
    return found;
  }

  std::vector<std::string> roots_left() const {
    std::vector<std::string> out;
    for (const char* sub : {"/roots", "/root-leases"}) {
      if (DIR* d = ::opendir((store_ + sub).c_str())) {
        while (dirent* e = ::readdir(d))
          if (e->d_name[0] != '.') out.push_back(std::string(sub) + "/" + e->d_name);
        ::closedir(d);
      }
    }
    return out;
  }

  TempDir tmp_;
  std::string store_;
};

TEST_F(RunImageTest, DefaultImageIsLoadedIntoTheStoreAndRuns) {
  auto out = run_ok({"run", "--backend", "native", "--", "cat", "/etc/hostname"});
  EXPECT_FALSE(out.empty());
  auto images = run_ok({"images"});
  EXPECT_NE(images.find("busybox"), std::string::npos) << images;
  EXPECT_TRUE(roots_left().empty());
}

TEST_F(RunImageTest, ImageConfigGivesTheCommandEnvWorkdirAndUser) {
  load_app_image();
  EXPECT_EQ(run_ok({"run", "--backend", "native", "app:1.0"}), "ep default-cmd\n");
  EXPECT_EQ(run_ok({"run", "--backend", "native", "app:1.0", "--", "a", "b"}), "ep a b\n");
  EXPECT_EQ(run_ok({"run", "--backend", "native", "--entrypoint", "/bin/sh", "app:1.0", "--", "-c",
                    "echo $GREETING; pwd; id -u; cat motd"}),
            "hello\n/srv\n65534\nfrom the image\n");
}

TEST_F(RunImageTest, FlagsOverrideTheImageByDockersRules) {
  load_app_image();
  auto out = run_ok({"run", "--backend", "native", "-e", "GREETING=bye", "-e", "FROM_CALLER", "-w", "/tmp", "-u", "0",
                     "--entrypoint", "/bin/sh", "app:1.0", "--", "-c", "echo $GREETING $FROM_CALLER; pwd; id -u"});
  EXPECT_EQ(out, "bye caller-value\n/tmp\n0\n");
  // --entrypoint "" clears the Entrypoint and the image's Cmd with it.
  EXPECT_EQ(run_ok({"run", "--backend", "native", "--entrypoint", "", "app:1.0", "--", "/bin/echo", "plain"}),
            "plain\n");
}

TEST_F(RunImageTest, BadImagesAndFlagCombinationsFailClearly) {
  load_app_image();
  auto missing = krunbox({"run", "--backend", "native", "no-such-image:7"});
  EXPECT_EQ(missing.status.code, 125);
  EXPECT_NE(missing.err.find("no-such-image"), std::string::npos) << missing.err;
  auto no_command = krunbox({"run", "--backend", "native", "app:bare"});
  EXPECT_EQ(no_command.status.code, 125);
  EXPECT_NE(no_command.err.find("app:bare"), std::string::npos) << no_command.err;
  auto both = krunbox({"run", "--backend", "native", "--rootfs", bundled_rootfs_dir(), "app:1.0"});
  EXPECT_EQ(both.status.code, 125);
  EXPECT_NE(both.err.find("--rootfs"), std::string::npos) << both.err;
  auto bad_workdir = krunbox({"run", "--backend", "native", "-w", "relative", "app:1.0"});
  EXPECT_EQ(bad_workdir.status.code, 125);
  EXPECT_TRUE(roots_left().empty());
}

TEST_F(RunImageTest, WritesStayInTheirOwnSandbox) {
  run_ok({"run", "--backend", "native", "--", "sh", "-c", "echo x > /etc/written && rm /bin/ls"});
  auto r = krunbox(
      {"run", "--backend", "native", "--", "sh", "-c", "test -e /etc/written || ls / >/dev/null && echo clean"});
  EXPECT_EQ(r.status.code, 0) << r.err;
  EXPECT_EQ(r.out, "clean\n");
  EXPECT_TRUE(roots_left().empty());
}

TEST_F(RunImageTest, RootOfAKilledRunIsReleasedByTheNextCommand) {
  run_ok({"images"});  // loads nothing, creates the store
  SpawnOptions so;
  so.env = env();
  so.stdout_mode = Stdio::kNull;
  so.stderr_mode = Stdio::kNull;
  auto child = Subprocess::spawn({testing::krunbox_bin(), "run", "--backend", "native", "--", "sleep", "60"}, so);
  ASSERT_TRUE(child.ok()) << child.error().what();
  for (int i = 0; i < 600 && roots_left().size() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(roots_left().size(), 2u) << "the run never made its root";
  std::string root = store_ + roots_left().front();  // /roots/<id> sorts before /root-leases
  ::kill(child->pid(), SIGKILL);
  (void)child->wait();
  // Its sandbox dies by PDEATHSIG; until every process inside is gone the root
  // is rightly still busy, so wait for that (a loaded machine takes a while).
  for (int i = 0; i < 200 && processes_rooted_under(root); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_FALSE(processes_rooted_under(root)) << "the killed run's sandbox outlived it";
  run_ok({"run", "--backend", "native", "--", "true"});
  EXPECT_TRUE(roots_left().empty()) << roots_left().front();
}

}  // namespace
}  // namespace krunbox
