// A private krunbox world for one test: its own data and run dirs (the
// bundled rootfs and VM assets linked in), and the CLI run as a user would.
#pragma once

#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/fs.h"
#include "base/test_util.h"
#include "base/json.h"
#include "base/paths.h"
#include "base/subprocess.h"
#include "base/temp_dir.h"

extern char** environ;

namespace krunbox::lifecycle_test {

inline std::string krunbox_bin() {
  const char* d = std::getenv("KRUNBOX_BIN_DIR");
  return std::string(d ? d : "build/bin") + "/krunbox";
}

// The machine's real data root (for the bundled rootfs and VM assets).
inline std::string host_data_root() {
  static const std::string root = data_root();
  return root;
}
inline std::string bundled_rootfs() { return join_path(host_data_root(), "bundled/busybox/rootfs"); }

class World {
 public:
  World() {
    // Short paths: the qemu backend's sockets under the run dir must fit in
    // sun_path (108 bytes) with a 64-digit sandbox id in them.
    auto dir = TempDir::create("klc-");
    if (!dir.ok()) std::abort();
    dir_ = std::move(*dir);
    data_ = join_path(dir_.path(), "d");
    run_ = join_path(dir_.path(), "r");
    (void)make_dirs(data_, 0700);
    (void)make_dirs(run_, 0700);
    for (const char* shared : {"assets", "bundled"})
      (void)::symlink(join_path(host_data_root(), shared).c_str(), join_path(data_, shared).c_str());
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      if (kv.rfind("KRUNBOX_ROOT=", 0) == 0 || kv.rfind("KRUNBOX_RUN_DIR=", 0) == 0) continue;
      env_.push_back(kv);
    }
    env_.push_back("KRUNBOX_ROOT=" + data_);
    env_.push_back("KRUNBOX_RUN_DIR=" + run_);
  }
  ~World() {
    // Whatever a failed test left running goes with the world.
    auto ids = kb({"ps", "-a", "-q"});
    if (ids.ok()) {
      std::vector<std::string> args = {"rm", "-f"};
      size_t start = 0;
      const std::string& out = ids->out;
      while (start < out.size()) {
        size_t nl = out.find('\n', start);
        args.push_back(out.substr(start, nl - start));
        start = nl == std::string::npos ? out.size() : nl + 1;
      }
      if (args.size() > 2) (void)kb(args);
    }
  }

  const std::string& data() const { return data_; }
  const std::string& run() const { return run_; }

  Result<RunOutput> kb(std::vector<std::string> args, std::string stdin_data = "",
                       std::chrono::seconds timeout = std::chrono::seconds(300)) const {
    args.insert(args.begin(), krunbox_bin());
    RunOptions o;
    o.env = env_;
    o.stdin_data = std::move(stdin_data);
    o.timeout = timeout;
    return run_capture(args, o);
  }

  // `krunbox inspect --type sandbox ID` as JSON.
  Json inspect(const std::string& id) const {
    auto out = kb({"inspect", "--type", "sandbox", id});
    if (!out.ok() || out->status.code != 0) return Json();
    auto j = parse_json(out->out, "inspect");
    return j.ok() && j->is_array() && !j->empty() ? (*j)[0] : Json();
  }
  std::string state(const std::string& id) const {
    Json j = inspect(id);
    return j.is_object() ? j["State"].value("Status", std::string()) : std::string("(gone)");
  }
  // Polls until the sandbox's state is `want` (or the deadline).
  bool wait_state(const std::string& id, const std::string& want,
                  std::chrono::seconds deadline = std::chrono::seconds(120)) const {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      if (state(id) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

 private:
  TempDir dir_;
  std::string data_, run_;
  std::vector<std::string> env_;
};

using krunbox::testing::dir_entries;

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace krunbox::lifecycle_test
