#include "backend/native/native_backend.h"

#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "backend/native/cgroups.h"
#include "backend/native/mount_plan.h"
#include "backend/native/native_capabilities.h"
#include "backend/native/native_sandbox.h"
#include "backend/native/run_state.h"
#include "base/dir_lease.h"
#include "base/fs.h"
#include "base/paths.h"
#include "base/unique_fd.h"

namespace krunbox {
namespace {

using namespace std::chrono_literals;

class NativeBackend final : public Backend {
 public:
  std::string_view name() const override { return "native"; }
  BackendReport probe() const override { return probe_native(); }

  BackendCapabilities capabilities() const override { return native::capabilities(); }

 protected:
  Result<std::unique_ptr<Sandbox>> make_sandbox(const SandboxSpec& spec) override {
    if (!is_directory(spec.rootfs))
      return Error(ErrorCode::kNotFound, "rootfs " + spec.rootfs + " is not a directory");
    KRUNBOX_TRY(native::resolve_volumes(spec.volumes));
    return std::unique_ptr<Sandbox>(new native::NativeSandbox(spec, native::NativeOptions{}));
  }
};

// Waits until the exact process is gone (it is not our child: no waitpid).
bool wait_gone(const native::ProcessRef& p, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (native::process_alive(p)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

}  // namespace

std::unique_ptr<Backend> make_native_backend() { return std::make_unique<NativeBackend>(); }

namespace native {

Result<std::vector<std::string>> sweep_leftovers(const SweepOptions& options) {
  std::string root = options.run_root.empty() ? run_root() : options.run_root;
  std::string cgroup_root = options.cgroup_root.empty() ? "/sys/fs/cgroup" : options.cgroup_root;
  std::string dir = sandboxes_dir(root);
  std::vector<std::string> removed;
  Status first;
  auto keep = [&](Status s) {
    if (!s.ok() && first.ok()) first = std::move(s);
  };

  KRUNBOX_ASSIGN_OR_RETURN(std::vector<std::string> ids, list_dir(dir));
  for (const auto& id : ids) {
    std::string run_dir = join_path(dir, id);
    if (is_lease_temp_name(id)) {
      // A run dir cut off between its mkdir and its rename.
      if (temp_lease_state(run_dir) == LeaseState::kAbandoned && remove_tree(run_dir).ok())
        removed.push_back("removed " + run_dir);
      continue;
    }
    if (id[0] == '.') continue;
    // Held: a live krunbox process owns it, however young it is. The owner
    // check also covers run dirs made before leases (no owner.lock).
    if (lease_state(run_dir) == LeaseState::kHeld) continue;
    auto state = read_run_state(run_dir);
    if (state.ok() && process_alive(state->owner)) continue;
    // The owner is gone. Its sandbox normally died with it (parent-death
    // signal), but make sure before removing the files under it.
    if (state.ok() && state->pid1 && process_alive(*state->pid1)) {
      ::kill(state->pid1->pid, SIGKILL);
      if (!wait_gone(*state->pid1, 5s))
        keep(Error(ErrorCode::kTimeout, "sandbox " + id + ": PID 1 (" + std::to_string(state->pid1->pid) +
                                            ") survived SIGKILL for 5 s"));
    }
    std::string cg_root = state.ok() && !state->cgroup_root.empty() ? state->cgroup_root : cgroup_root;
    bool groups_gone = true;
    for (const auto& cg : cgroup_dirs_for(cg_root, id)) {
      Status st = remove_cgroup_dir(cg);
      groups_gone = groups_gone && st.ok();
      keep(std::move(st));
    }
    // The run dir names the groups: it stays until they are gone, for the next sweep.
    if (!groups_gone) continue;
    auto gone = remove_tree(run_dir);
    if (gone.ok()) removed.push_back("sandbox " + id + ": removed " + run_dir);
    keep(std::move(gone));
  }

  // A group never outlives its run dir (cleanup and this sweep keep the run
  // dir until its groups are gone), so a group with no run dir here is
  // another run dir's sandbox's, and is left alone.
  if (!first.ok()) return std::move(first).error().wrap("sweeping native sandbox leftovers in " + dir);
  return removed;
}

}  // namespace native

Status sweep_native_leftovers() {
  auto r = native::sweep_leftovers({});
  if (!r.ok()) return std::move(r).error();
  return {};
}

}  // namespace krunbox
