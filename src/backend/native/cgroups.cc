#include "backend/native/cgroups.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <sstream>
#include <thread>

#include "backend/native/device_filter.h"
#include "base/fs.h"
#include "base/unique_fd.h"

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace krunbox::native {
namespace {

using namespace std::chrono_literals;

const char* const kV1Controllers[] = {"memory", "cpu", "pids", "freezer", "devices"};

// cgroupfs files exist already and take one write; no temp-and-rename.
Status write_cgroup_file(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC, 0644));
  if (!fd) return Error::from_errno("opening " + path);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    return Error::from_errno("writing '" + value + "' to " + path);
  return {};
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Polls `file` until it reads `want` (the freezer settles asynchronously).
Status wait_for_content(const std::string& file, const std::string& want, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    auto content = read_file(file, 4096);
    if (!content.ok()) return std::move(content).error();
    if (trim(*content).find(want) != std::string::npos) return {};
    if (std::chrono::steady_clock::now() > deadline)
      return Error(ErrorCode::kTimeout, file + " did not become " + want + " within " +
                                            std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(2ms);
  }
}

std::optional<uint64_t> read_counter(const std::string& file, const std::string& key) {
  auto content = read_file(file, 64 * 1024);
  if (!content.ok()) return std::nullopt;
  std::istringstream in(*content);
  std::string k;
  uint64_t v = 0;
  while (in >> k >> v) {
    if (k == key) return v;
  }
  return std::nullopt;
}

bool is_cgroupfs(const std::string& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return false;
  return fs.f_type == CGROUP_SUPER_MAGIC || fs.f_type == CGROUP2_SUPER_MAGIC;
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> names;
  DIR* d = ::opendir(path.c_str());
  if (!d) return names;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.' || e->d_type != DT_DIR) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  return names;
}

// mkdir that accepts an existing directory.
Status make_group(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) return {};
  return Error::from_errno("creating cgroup " + dir);
}

// Only the hierarchy's kind: the full probe's test groups cost time on every start.
CgroupMode detect_mode(const std::string& root) {
  struct statfs fs {};
  if (::statfs(root.c_str(), &fs) != 0) return CgroupMode::kNone;
  if (fs.f_type == CGROUP2_SUPER_MAGIC) return CgroupMode::kV2;
  return CgroupMode::kV1;  // v1 or hybrid: limits go through the v1 controllers
}

}  // namespace

std::vector<std::string> cgroup_dirs_for(const std::string& root, const std::string& id) {
  std::vector<std::string> dirs;
  for (const char* c : kV1Controllers) dirs.push_back(join_path(root, std::string(c) + "/" + kCgroupParent + "/" + id));
  dirs.push_back(join_path(root, std::string(kCgroupParent) + "/" + id));
  return dirs;
}

std::vector<std::string> list_cgroup_sandbox_ids(const std::string& root) {
  std::set<std::string> ids;
  for (const char* c : kV1Controllers)
    for (auto& n : list_dir(join_path(root, std::string(c) + "/" + kCgroupParent))) ids.insert(n);
  for (auto& n : list_dir(join_path(root, kCgroupParent))) ids.insert(n);
  return {ids.begin(), ids.end()};
}

bool cgroup_has_processes(const std::string& dir) {
  auto procs = read_file(join_path(dir, "cgroup.procs"), 1 << 20);
  return procs.ok() && procs->find_first_of("0123456789") != std::string::npos;
}

Status remove_cgroup_dir(const std::string& dir) {
  if (!is_directory(dir)) return {};
  if (!is_cgroupfs(dir)) return remove_tree(dir);  // a fake tree in tests
  // A frozen group's processes cannot die until thawed.
  std::string v1_state = join_path(dir, "freezer.state");
  if (path_exists(v1_state)) (void)write_cgroup_file(v1_state, "THAWED");
  std::string v2_freeze = join_path(dir, "cgroup.freeze");
  if (path_exists(v2_freeze)) (void)write_cgroup_file(v2_freeze, "0");
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (true) {
    auto procs = read_file(join_path(dir, "cgroup.procs"), 1 << 20);
    bool empty = true;
    if (procs.ok()) {
      std::istringstream in(*procs);
      pid_t pid = 0;
      while (in >> pid) {
        empty = false;
        ::kill(pid, SIGKILL);
      }
    }
    if (empty) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
      if (errno != EBUSY) return Error::from_errno("removing cgroup " + dir);
    }
    if (std::chrono::steady_clock::now() > deadline)
      return Error(ErrorCode::kTimeout, "cgroup " + dir + " still has processes after 5 s of SIGKILL");
    std::this_thread::sleep_for(2ms);
  }
}

Result<SandboxCgroup> SandboxCgroup::create(const std::string& root, const std::string& id,
                                            const CgroupLimits& limits) {
  SandboxCgroup cg;
  cg.mode_ = detect_mode(root);
  if (cg.mode_ == CgroupMode::kNone) {
    cg.notes_.push_back("no cgroup file system at " + root + ": memory, cpu and pids limits are not enforced");
    return cg;
  }
  auto note_failure = [&](const std::string& what, const Error& e) {
    cg.notes_.push_back(what + " not enforced: " + e.what());
  };

  if (cg.mode_ == CgroupMode::kV2) {
    std::string parent = join_path(root, kCgroupParent);
    std::string dir = join_path(parent, id);
    auto made = make_group(parent);
    if (made.ok()) made = make_group(dir);
    if (!made.ok()) {
      note_failure("memory, cpu and pids limits", made.error());
      return cg;
    }
    cg.dirs_.push_back(dir);
    // Controllers must be enabled on each level above the group; failures
    // show up as missing files below and are noted there.
    (void)write_cgroup_file(join_path(root, "cgroup.subtree_control"), "+memory +cpu +pids");
    (void)write_cgroup_file(join_path(parent, "cgroup.subtree_control"), "+memory +cpu +pids");
    cg.memory_dir_ = dir;
    if (path_exists(join_path(dir, "cgroup.freeze"))) cg.freezer_dir_ = dir;
    if (is_cgroupfs(dir)) {
      auto program = load_device_program();
      Status s = program.ok() ? attach_device_program(dir, program->get()) : Status(std::move(program).error());
      if (!s.ok()) note_failure("device allow-list (cgroup v2 device program)", s.error());
    }
    if (limits.memory_bytes) {
      auto s = write_cgroup_file(join_path(dir, "memory.max"), std::to_string(*limits.memory_bytes));
      if (s.ok()) s = write_cgroup_file(join_path(dir, "memory.swap.max"), "0");
      if (!s.ok() && path_exists(join_path(dir, "memory.max")) && !path_exists(join_path(dir, "memory.swap.max")))
        s = {};  // no swap accounting: memory.max alone holds
      if (!s.ok()) note_failure("memory limit", s.error());
    }
    if (limits.cpu_millis) {
      auto s = write_cgroup_file(join_path(dir, "cpu.max"), std::to_string(*limits.cpu_millis * 100) + " 100000");
      if (!s.ok()) note_failure("cpu limit", s.error());
    }
    if (limits.pids) {
      auto s = write_cgroup_file(join_path(dir, "pids.max"), std::to_string(*limits.pids));
      if (!s.ok()) note_failure("pids limit", s.error());
    }
    return cg;
  }

  for (const char* c : kV1Controllers) {
    std::string controller = c;
    std::string base = join_path(root, controller);
    if (!is_directory(base)) {
      cg.notes_.push_back("cgroup v1 " + controller + " controller is not mounted");
      continue;
    }
    std::string dir = join_path(base, std::string(kCgroupParent) + "/" + id);
    auto made = make_group(join_path(base, kCgroupParent));
    if (made.ok()) made = make_group(dir);
    if (!made.ok()) {
      note_failure(controller + " controller", made.error());
      continue;
    }
    cg.dirs_.push_back(dir);
    Status s;
    if (controller == "memory") {
      cg.memory_dir_ = dir;
      if (limits.memory_bytes) {
        s = write_cgroup_file(join_path(dir, "memory.limit_in_bytes"), std::to_string(*limits.memory_bytes));
        // With swap accounting, swap counts too; without it the file is absent.
        std::string memsw = join_path(dir, "memory.memsw.limit_in_bytes");
        if (s.ok() && is_cgroupfs(dir) && path_exists(memsw))
          s = write_cgroup_file(memsw, std::to_string(*limits.memory_bytes));
      }
    } else if (controller == "cpu" && limits.cpu_millis) {
      s = write_cgroup_file(join_path(dir, "cpu.cfs_period_us"), "100000");
      if (s.ok()) s = write_cgroup_file(join_path(dir, "cpu.cfs_quota_us"), std::to_string(*limits.cpu_millis * 100));
    } else if (controller == "pids" && limits.pids) {
      s = write_cgroup_file(join_path(dir, "pids.max"), std::to_string(*limits.pids));
    } else if (controller == "freezer") {
      cg.freezer_dir_ = dir;
    } else if (controller == "devices") {
      // Deny everything first, then allow the list: a group inherits "a *:* rwm".
      s = write_cgroup_file(join_path(dir, "devices.deny"), "a");
      for (const auto& line : v1_device_allow_lines()) {
        if (!s.ok()) break;
        s = write_cgroup_file(join_path(dir, "devices.allow"), line);
      }
      if (!s.ok()) {
        // The group would allow every device: better none at all.
        (void)remove_cgroup_dir(dir);
        cg.dirs_.pop_back();
        note_failure("device allow-list (cgroup v1 devices)", s.error());
        continue;
      }
    }
    if (!s.ok()) note_failure(controller + " limit", s.error());
  }
  return cg;
}

SandboxCgroup::SandboxCgroup(SandboxCgroup&& other) noexcept { *this = std::move(other); }

SandboxCgroup& SandboxCgroup::operator=(SandboxCgroup&& other) noexcept {
  if (this != &other) {
    (void)destroy();
    mode_ = other.mode_;
    dirs_ = std::move(other.dirs_);
    memory_dir_ = std::move(other.memory_dir_);
    freezer_dir_ = std::move(other.freezer_dir_);
    notes_ = std::move(other.notes_);
    other.dirs_.clear();
    other.memory_dir_.clear();
    other.freezer_dir_.clear();
  }
  return *this;
}

SandboxCgroup::~SandboxCgroup() { (void)destroy(); }

Status SandboxCgroup::add_process(pid_t pid) {
  for (const auto& dir : dirs_)
    KRUNBOX_TRY_CTX(write_cgroup_file(join_path(dir, "cgroup.procs"), std::to_string(pid)),
                    "moving the sandbox into its cgroup");
  return {};
}

Result<std::vector<UniqueFd>> SandboxCgroup::open_join_files() const {
  std::vector<UniqueFd> files;
  const char* name = mode_ == CgroupMode::kV2 ? "cgroup.procs" : "tasks";
  for (const auto& dir : dirs_) {
    std::string path = join_path(dir, name);
    // O_CREAT only matters for the fake trees of tests: cgroupfs has the file.
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_CREAT, 0644));
    if (!fd) return Error::from_errno("opening " + path + " for the sandbox to join its cgroup");
    files.push_back(std::move(fd));
  }
  return files;
}

Status SandboxCgroup::freeze() {
  if (freezer_dir_.empty()) return Error(ErrorCode::kUnsupported, "no writable cgroup freezer on this host");
  if (mode_ == CgroupMode::kV2) {
    KRUNBOX_TRY(write_cgroup_file(join_path(freezer_dir_, "cgroup.freeze"), "1"));
    return wait_for_content(join_path(freezer_dir_, "cgroup.events"), "frozen 1", 5s);
  }
  KRUNBOX_TRY(write_cgroup_file(join_path(freezer_dir_, "freezer.state"), "FROZEN"));
  if (!is_cgroupfs(freezer_dir_)) return {};
  return wait_for_content(join_path(freezer_dir_, "freezer.state"), "FROZEN", 5s);
}

Status SandboxCgroup::thaw() {
  if (freezer_dir_.empty()) return Error(ErrorCode::kUnsupported, "no writable cgroup freezer on this host");
  if (mode_ == CgroupMode::kV2) return write_cgroup_file(join_path(freezer_dir_, "cgroup.freeze"), "0");
  return write_cgroup_file(join_path(freezer_dir_, "freezer.state"), "THAWED");
}

std::optional<std::vector<pid_t>> SandboxCgroup::processes() const {
  if (dirs_.empty()) return std::nullopt;
  auto procs = read_file(join_path(dirs_.front(), "cgroup.procs"), 1 << 20);
  if (!procs.ok()) return std::nullopt;
  std::vector<pid_t> out;
  std::istringstream in(*procs);
  pid_t pid = 0;
  while (in >> pid) out.push_back(pid);
  return out;
}

std::optional<uint64_t> SandboxCgroup::oom_kills() const {
  if (memory_dir_.empty()) return std::nullopt;
  if (mode_ == CgroupMode::kV2) return read_counter(join_path(memory_dir_, "memory.events"), "oom_kill");
  return read_counter(join_path(memory_dir_, "memory.oom_control"), "oom_kill");
}

Status SandboxCgroup::destroy() {
  Status first;
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    auto s = remove_cgroup_dir(*it);
    if (!s.ok() && first.ok()) first = std::move(s);
  }
  dirs_.clear();
  memory_dir_.clear();
  freezer_dir_.clear();
  return first;
}

}  // namespace krunbox::native
