// What the security suite shares: a private krunbox world per test (its own
// data and run dirs, driven only through the CLI), and the attacker's means:
// a forked child that drops to another uid, and a unix socket that uid
// listens on, which records whatever krunbox sends it.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "base/test_util.h"
#include "base/paths.h"
#include "base/subprocess.h"
#include "base/temp_dir.h"
#include "base/unique_fd.h"

extern char** environ;

namespace krunbox::security_test {

using namespace std::chrono_literals;

// nobody: the other local user of these attacks.
inline constexpr uid_t kAttackerUid = 65534;

inline std::string krunbox_bin() {
  const char* d = std::getenv("KRUNBOX_BIN_DIR");
  return std::string(d ? d : "build/bin") + "/krunbox";
}

// The machine's real data root, for the bundled image (read only).
inline std::string host_bundled_dir() {
  static const std::string dir = join_path(data_root(), "bundled");
  return dir;
}
inline bool have_bundled_image() {
  return is_directory(join_path(host_bundled_dir(), "busybox-oci")) &&
         is_directory(join_path(host_bundled_dir(), "busybox/rootfs"));
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

using krunbox::testing::dir_entries;

// Mount points at or below `dir` in our mount namespace (krunbox mounts the
// image roots' overlays in the namespace of the CLI that runs it).
inline std::vector<std::string> mounts_under(const std::string& dir) {
  std::vector<std::string> out;
  auto info = read_file("/proc/self/mountinfo", 16u << 20);
  if (!info.ok()) return out;
  for (const auto& line : lines_of(*info)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    fields >> id >> parent >> devno >> root >> mount_point;
    if (mount_point == dir || mount_point.rfind(dir + "/", 0) == 0) out.push_back(mount_point);
  }
  return out;
}

// Runs `fn` in a forked child as `uid` (gid the same, no supplementary
// groups), the way another local user would act; true if it returned true.
// The child only makes system calls, so forking a test that has threads is safe.
inline bool as_user(uid_t uid, const std::function<bool()>& fn) {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0) ::_exit(2);
    ::_exit(fn() ? 0 : 1);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// A listening unix socket that another uid serves: SO_PEERCRED shows the uid
// of whoever called listen(), which the child does after dropping to `uid`.
// A thread accepts every connection and keeps the bytes that arrive.
class AttackerSocket {
 public:
  // `bind_as_attacker`: the child binds too (the socket file is the
  // attacker's, in a directory the attacker can write); otherwise we bind
  // first and hand the file to `uid`, for a directory only we can write.
  // `before_bind` runs in the child as `uid` first (mkdir, rename, ...).
  bool open(const std::string& path, uid_t uid, bool bind_as_attacker,
            const std::function<bool()>& before_bind = [] { return true; }) {
    path_ = path;
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd_ || path.size() >= sizeof(sockaddr_un::sun_path)) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    int fd = fd_.get();
    auto do_bind = [fd, addr] { return ::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0; };
    if (!bind_as_attacker) {
      if (!do_bind() || ::chown(path.c_str(), uid, uid) != 0) return false;
    }
    bool ok = as_user(uid, [&] {
      if (!before_bind()) return false;
      if (bind_as_attacker && !do_bind()) return false;
      return ::listen(fd, 16) == 0;
    });
    if (!ok) return false;
    thread_ = std::thread([this] { serve(); });
    return true;
  }
  ~AttackerSocket() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }

  // After the victim's command has returned: the connection (if any) is
  // drained a little longer, then what arrived is reported.
  int connections() {
    settle();
    return connections_;
  }
  std::string received() {
    settle();
    std::lock_guard<std::mutex> l(mu_);
    return received_;
  }

 private:
  void settle() { std::this_thread::sleep_for(200ms); }

  void serve() {
    while (!stop_) {
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) continue;
      ++connections_;
      // Read what the victim sends until it stops (1 s of quiet) or hangs
      // up; then hang up, so a victim waiting for an answer gets an error.
      char buf[4096];
      for (;;) {
        pollfd c{conn.get(), POLLIN, 0};
        if (::poll(&c, 1, 1000) <= 0) break;
        ssize_t n = ::read(conn.get(), buf, sizeof buf);
        if (n <= 0) break;
        std::lock_guard<std::mutex> l(mu_);
        received_.append(buf, static_cast<size_t>(n));
      }
    }
  }

  std::string path_;
  UniqueFd fd_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::string received_;
};

// A private krunbox world: data root <tmp>/d (the bundled image linked in),
// run dir <tmp>/r unless the test names another (which is then left for the
// test, or its attacker, to make).
class World {
 public:
  explicit World(std::string run_dir = "") {
    auto dir = TempDir::create("ksec-");
    if (!dir.ok()) std::abort();
    dir_ = std::move(*dir);
    data_ = join_path(dir_.path(), "d");
    (void)make_dirs(data_, 0700);
    (void)::symlink(host_bundled_dir().c_str(), join_path(data_, "bundled").c_str());
    if (run_dir.empty()) {
      run_ = join_path(dir_.path(), "r");
      (void)make_dirs(run_, 0700);
    } else {
      run_ = std::move(run_dir);
    }
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      bool ours = false;
      for (const char* name : {"KRUNBOX_ROOT=", "KRUNBOX_RUN_DIR=", "XDG_RUNTIME_DIR=", "KRUNBOX_LOG="})
        ours = ours || kv.rfind(name, 0) == 0;
      if (!ours) env_.push_back(kv);
    }
    env_.push_back("KRUNBOX_ROOT=" + data_);
    env_.push_back("KRUNBOX_RUN_DIR=" + run_);
  }
  ~World() {
    // Whatever a failed test left running goes with the world.
    auto ids = kb({"ps", "-a", "-q"}, 60s);
    if (ids.ok() && ids->status.code == 0) {
      std::vector<std::string> args = {"rm", "-f"};
      for (const auto& id : lines_of(ids->out)) args.push_back(id);
      if (args.size() > 2) (void)kb(args, 60s);
    }
    // So the temp dir can go even if a test failed with a root mounted.
    for (const auto& m : mounts_under(data_)) ::umount2(m.c_str(), MNT_DETACH);
  }

  const std::string& data() const { return data_; }
  const std::string& run() const { return run_; }
  const std::string& tmp() const { return dir_.path(); }
  const std::vector<std::string>& env() const { return env_; }

  Result<RunOutput> kb(std::vector<std::string> args, std::chrono::milliseconds timeout = 120s) const {
    args.insert(args.begin(), krunbox_bin());
    RunOptions o;
    o.env = env_;
    o.timeout = timeout;
    return run_capture(args, o);
  }

  // The image roots krunbox holds in this world's store.
  std::set<std::string> roots() const { return dir_entries(join_path(data_, "roots")); }
  std::set<std::string> leases() const { return dir_entries(join_path(data_, "root-leases")); }
  std::vector<std::string> mounts() const { return mounts_under(data_); }

 private:
  TempDir dir_;
  std::string data_, run_;
  std::vector<std::string> env_;
};

// Why the native backend cannot run here, or "" when it can.
inline std::string native_skip_reason() {
  if (::geteuid() != 0) return "needs root for the native backend";
  if (!have_bundled_image()) return "no bundled image under " + host_bundled_dir() + "; run scripts/setup.sh";
  World w;
  auto probe = w.kb({"run", "--backend", "native", "--", "true"});
  if (!probe.ok() || probe->status.code != 0)
    return "the native backend cannot run here: " + (probe.ok() ? probe->err : probe.error().what());
  return "";
}
inline const std::string& native_skip() {
  static const std::string why = native_skip_reason();
  return why;
}

}  // namespace krunbox::security_test

#define SKIP_WITHOUT_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (another uid to attack from, mounts)"
#define SKIP_WITHOUT_NATIVE() \
  if (!::krunbox::security_test::native_skip().empty()) GTEST_SKIP() << ::krunbox::security_test::native_skip()
