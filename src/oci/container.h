// OCI containers over krunbox's long-lived sandboxes. A container is one
// sandbox of a state store under the runtime's --root, whose id is the
// SHA-256 of the container id (any runc-valid id maps to a 64-hex sandbox
// id, and nothing has to be looked up), with oci.json beside its
// config.json for what the OCI state adds (bundle, rootfs, created,
// annotations). Its pid is the sandbox's attached monitor (monitor.h).
//   <root>/state/<sandbox id>/{config.json,state.json,oci.json,...}
//   <root>/monitors/<sandbox id:16>.sock
//   <root>/run/   the engines' run dirs (KRUNBOX_RUN_DIR, unless set)
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "krunbox/error.h"
#include "sandbox/lifecycle.h"

namespace krunbox::oci {

// runc's global flags.
struct GlobalOptions {
  std::string root = "/run/krunbox-runc";
  std::string log;                  // append log lines here (besides stderr)
  std::string log_format = "text";  // text | json
  bool debug = false;
  bool systemd_cgroup = false;  // accepted; krunbox's cgroups are its own
};

// runc's rule: letters, digits, '_', '+', '-', '.', at most 1024 bytes, not "." or "..".
Status check_container_id(std::string_view id);
std::string sandbox_id_for(std::string_view container_id);

struct ContainerRecord {
  std::string id;
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339 with nanoseconds, UTC
  std::map<std::string, std::string> annotations;
};

enum class ContainerStatus { kCreated, kRunning, kPaused, kStopped };
std::string_view to_string(ContainerStatus status);

struct Container {
  ContainerRecord record;
  std::string sandbox_id;
  ContainerStatus status = ContainerStatus::kStopped;
  pid_t pid = 0;  // the monitor's while it lives
};

// runc's state document.
Json state_json(const Container& container);
// Now, as runc writes `created`.
std::string rfc3339_now();

class Containers {
 public:
  // Sets KRUNBOX_RUN_DIR to <root>/run when unset, so the engines' run dirs
  // (and their leftover sweeps) are this runtime's own.
  explicit Containers(const GlobalOptions& options);

  Lifecycle& lifecycle() { return lifecycle_; }
  const std::string& state_root() const { return state_root_; }
  const std::string& socket_root() const { return socket_root_; }

  // "container does not exist" (kNotFound) for an unknown id.
  Result<Container> load(const std::string& id);
  // Every container whose create finished, sorted by creation.
  Result<std::vector<Container>> list();
  Status save_record(const std::string& sandbox_id, const ContainerRecord& record);

 private:
  Result<Container> load_sandbox(const std::string& sandbox_id);

  std::string state_root_;
  std::string socket_root_;
  Lifecycle lifecycle_;
};

}  // namespace krunbox::oci
