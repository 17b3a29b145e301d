// Named checkpoints of long-lived sandboxes: the store under
// <data root>/checkpoints/<name>/ (docs/checkpoints.md).
//
// A checkpoint directory holds checkpoint.json (what this file describes:
// the sandbox's configuration, where it came from, the guest session of its
// main process) beside the engine's own files (backend/qemu/qemu_checkpoint.h:
// memory, root disk, engine facts). It is made in a hidden directory
// ".new-<name>.<pid>" and renamed into place once complete, so a checkpoint
// that was killed half-way never lists, and the next gc removes its remains.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"
#include "sandbox/state_store.h"

namespace krunbox {

struct CheckpointInfo {
  std::string name;
  int64_t created_at = 0;  // unix seconds
  std::string source_id;   // the sandbox it was made of
  std::string source_name;
  std::string backend;
  SandboxConfig config;       // the source's, as it was recorded
  uint32_t main_session = 0;  // the main process's guest session (proto::AdoptRequest)
  uint64_t size_bytes = 0;    // of every file in the directory (filled by load)
  std::string dir;            // where it is (filled by load)
};

// 1-128 characters of [A-Za-z0-9_.-], starting with a letter or digit.
Status check_checkpoint_name(std::string_view name);

class CheckpointStore {
 public:
  // `root` defaults to <data_root>/checkpoints.
  explicit CheckpointStore(std::string root = "");
  const std::string& root() const { return root_; }
  std::string dir(const std::string& name) const;

  // A new, empty hidden directory for checkpoint `name`; kAlreadyExists if
  // a checkpoint of that name exists.
  Result<std::string> begin(const std::string& name) const;
  // Writes checkpoint.json into `staging` (from begin) and renames it to the
  // checkpoint's place; fails without replacing if the name was taken
  // meanwhile.
  Status commit(const std::string& staging, const CheckpointInfo& info) const;
  // Removes a staging directory that will not be committed.
  void abandon(const std::string& staging) const;

  Result<CheckpointInfo> load(const std::string& name) const;
  // Every checkpoint, by name; one that does not load is listed with its
  // error in `broken` (when given) and otherwise skipped.
  Result<std::vector<CheckpointInfo>> list(std::vector<std::string>* broken = nullptr) const;
  // Refuses while a sandbox in `sandboxes` was created from it.
  Status remove(const std::string& name, const StateStore& sandboxes) const;
  // Staging directories whose process is gone; returns what it removed.
  std::vector<std::string> sweep_abandoned() const;

 private:
  std::string root_;
};

// A persistent pause (pause --to-disk) is a checkpoint named "paused" in the
// sandbox's own record directory, so it goes with the sandbox: the store of
// those checkpoints for sandbox `id`.
inline constexpr const char* kPausedCheckpoint = "paused";
CheckpointStore paused_checkpoint_store(const StateStore& sandboxes, const std::string& id);
bool is_paused_to_disk(const StateStore& sandboxes, const std::string& id);

Json to_json(const CheckpointInfo& info);
Result<CheckpointInfo> checkpoint_from_json(const Json& j);

}  // namespace krunbox
