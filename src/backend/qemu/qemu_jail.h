// Confinement of the QEMU process, after Firecracker's jailer: QEMU parses
// what the guest sends (virtio rings, serial bytes, QMP), so a guest that
// breaks QEMU must find as little as possible around it.
//
// - PR_SET_PDEATHSIG: QEMU gets SIGKILL when the thread that spawned it ends.
// - its own mount namespace whose root is a small tmpfs (pivot_root) holding
//   /usr read-only (QEMU, its libraries and firmware), a /dev tmpfs with
//   /dev/null and, when used, a /dev/kvm node of its own owned by the jail
//   uid, the kernel, initramfs and root image bound read-only under /boot,
//   and the sandbox's socket dir at /vm. Nothing else of the host is visible.
// - an unprivileged uid/gid of its own (a lease per sandbox, see UidLease),
//   with no supplementary groups.
// - a cgroup (memory and pids limits) where cgroups are writable.
// - no_new_privs, then QEMU's own seccomp filter (-sandbox on,...).
// The namespace, chroot and uid need root; without root QEMU runs with
// no_new_privs, the death signal and its seccomp filter only.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "backend/linux/cgroup.h"
#include "base/unique_fd.h"
#include "base/unique_pid.h"
#include "krunbox/error.h"

namespace krunbox {

// Inside the jail: the socket/log dir and the read-only boot files.
inline constexpr const char* kJailVmDir = "/vm";
inline constexpr const char* kJailBootDir = "/boot";

// The uids leased to jailed QEMU processes: kJailUidBase + slot, slot <
// kJailUidSlots; gid = uid. Far above the ranges distributions and subuid
// maps hand out, so no host user or container maps onto them.
inline constexpr uid_t kJailUidBase = 2'000'000'000;
inline constexpr uint32_t kJailUidSlots = 65536;

// One uid held for one sandbox: an flock on <dir>/<slot>, held by the owner
// process for the sandbox's life. A crashed owner releases it with its fds
// (and its QEMU dies with it through the death signal), so nothing leaks.
class UidLease {
 public:
  // Tries slots from hash(seed) on, so concurrent sandboxes rarely contend.
  static Result<UidLease> acquire(const std::string& dir, const std::string& seed);
  uid_t uid() const { return uid_; }

 private:
  UniqueFd lock_;
  uid_t uid_ = 0;
};

// A cgroup per QEMU process, under krunbox-qemu/<id> in each writable
// controller (memory and pids; v1 hierarchies or one v2 group). Kept apart
// from the native backend's krunbox/<id> groups, which that backend sweeps.
class QemuCgroup {
 public:
  struct Limits {
    uint64_t memory_bytes = 0;
    uint32_t pids = 0;
  };
  // Never fails: a controller that cannot be used is noted (notes()).
  static QemuCgroup create(const std::string& root, const std::string& id, const Limits& limits);

  // The cgroup.procs files the child writes "0" to, joining before exec.
  std::vector<std::string> procs_files() const;
  const std::vector<std::string>& dirs() const { return set_.dirs(); }
  const std::vector<std::string>& notes() const { return notes_; }
  // Removes the groups; the process in them must be gone.
  void destroy() { (void)set_.destroy(); }

 private:
  CgroupSet set_;
  std::vector<std::string> notes_;
};

// The group directories a QEMU of sandbox `id` may have under `root`.
std::vector<std::string> qemu_cgroup_dirs_for(const std::string& root, const std::string& id);

struct QemuJailSpec {
  // Own mount namespace with a minimal root (needs root).
  bool mount_namespace = false;
  std::string jail_root;  // an empty directory the tmpfs root is mounted on
  // Read-only files: host path -> name under kJailBootDir.
  std::vector<std::pair<std::string, std::string>> boot_files;
  std::string vm_dir;  // host dir shown at kJailVmDir, writable by the jail uid
  bool kvm = false;    // a /dev/kvm node for the jail uid
  // Drop to this uid/gid (uid = gid), with no supplementary groups.
  std::optional<uid_t> uid;
  std::vector<std::string> cgroup_procs;
  std::string log_file;  // QEMU's stdout and stderr, appended
};

// Forks and execs argv[0] (an absolute path that must also exist inside the
// jail: QEMU under /usr) inside the jail. Returns once the exec succeeded, or
// the step that failed in the child with its errno.
Result<UniquePid> spawn_jailed(const std::vector<std::string>& argv, const QemuJailSpec& spec);

}  // namespace krunbox
