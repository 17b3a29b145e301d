// The on-disk record of long-lived sandboxes (docs/lifecycle.md):
//   <data_root>/lifecycle/<id>/config.json  what was asked for; written once at create
//   <data_root>/lifecycle/<id>/state.json   where it is now; rewritten on every change
//   <data_root>/lifecycle/<id>/lock         flock: one writer of state.json at a time
//   <data_root>/lifecycle/<id>/output.log   the main process's output (rotated to .1)
//   <run_root>/monitors/<id:16>.sock        the monitor's control socket
// Every file is written with write_file_atomic (temp + fsync + rename), so a
// crash leaves the old or the new version, never half of one. Secrets never
// appear here: config.json keeps only their names.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backend/sandbox.h"
#include "backend/sandbox_spec.h"
#include "base/json.h"
#include "base/process_ref.h"
#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox {

struct RestartPolicy {
  enum class Mode { kNo, kOnFailure, kAlways };
  Mode mode = Mode::kNo;
  uint32_t max_retries = 0;  // on-failure:N; 0 = unlimited
  bool operator==(const RestartPolicy&) const = default;
};
// "no", "on-failure", "on-failure:N", "always". Errors name kRestartField.
Result<RestartPolicy> parse_restart_policy(std::string_view text);
inline constexpr const char* kRestartField = "restart";
// The fields check_sandbox_timeouts' errors name.
inline constexpr const char* kTtlField = "ttl";
inline constexpr const char* kIdleTimeoutField = "idle_timeout";
std::string to_string(const RestartPolicy& policy);

struct SandboxConfig {
  SandboxSpec spec;     // spec.env holds no secret
  std::string backend;  // the backend resolved at create
  std::string image;    // what the user named (image ref or --rootfs DIR)
  RestartPolicy restart;
  std::vector<std::string> secret_names;
  int64_t created_at = 0;                     // unix seconds
  std::map<std::string, std::string> labels;  // checked by check_labels
  // Enforced by the monitor, so they hold without any client: each run is
  // stopped `ttl` after its start (extendable while it runs), or once no
  // client has used it for `idle_timeout`. 0: never.
  std::chrono::seconds ttl{0};
  std::chrono::seconds idle_timeout{0};
  // The checkpoint (sandbox/checkpoints.h) this sandbox was made from; each
  // of its starts restores it instead of booting. Empty: boots.
  std::string checkpoint;
};

// The longest time to live and idle timeout: 30 days.
inline constexpr std::chrono::seconds kMaxSandboxTimeout{30ll * 24 * 3600};
Status check_sandbox_timeouts(std::chrono::seconds ttl, std::chrono::seconds idle_timeout);

// Labels: at most 64, keys of 1-128 printable ASCII bytes without '=' or
// ',', values up to 4 KiB without NUL or newline.
Status check_labels(const std::map<std::string, std::string>& labels);

// "KEY" (the label is set) or "KEY=VALUE" (set to VALUE), as in ps's filters.
struct LabelFilter {
  std::string key;
  std::optional<std::string> value;
};
Result<LabelFilter> parse_label_filter(std::string_view text);
// Whether `labels` pass every filter.
bool matches_labels(const std::map<std::string, std::string>& labels, const std::vector<LabelFilter>& filters);

struct SandboxStatus {
  SandboxState state = SandboxState::kCreated;
  std::optional<ProcessRef> monitor;
  int64_t run = 0;                        // how many times `start` began a run
  uint32_t restart_count = 0;             // restarts by the restart policy in this run
  bool restarting = false;                // waiting out the back-off before a restart
  std::optional<ExitStatus> exit_status;  // of the main process, once it ended
  std::string reason;                     // why it stopped or crashed
  int64_t started_at = 0;
  int64_t finished_at = 0;
  std::vector<PortMapping> ports;  // as bound (host port 0 resolved)
  int64_t deadline = 0;            // unix seconds: when the monitor stops this run (ttl); 0: none
};

Json to_json(const SandboxSpec& spec);
Result<SandboxSpec> spec_from_json(const Json& j);
Json to_json(const SandboxConfig& config);
Result<SandboxConfig> config_from_json(const Json& j);
Json to_json(const SandboxStatus& status);
Result<SandboxStatus> status_from_json(const Json& j);
Result<SandboxState> parse_sandbox_state(std::string_view text);

// An flock held until destruction.
class FileLock {
 public:
  static Result<FileLock> acquire(const std::string& path, bool exclusive = true);
  FileLock(FileLock&&) = default;
  FileLock& operator=(FileLock&&) = default;

 private:
  explicit FileLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

class StateStore {
 public:
  // `root` defaults to <data_root>/lifecycle, `sockets` to <run_root>/monitors.
  explicit StateStore(std::string root = "", std::string sockets = "");

  const std::string& root() const { return root_; }
  std::string dir(const std::string& id) const;
  std::string socket_path(const std::string& id) const;
  std::string log_path(const std::string& id) const;
  std::string monitor_log_path(const std::string& id) const;

  // Ids of every stored sandbox, sorted.
  Result<std::vector<std::string>> list() const;
  // An id, a unique id prefix, or a name -> the full id.
  Result<std::string> resolve(const std::string& id_or_name) const;
  // kAlreadyExists naming the sandbox that has `name` (OK for an empty name).
  Status check_name_free(const std::string& name) const;

  // Creates the directory and config.json (and a Created state.json); fails
  // if the name is taken. Serialised by a store-wide lock.
  Status create(const SandboxConfig& config);
  Result<SandboxConfig> load_config(const std::string& id) const;
  Result<SandboxStatus> load_status(const std::string& id) const;
  Status save_status(const std::string& id, const SandboxStatus& status) const;
  Result<FileLock> lock(const std::string& id) const;
  Status remove(const std::string& id) const;

 private:
  std::string root_;
  std::string sockets_;
};

int64_t unix_now();

}  // namespace krunbox
