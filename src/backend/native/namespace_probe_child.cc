#include "backend/native/namespace_probe_child.h"

#include <sched.h>
#include <unistd.h>

#include <cerrno>

namespace krunbox::native {

void namespace_probe_child(int clone_flags) {
  if (::unshare(clone_flags) != 0) ::_exit(errno > 0 && errno < 256 ? errno : 255);
  ::_exit(0);
}

}  // namespace krunbox::native
