#include "oci/container.h"

#include <cstdlib>

#include "base/fs.h"
#include "image/digest.h"
#include "image/image_index.h"

namespace krunbox::oci {
namespace {

constexpr const char* kRecordFile = "oci.json";

ContainerStatus status_of(const SandboxView& v) {
  if (!v.monitor_alive) return ContainerStatus::kStopped;
  switch (v.status.state) {
    case SandboxState::kCreated:
    case SandboxState::kStarting: return ContainerStatus::kCreated;
    case SandboxState::kRunning: return ContainerStatus::kRunning;
    case SandboxState::kPaused: return ContainerStatus::kPaused;
    case SandboxState::kStopped:
    case SandboxState::kCrashed: return ContainerStatus::kStopped;
  }
  return ContainerStatus::kStopped;
}

Result<ContainerRecord> record_from_json(const Json& j) {
  ContainerRecord r;
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string())
    return Error(ErrorCode::kCorrupt, "oci.json has no container id");
  r.id = j["id"].get<std::string>();
  r.bundle = j.value("bundle", "");
  r.rootfs = j.value("rootfs", "");
  r.created = j.value("created", "");
  if (auto it = j.find("annotations"); it != j.end() && it->is_object())
    for (const auto& [k, v] : it->items())
      if (v.is_string()) r.annotations[k] = v.get<std::string>();
  return r;
}

}  // namespace

Status check_container_id(std::string_view id) {
  if (id.empty()) return Error(ErrorCode::kInvalidArgument, "container id cannot be empty");
  bool ok = id.size() <= 1024 && id != "." && id != "..";
  for (char c : id)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '+' || c == '-' || c == '.');
  if (!ok)
    return Error(ErrorCode::kInvalidArgument, "invalid container id format: " + std::string(id.substr(0, 64)) +
                                                  " (letters, digits, '_', '+', '-' and '.', at most 1024 bytes)");
  return {};
}

std::string sandbox_id_for(std::string_view container_id) {
  return image::Sha256::of(container_id).hex();
}

std::string_view to_string(ContainerStatus s) {
  switch (s) {
    case ContainerStatus::kCreated: return "created";
    case ContainerStatus::kRunning: return "running";
    case ContainerStatus::kPaused: return "paused";
    case ContainerStatus::kStopped: return "stopped";
  }
  return "stopped";
}

std::string rfc3339_now() {
  return image::now_rfc3339();
}

Json state_json(const Container& c) {
  return {{"ociVersion", "1.0.2"},
          {"id", c.record.id},
          {"pid", c.pid},
          {"status", std::string(to_string(c.status))},
          {"bundle", c.record.bundle},
          {"rootfs", c.record.rootfs},
          {"created", c.record.created},
          {"owner", ""},
          {"annotations", c.record.annotations}};
}

Containers::Containers(const GlobalOptions& o)
    : state_root_(join_path(o.root, "state")),
      socket_root_(join_path(o.root, "monitors")),
      lifecycle_(StateStore(state_root_, socket_root_)) {
  ::setenv("KRUNBOX_RUN_DIR", join_path(o.root, "run").c_str(), /*overwrite=*/0);
}

Status Containers::save_record(const std::string& sandbox_id, const ContainerRecord& r) {
  Json j = {
      {"id", r.id}, {"bundle", r.bundle}, {"rootfs", r.rootfs}, {"created", r.created}, {"annotations", r.annotations}};
  return write_file_atomic(join_path(lifecycle_.store().dir(sandbox_id), kRecordFile), j.dump(), 0600);
}

Result<Container> Containers::load_sandbox(const std::string& sandbox_id) {
  Container c;
  c.sandbox_id = sandbox_id;
  KRUNBOX_ASSIGN_OR_RETURN(Json j, read_json_file(join_path(lifecycle_.store().dir(sandbox_id), kRecordFile)));
  KRUNBOX_ASSIGN_OR_RETURN(c.record, record_from_json(j));
  KRUNBOX_ASSIGN_OR_RETURN(auto view, lifecycle_.view(sandbox_id));
  c.status = status_of(view);
  if (c.status != ContainerStatus::kStopped && view.status.monitor) c.pid = view.status.monitor->pid;
  return c;
}

Result<Container> Containers::load(const std::string& id) {
  KRUNBOX_TRY(check_container_id(id));
  std::string sandbox_id = sandbox_id_for(id);
  // A create still under way has no oci.json yet: it does not exist so far.
  if (!path_exists(join_path(lifecycle_.store().dir(sandbox_id), kRecordFile)))
    return Error(ErrorCode::kNotFound, "container does not exist");
  return load_sandbox(sandbox_id);
}

Result<std::vector<Container>> Containers::list() {
  std::vector<Container> out;
  if (!path_exists(state_root_)) return out;
  KRUNBOX_ASSIGN_OR_RETURN(auto ids, lifecycle_.store().list());
  for (const auto& id : ids) {
    if (!path_exists(join_path(lifecycle_.store().dir(id), kRecordFile))) continue;
    auto c = load_sandbox(id);
    if (c) out.push_back(std::move(*c));
  }
  std::sort(out.begin(), out.end(),
            [](const Container& a, const Container& b) { return a.record.created < b.record.created; });
  return out;
}

}  // namespace krunbox::oci
