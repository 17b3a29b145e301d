// The default seccomp filter of native sandboxes: Docker's default profile
// expressed as a blocklist (every syscall Docker's profile denies to a
// container without extra capabilities fails with EPERM; clone3 fails with
// ENOSYS so libc falls back to clone, whose flags we can inspect).
//
// The filter is compiled with libseccomp in the parent; the child installs the
// finished BPF program with one prctl, which neither allocates nor locks.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "krunbox/error.h"

namespace krunbox::native {

struct SeccompProgram {
  std::vector<sock_filter> filter;
  sock_fprog fprog() { return sock_fprog{static_cast<unsigned short>(filter.size()), filter.data()}; }
};

// The names blocked outright (EPERM); those unknown to this libseccomp are skipped.
const std::vector<std::string>& seccomp_blocked_syscalls();

// Compiles the default profile for the native architecture and its 32-bit
// companions (x86 and x32 on x86_64), so int 0x80 cannot step around it.
Result<SeccompProgram> build_default_seccomp_program();

// Installs `program` in the calling thread; needs no_new_privs (or CAP_SYS_ADMIN).
// Async-signal-safe: returns 0 or the errno.
int install_seccomp_program(const sock_fprog* program);

}  // namespace krunbox::native
