#include "sandbox/checkpointing.h"

#include "base/fs.h"
#include "base/log.h"
#include "sandbox/provision.h"

namespace krunbox {
namespace {

using namespace std::chrono_literals;

// Saving RAM to disk: seconds for gigabytes; the bound is for a stalled disk.
constexpr auto kCheckpointTimeout = std::chrono::milliseconds(10min);

Status check_backend(const std::string& backend, const std::string& what) {
  if (backend == "qemu") return {};
  if (backend == "krun")
    return Error(ErrorCode::kUnsupported, what +
                                              " is on the krun backend, and libkrun has no call to save or load a "
                                              "VM's state; checkpoints need the qemu backend");
  if (backend == "native")
    return Error(ErrorCode::kUnsupported, what +
                                              " is on the native backend: saving processes outside a VM would take "
                                              "CRIU, which krunbox does not use; checkpoints need the qemu backend");
  return Error(ErrorCode::kUnsupported, what + " is on the " + backend +
                                            " backend, which cannot save its state; checkpoints need the qemu backend");
}

// Saves running or paused sandbox `id` into checkpoint `name` of `store`.
Status save_into(Lifecycle& lc, const std::string& id, const CheckpointStore& store, const std::string& name) {
  const std::string sid = id.substr(0, 12);
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, lc.view(id));
  KRUNBOX_TRY(check_backend(v.config.backend, "sandbox " + sid));
  if (!v.monitor_alive || (v.status.state != SandboxState::kRunning && v.status.state != SandboxState::kPaused))
    return Error(ErrorCode::kIllegalState, "sandbox " + sid + " is " + describe_status(v) +
                                               "; only a running or paused sandbox has a state to save");
  for (const auto& line : store.sweep_abandoned()) KB_INFO("{}", line);
  KRUNBOX_ASSIGN_OR_RETURN(std::string staging, store.begin(name));
  auto made = [&]() -> Status {
    KRUNBOX_ASSIGN_OR_RETURN(Json body, lc.call(id, monitor::CheckpointRequest{staging}, kCheckpointTimeout));
    KRUNBOX_ASSIGN_OR_RETURN(monitor::CheckpointDone done, monitor::parse_checkpoint_done(body));
    CheckpointInfo info;
    info.name = name;
    info.created_at = unix_now();
    info.source_id = id;
    info.source_name = v.config.spec.name;
    info.backend = v.config.backend;
    info.config = v.config;
    info.main_session = done.main_session;
    return store.commit(staging, info);
  }();
  if (!made.ok()) {
    store.abandon(staging);
    return std::move(made).error().wrap("checkpointing sandbox " + sid);
  }
  return {};
}

}  // namespace

Result<CheckpointInfo> checkpoint_sandbox(Lifecycle& lc, const CheckpointRequest& request) {
  KRUNBOX_TRY(check_checkpoint_name(request.name));
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, lc.resolve(request.sandbox));
  CheckpointStore store;
  KRUNBOX_TRY(save_into(lc, id, store, request.name));
  if (!request.leave_running)
    if (auto st = lc.stop(id, 0ms); !st.ok())
      return std::move(st).error().wrap("checkpoint '" + request.name + "' is made, but stopping sandbox " +
                                        id.substr(0, 12));
  return store.load(request.name);
}

Status pause_to_disk(Lifecycle& lc, const std::string& sandbox) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, lc.resolve(sandbox));
  CheckpointStore own = paused_checkpoint_store(lc.store(), id);
  KRUNBOX_TRY(save_into(lc, id, own, kPausedCheckpoint).wrap("pausing to disk"));
  // Stopped without a grace period: everything the guest holds is saved.
  if (auto st = lc.stop(id, 0ms); !st.ok()) {
    (void)remove_tree(own.dir(kPausedCheckpoint));
    return std::move(st).error().wrap("pausing sandbox " + id.substr(0, 12) + " to disk");
  }
  return {};
}

Result<std::string> create_from_checkpoint(Lifecycle& lc, const RestoreRequest& request) {
  KRUNBOX_TRY(sweep_leftovers());
  KRUNBOX_ASSIGN_OR_RETURN(CheckpointInfo info, CheckpointStore().load(request.checkpoint));
  KRUNBOX_TRY(check_backend(info.backend, "checkpoint '" + info.name + "'"));
  if (!request.labels.empty()) KRUNBOX_TRY(check_labels(request.labels));
  KRUNBOX_TRY(check_sandbox_timeouts(request.ttl, request.idle_timeout));
  KRUNBOX_TRY(lc.store().check_name_free(request.name));
  SandboxConfig config = info.config;
  config.checkpoint = info.name;
  config.restart = request.restart;
  config.ttl = request.ttl;
  config.idle_timeout = request.idle_timeout;
  if (!request.labels.empty()) config.labels = request.labels;
  // Its own identity: a new id, name and hostname. The disk is the
  // checkpoint's (the image root of the sandbox it was made of may be gone).
  SandboxSpec& spec = config.spec;
  spec.id = generate_sandbox_id();
  spec.name = request.name;
  spec.hostname = request.name.empty() ? spec.id.substr(0, 12) : request.name.substr(0, 63);
  if (!is_valid_hostname(spec.hostname)) spec.hostname = spec.id.substr(0, 12);
  spec.rootfs = info.dir;
  spec.rootfs_content_key.clear();
  spec.rootfs_is_private = false;
  // The secrets are in the saved process's environment already, and are not
  // asked for again.
  config.secret_names.clear();
  return lc.create(std::move(config), {});
}

}  // namespace krunbox
