#include "backend/native/seccomp_profile.h"

#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "base/unique_fd.h"

namespace krunbox::native {
namespace {

struct CtxDeleter {
  void operator()(scmp_filter_ctx ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

Error seccomp_error(const std::string& what, int rc) {
  return Error(ErrorCode::kInternal, "building the seccomp filter: " + what + ": " + std::strerror(-rc), -rc);
}

}  // namespace

const std::vector<std::string>& seccomp_blocked_syscalls() {
  // Docker's default profile (moby profiles/seccomp/default.json) allows a
  // fixed list and grants these only with capabilities we never give:
  // kernel modules, clocks, keyrings, mounts and namespaces, tracing of other
  // processes' memory, BPF and perf, swap, reboot, obsolete interfaces. The new
  // mount API and io_uring are listed because Docker also leaves them out.
  static const std::vector<std::string> names = {
      "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module", "delete_module",
      "finit_module", "fsconfig", "fsmount", "fsopen", "fspick", "get_kernel_syms", "get_mempolicy",
      "init_module", "io_uring_enter", "io_uring_register", "io_uring_setup", "ioperm", "iopl", "kcmp",
      "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount", "mount_setattr",
      "move_mount", "move_pages", "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree",
      "perf_event_open", "pidfd_getfd", "pivot_root", "process_vm_readv", "process_vm_writev", "query_module",
      "quotactl", "quotactl_fd", "reboot", "request_key", "set_mempolicy", "setns", "settimeofday", "stime",
      "swapoff", "swapon", "syslog", "sysfs", "_sysctl", "umount", "umount2", "unshare", "uselib",
      "userfaultfd", "ustat", "vm86", "vm86old",
  };
  return names;
}

Result<SeccompProgram> build_default_seccomp_program() {
  Ctx ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return Error(ErrorCode::kInternal, "building the seccomp filter: seccomp_init failed");
  uint32_t native = seccomp_arch_native();
  if (native == SCMP_ARCH_X86_64) {
    for (uint32_t arch : {SCMP_ARCH_X86, SCMP_ARCH_X32}) {
      int rc = seccomp_arch_add(ctx.get(), arch);
      if (rc != 0 && rc != -EEXIST) return seccomp_error("adding the 32-bit architectures", rc);
    }
  }
  const uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  for (const auto& name : seccomp_blocked_syscalls()) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not a syscall libseccomp knows
    int rc = seccomp_rule_add(ctx.get(), eperm, nr, 0);
    // A syscall absent on one of the architectures is not an error.
    if (rc != 0 && rc != -EDOM && rc != -EOPNOTSUPP) return seccomp_error("blocking " + name, rc);
  }
  // clone with any namespace flag: the same as unshare. (Flags are argument 0
  // on x86; other ABIs would need their own index.)
  for (uint64_t flag : {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET,
                        CLONE_NEWCGROUP}) {
    int rc = seccomp_rule_add(ctx.get(), eperm, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
    if (rc != 0) return seccomp_error("restricting clone", rc);
  }
  // clone3 passes its flags in memory, where a filter cannot look; ENOSYS makes
  // libc fall back to clone (Docker does the same).
  int clone3 = seccomp_syscall_resolve_name("clone3");
  if (clone3 != __NR_SCMP_ERROR) {
    int rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), clone3, 0);
    if (rc != 0 && rc != -EDOM) return seccomp_error("blocking clone3", rc);
  }
  // The compiled program goes through a memfd: libseccomp only exports to an fd.
  UniqueFd mem(::memfd_create("krunbox-seccomp", MFD_CLOEXEC));
  if (!mem) return Error::from_errno("building the seccomp filter: memfd_create");
  int rc = seccomp_export_bpf(ctx.get(), mem.get());
  if (rc != 0) return seccomp_error("exporting the program", rc);
  struct stat st {};
  if (::fstat(mem.get(), &st) != 0) return Error::from_errno("building the seccomp filter: fstat");
  if (st.st_size <= 0 || st.st_size % sizeof(sock_filter) != 0 || st.st_size > 64 * 1024 * 8)
    return Error(ErrorCode::kInternal, "building the seccomp filter: exported program has odd size " +
                                           std::to_string(st.st_size));
  SeccompProgram program;
  program.filter.resize(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  if (::lseek(mem.get(), 0, SEEK_SET) != 0) return Error::from_errno("building the seccomp filter: lseek");
  KRUNBOX_TRY_CTX(read_exact(mem.get(), program.filter.data(), static_cast<size_t>(st.st_size)),
                  "reading the exported seccomp program");
  return program;
}

int install_seccomp_program(const sock_fprog* program) {
  if (::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, program, 0, 0) != 0) return errno;
  return 0;
}

}  // namespace krunbox::native
