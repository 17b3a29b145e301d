#include "backend/linux/cgroup.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <set>
#include <sstream>
#include <thread>

#include "base/fs.h"

#ifndef CGROUP_SUPER_MAGIC
#define CGROUP_SUPER_MAGIC 0x27e0eb
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

namespace krunbox {
namespace {

using namespace std::chrono_literals;

Status make_group_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) return {};
  return Error::from_errno("creating cgroup " + dir);
}

// The controllers v2 enables through cgroup.subtree_control.
std::string v2_enable_line(const std::vector<std::string>& controllers) {
  std::string line;
  for (const auto& c : controllers) {
    if (c == "freezer" || c == "devices") continue;
    line += (line.empty() ? "+" : " +") + c;
  }
  return line;
}

}  // namespace

Status write_cgroup_file(const std::string& path, const std::string& value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC, 0644));
  if (!fd) return Error::from_errno("opening " + path);
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size()))
    return Error::from_errno("writing '" + value + "' to " + path);
  return {};
}

bool is_cgroupfs(const std::string& path) {
  struct statfs fs {};
  if (::statfs(path.c_str(), &fs) != 0) return false;
  return fs.f_type == CGROUP_SUPER_MAGIC || fs.f_type == CGROUP2_SUPER_MAGIC;
}

bool is_cgroup2_root(const std::string& root) {
  struct statfs fs {};
  if (::statfs(root.c_str(), &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return true;
  return !is_cgroupfs(root) && path_exists(join_path(root, "cgroup.controllers"));
}

std::optional<std::vector<pid_t>> cgroup_processes(const std::string& dir) {
  auto procs = read_file(join_path(dir, "cgroup.procs"), 1 << 20);
  if (!procs.ok()) return std::nullopt;
  std::vector<pid_t> out;
  std::istringstream in(*procs);
  pid_t pid = 0;
  while (in >> pid) out.push_back(pid);
  return out;
}

bool cgroup_has_processes(const std::string& dir) {
  auto procs = cgroup_processes(dir);
  return procs && !procs->empty();
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
    auto procs = cgroup_processes(dir);
    bool empty = true;
    for (pid_t pid : procs.value_or(std::vector<pid_t>{})) {
      empty = false;
      ::kill(pid, SIGKILL);
    }
    // A reaped process can linger in the group for a moment: EBUSY then.
    if (empty) {
      if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return {};
      if (errno != EBUSY) return Error::from_errno("removing cgroup " + dir);
    }
    if (std::chrono::steady_clock::now() > deadline)
      return Error(ErrorCode::kTimeout, "cgroup " + dir + " still has processes after 5 s of SIGKILL");
    std::this_thread::sleep_for(2ms);
  }
}

std::vector<std::string> cgroup_group_dirs(const std::string& root, const std::string& parent, const std::string& id,
                                           const std::vector<std::string>& controllers) {
  std::vector<std::string> dirs;
  for (const auto& c : controllers) dirs.push_back(join_path(root, c + "/" + parent + "/" + id));
  dirs.push_back(join_path(root, parent + "/" + id));
  return dirs;
}

std::vector<std::string> list_cgroup_group_ids(const std::string& root, const std::string& parent,
                                               const std::vector<std::string>& controllers) {
  std::set<std::string> ids;
  std::vector<std::string> parents;
  for (const auto& c : controllers) parents.push_back(join_path(root, c + "/" + parent));
  parents.push_back(join_path(root, parent));
  for (const auto& p : parents) {
    auto names = list_dir(p);
    if (!names.ok()) continue;  // unreadable: nothing of ours can be listed there
    for (auto& n : *names)
      if (is_directory(join_path(p, n))) ids.insert(n);
  }
  return {ids.begin(), ids.end()};
}

CgroupSet CgroupSet::create(const std::string& root, const std::string& parent, const std::string& id,
                            const std::vector<std::string>& controllers) {
  CgroupSet set;
  if (!is_directory(root)) {
    set.missing_ = true;
    set.notes_.push_back("no cgroup file system at " + root);
    return set;
  }
  if (is_cgroup2_root(root)) {
    set.v2_ = true;
    std::string top = join_path(root, parent);
    std::string dir = join_path(top, id);
    Status made = make_group_dir(top);
    if (made.ok()) made = make_group_dir(dir);
    if (!made.ok()) {
      set.notes_.push_back("cgroup " + parent + "/" + id + " not created: " + made.error().what());
      return set;
    }
    set.dirs_.push_back(dir);
    // Each level above the group must enable the controllers; what failed
    // shows as missing files when the backend writes its limits.
    std::string enable = v2_enable_line(controllers);
    if (!enable.empty()) {
      (void)write_cgroup_file(join_path(root, "cgroup.subtree_control"), enable);
      (void)write_cgroup_file(join_path(top, "cgroup.subtree_control"), enable);
    }
    return set;
  }
  for (const auto& c : controllers) {
    std::string base = join_path(root, c);
    if (!is_directory(base)) {
      set.notes_.push_back("cgroup v1 " + c + " controller is not mounted");
      continue;
    }
    std::string dir = join_path(base, parent + "/" + id);
    Status made = make_group_dir(join_path(base, parent));
    if (made.ok()) made = make_group_dir(dir);
    if (!made.ok()) {
      set.notes_.push_back(c + " controller not enforced: " + made.error().what());
      continue;
    }
    set.controllers_.push_back(c);
    set.dirs_.push_back(dir);
  }
  return set;
}

CgroupSet::CgroupSet(CgroupSet&& other) noexcept { *this = std::move(other); }

CgroupSet& CgroupSet::operator=(CgroupSet&& other) noexcept {
  if (this != &other) {
    (void)destroy();
    v2_ = other.v2_;
    missing_ = other.missing_;
    controllers_ = std::move(other.controllers_);
    dirs_ = std::move(other.dirs_);
    notes_ = std::move(other.notes_);
    other.controllers_.clear();
    other.dirs_.clear();
  }
  return *this;
}

CgroupSet::~CgroupSet() { (void)destroy(); }

std::string CgroupSet::dir(const std::string& controller) const {
  if (v2_) return dirs_.empty() ? std::string() : dirs_.front();
  for (size_t i = 0; i < controllers_.size(); ++i)
    if (controllers_[i] == controller) return dirs_[i];
  return {};
}

Status CgroupSet::drop(const std::string& controller) {
  for (size_t i = 0; i < controllers_.size(); ++i) {
    if (controllers_[i] != controller) continue;
    Status st = remove_cgroup_dir(dirs_[i]);
    controllers_.erase(controllers_.begin() + static_cast<long>(i));
    dirs_.erase(dirs_.begin() + static_cast<long>(i));
    return st;
  }
  return {};
}

Result<std::vector<UniqueFd>> CgroupSet::open_join_files() const {
  std::vector<UniqueFd> files;
  const char* name = v2_ ? "cgroup.procs" : "tasks";
  for (const auto& dir : dirs_) {
    std::string path = join_path(dir, name);
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_CREAT, 0644));
    if (!fd) return Error::from_errno("opening " + path + " to join the cgroup");
    files.push_back(std::move(fd));
  }
  return files;
}

Status CgroupSet::add_process(pid_t pid) {
  for (const auto& dir : dirs_) KRUNBOX_TRY(write_cgroup_file(join_path(dir, "cgroup.procs"), std::to_string(pid)));
  return {};
}

Status CgroupSet::destroy() {
  Status first;
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    auto s = remove_cgroup_dir(*it);
    if (!s.ok() && first.ok()) first = std::move(s);
  }
  dirs_.clear();
  controllers_.clear();
  return first;
}

}  // namespace krunbox
