#include "backend/native/cgroups.h"

#include <chrono>
#include <sstream>
#include <thread>

#include "backend/native/device_filter.h"
#include "base/fs.h"

namespace krunbox::native {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string>& v1_controllers() {
  static const std::vector<std::string> all = {"memory", "cpu", "pids", "freezer", "devices"};
  return all;
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

// v2: the limits and the device program, all on the one group.
void apply_v2(const std::string& dir, const CgroupLimits& limits, std::vector<std::string>& notes) {
  auto note_failure = [&](const std::string& what, const Error& e) { notes.push_back(what + " not enforced: " + e.what()); };
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
}

// v1: one write per controller's group; `devices` denies all, then allows the list.
Status apply_v1(const std::string& controller, const std::string& dir, const CgroupLimits& limits) {
  if (controller == "memory" && limits.memory_bytes) {
    KRUNBOX_TRY(write_cgroup_file(join_path(dir, "memory.limit_in_bytes"), std::to_string(*limits.memory_bytes)));
    // With swap accounting, swap counts too; without it the file is absent.
    std::string memsw = join_path(dir, "memory.memsw.limit_in_bytes");
    if (is_cgroupfs(dir) && path_exists(memsw)) KRUNBOX_TRY(write_cgroup_file(memsw, std::to_string(*limits.memory_bytes)));
  } else if (controller == "cpu" && limits.cpu_millis) {
    KRUNBOX_TRY(write_cgroup_file(join_path(dir, "cpu.cfs_period_us"), "100000"));
    KRUNBOX_TRY(write_cgroup_file(join_path(dir, "cpu.cfs_quota_us"), std::to_string(*limits.cpu_millis * 100)));
  } else if (controller == "pids" && limits.pids) {
    KRUNBOX_TRY(write_cgroup_file(join_path(dir, "pids.max"), std::to_string(*limits.pids)));
  } else if (controller == "devices") {
    // A new group inherits "a *:* rwm": deny everything first.
    KRUNBOX_TRY(write_cgroup_file(join_path(dir, "devices.deny"), "a"));
    for (const auto& line : v1_device_allow_lines()) KRUNBOX_TRY(write_cgroup_file(join_path(dir, "devices.allow"), line));
  }
  return {};
}

}  // namespace

std::vector<std::string> cgroup_dirs_for(const std::string& root, const std::string& id) {
  return cgroup_group_dirs(root, kCgroupParent, id, v1_controllers());
}

std::vector<std::string> list_cgroup_sandbox_ids(const std::string& root) {
  return list_cgroup_group_ids(root, kCgroupParent, v1_controllers());
}

Result<SandboxCgroup> SandboxCgroup::create(const std::string& root, const std::string& id,
                                            const CgroupLimits& limits) {
  SandboxCgroup cg;
  cg.set_ = CgroupSet::create(root, kCgroupParent, id, v1_controllers());
  if (cg.set_.missing()) {
    cg.notes_.push_back("no cgroup file system at " + root + ": memory, cpu and pids limits are not enforced");
    return cg;
  }
  cg.notes_ = cg.set_.notes();
  if (cg.set_.v2()) {
    if (cg.set_.dirs().empty()) {
      cg.notes_.push_back("memory, cpu and pids limits are not enforced");
      return cg;
    }
    std::string dir = cg.set_.dirs().front();
    cg.memory_dir_ = dir;
    if (path_exists(join_path(dir, "cgroup.freeze"))) cg.freezer_dir_ = dir;
    apply_v2(dir, limits, cg.notes_);
    return cg;
  }
  for (const auto& controller : v1_controllers()) {
    std::string dir = cg.set_.dir(controller);
    if (dir.empty()) continue;
    Status s = apply_v1(controller, dir, limits);
    if (controller == "devices" && !s.ok()) {
      // The group would allow every device: better none at all.
      (void)cg.set_.drop(controller);
      cg.notes_.push_back("device allow-list (cgroup v1 devices) not enforced: " + s.error().what());
      continue;
    }
    if (!s.ok()) cg.notes_.push_back(controller + " limit not enforced: " + s.error().what());
    if (controller == "memory") cg.memory_dir_ = dir;
    if (controller == "freezer") cg.freezer_dir_ = dir;
  }
  return cg;
}

Status SandboxCgroup::freeze() {
  if (freezer_dir_.empty()) return Error(ErrorCode::kUnsupported, "no writable cgroup freezer on this host");
  if (set_.v2()) {
    KRUNBOX_TRY(write_cgroup_file(join_path(freezer_dir_, "cgroup.freeze"), "1"));
    return wait_for_content(join_path(freezer_dir_, "cgroup.events"), "frozen 1", 5s);
  }
  KRUNBOX_TRY(write_cgroup_file(join_path(freezer_dir_, "freezer.state"), "FROZEN"));
  if (!is_cgroupfs(freezer_dir_)) return {};
  return wait_for_content(join_path(freezer_dir_, "freezer.state"), "FROZEN", 5s);
}

Status SandboxCgroup::thaw() {
  if (freezer_dir_.empty()) return Error(ErrorCode::kUnsupported, "no writable cgroup freezer on this host");
  if (set_.v2()) return write_cgroup_file(join_path(freezer_dir_, "cgroup.freeze"), "0");
  return write_cgroup_file(join_path(freezer_dir_, "freezer.state"), "THAWED");
}

std::optional<std::vector<pid_t>> SandboxCgroup::processes() const {
  if (set_.dirs().empty()) return std::nullopt;
  return cgroup_processes(set_.dirs().front());
}

std::optional<uint64_t> SandboxCgroup::oom_kills() const {
  if (memory_dir_.empty()) return std::nullopt;
  if (set_.v2()) return read_counter(join_path(memory_dir_, "memory.events"), "oom_kill");
  return read_counter(join_path(memory_dir_, "memory.oom_control"), "oom_kill");
}

Status SandboxCgroup::destroy() {
  memory_dir_.clear();
  freezer_dir_.clear();
  return set_.destroy();
}

}  // namespace krunbox::native
