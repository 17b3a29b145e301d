// For the suites that make sandboxes with the CLI and then drive them
// through the library, as a program linking krunbox would.
#pragma once

#include "base/fs.h"
#include "lifecycle_env.h"
#include "sandbox/lifecycle.h"

namespace krunbox::lifecycle_test {

// The library's view of a World: its data root and run dir.
inline Lifecycle lifecycle_of(const World& w) {
  return Lifecycle(StateStore(join_path(w.data(), "lifecycle"), join_path(w.run(), "monitors")));
}

}  // namespace krunbox::lifecycle_test
