#include "sandbox/checkpoints.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/fs.h"
#include "base/json.h"
#include "base/paths.h"

namespace krunbox {
namespace {

constexpr const char* kInfoFile = "checkpoint.json";
constexpr const char* kStagingPrefix = ".new-";
constexpr int kFormatVersion = 1;

Error not_found(const std::string& name) {
  return Error(ErrorCode::kNotFound, "no checkpoint named '" + name + "' (krunbox checkpoint ls lists them)");
}

// The pid in a staging directory's name, ".new-<name>.<pid>"; 0 if none.
pid_t staging_pid(const std::string& entry) {
  size_t dot = entry.rfind('.');
  if (dot == std::string::npos || dot + 1 >= entry.size()) return 0;
  pid_t pid = 0;
  for (char c : entry.substr(dot + 1)) {
    if (c < '0' || c > '9' || pid > 4194304) return 0;
    pid = pid * 10 + (c - '0');
  }
  return pid;
}

uint64_t disk_usage(const std::string& dir) {
  uint64_t total = 0;
  auto entries = list_dir(dir);
  if (!entries) return 0;
  for (const auto& e : *entries) {
    struct stat st {};
    if (::lstat(join_path(dir, e).c_str(), &st) == 0 && S_ISREG(st.st_mode)) total += uint64_t(st.st_blocks) * 512;
  }
  return total;
}

}  // namespace

Status check_checkpoint_name(std::string_view name) {
  auto valid_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  };
  if (name.empty() || name.size() > 128 || !std::all_of(name.begin(), name.end(), valid_char) || name[0] == '.' ||
      name[0] == '_' || name[0] == '-')
    return Error(ErrorCode::kInvalidArgument,
                 "checkpoint name '" + std::string(name.substr(0, 200)) +
                     "' is not 1-128 characters of letters, digits, '_', '.' and '-' starting with a letter or digit")
        .with_field("checkpoint", std::string(name.substr(0, 200)));
  return {};
}

Json to_json(const CheckpointInfo& info) {
  return Json{{"version", kFormatVersion},       {"name", info.name},
              {"created_at", info.created_at},   {"source_id", info.source_id},
              {"source_name", info.source_name}, {"backend", info.backend},
              {"config", to_json(info.config)},  {"main_session", info.main_session}};
}

Result<CheckpointInfo> checkpoint_from_json(const Json& j) {
  if (!j.is_object()) return Error(ErrorCode::kInvalidArgument, "checkpoint.json is not a JSON object");
  CheckpointInfo info;
  try {
    int version = j.at("version").get<int>();
    if (version != kFormatVersion)
      return Error(ErrorCode::kUnsupported, "checkpoint.json has format version " + std::to_string(version) +
                                                "; this krunbox reads version " + std::to_string(kFormatVersion));
    info.name = j.at("name").get<std::string>();
    info.created_at = j.at("created_at").get<int64_t>();
    info.source_id = j.at("source_id").get<std::string>();
    info.source_name = j.value("source_name", std::string());
    info.backend = j.at("backend").get<std::string>();
    info.main_session = j.at("main_session").get<uint32_t>();
  } catch (const Json::exception& e) {
    return Error(ErrorCode::kInvalidArgument, std::string("checkpoint.json: ") + e.what());
  }
  KRUNBOX_TRY(check_checkpoint_name(info.name));
  if (!j.contains("config")) return Error(ErrorCode::kInvalidArgument, "checkpoint.json has no config");
  KRUNBOX_ASSIGN_OR_RETURN(info.config, config_from_json(j["config"]).wrap("checkpoint.json's config"));
  return info;
}

CheckpointStore paused_checkpoint_store(const StateStore& sandboxes, const std::string& id) {
  return CheckpointStore(sandboxes.dir(id));
}

bool is_paused_to_disk(const StateStore& sandboxes, const std::string& id) {
  return is_directory(paused_checkpoint_store(sandboxes, id).dir(kPausedCheckpoint));
}

CheckpointStore::CheckpointStore(std::string root)
    : root_(root.empty() ? join_path(data_root(), "checkpoints") : std::move(root)) {}

std::string CheckpointStore::dir(const std::string& name) const {
  return join_path(root_, name);
}

Result<std::string> CheckpointStore::begin(const std::string& name) const {
  KRUNBOX_TRY(check_checkpoint_name(name));
  KRUNBOX_TRY(make_dirs(root_, 0700));
  if (path_exists(dir(name)))
    return Error(ErrorCode::kAlreadyExists, "a checkpoint named '" + name +
                                                "' exists already; pick another name or remove it "
                                                "(krunbox checkpoint rm " +
                                                name + ")");
  std::string staging = join_path(root_, kStagingPrefix + name + "." + std::to_string(::getpid()));
  if (::mkdir(staging.c_str(), 0700) != 0) return Error::from_errno("mkdir " + staging);
  return staging;
}

Status CheckpointStore::commit(const std::string& staging, const CheckpointInfo& info) const {
  KRUNBOX_TRY(write_file_atomic(join_path(staging, kInfoFile), to_json(info).dump(2) + "\n", 0600));
  // The directory's entries reach the disk before its name does.
  if (int fd = ::open(staging.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
  if (::renameat2(AT_FDCWD, staging.c_str(), AT_FDCWD, dir(info.name).c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY)
      return Error(ErrorCode::kAlreadyExists, "a checkpoint named '" + info.name + "' was made meanwhile");
    return Error::from_errno("renaming " + staging + " to " + dir(info.name));
  }
  if (int fd = ::open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); fd >= 0) {
    (void)::fsync(fd);
    ::close(fd);
  }
  return {};
}

void CheckpointStore::abandon(const std::string& staging) const {
  (void)remove_tree(staging);
}

Result<CheckpointInfo> CheckpointStore::load(const std::string& name) const {
  KRUNBOX_TRY(check_checkpoint_name(name));
  std::string d = dir(name);
  if (!is_directory(d)) return not_found(name);
  auto j = read_json_file(join_path(d, kInfoFile), 4u << 20);
  if (!j) return std::move(j).error().wrap("checkpoint '" + name + "' is damaged");
  auto info = checkpoint_from_json(*j);
  if (!info) return std::move(info).error().wrap("checkpoint '" + name + "' is damaged");
  if (info->name != name)
    return Error(ErrorCode::kInvalidArgument,
                 "checkpoint '" + name + "' is damaged: its record names '" + info->name + "'");
  info->dir = d;
  info->size_bytes = disk_usage(d);
  return info;
}

Result<std::vector<CheckpointInfo>> CheckpointStore::list(std::vector<std::string>* broken) const {
  std::vector<CheckpointInfo> out;
  if (!is_directory(root_)) return out;
  KRUNBOX_ASSIGN_OR_RETURN(auto entries, list_dir(root_));
  std::sort(entries.begin(), entries.end());
  for (const auto& e : entries) {
    if (e.starts_with(".")) continue;
    auto info = load(e);
    if (info) {
      out.push_back(std::move(*info));
    } else if (broken) {
      broken->push_back(e + ": " + info.error().what());
    }
  }
  return out;
}

Status CheckpointStore::remove(const std::string& name, const StateStore& sandboxes) const {
  KRUNBOX_TRY(check_checkpoint_name(name));
  if (!is_directory(dir(name))) return not_found(name);
  KRUNBOX_ASSIGN_OR_RETURN(auto ids, sandboxes.list());
  for (const auto& id : ids) {
    auto config = sandboxes.load_config(id);
    if (config && config->checkpoint == name)
      return Error(ErrorCode::kIllegalState, "checkpoint '" + name + "' is the start of sandbox " + id.substr(0, 12) +
                                                 "; remove that sandbox first (krunbox rm)");
  }
  // Renamed away first, so that a removal cut short leaves no half checkpoint under the name.
  std::string doomed = join_path(root_, kStagingPrefix + name + ".rm." + std::to_string(::getpid()));
  if (::rename(dir(name).c_str(), doomed.c_str()) != 0) return Error::from_errno("renaming " + dir(name));
  return remove_tree(doomed);
}

std::vector<std::string> CheckpointStore::sweep_abandoned() const {
  std::vector<std::string> removed;
  auto entries = list_dir(root_);
  if (!entries) return removed;
  for (const auto& e : *entries) {
    if (!e.starts_with(kStagingPrefix)) continue;
    pid_t pid = staging_pid(e);
    if (pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM)) continue;
    if (remove_tree(join_path(root_, e)).ok())
      removed.push_back("removed unfinished checkpoint " + join_path(root_, e));
  }
  return removed;
}

}  // namespace krunbox
