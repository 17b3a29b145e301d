// Runs in a forked child: tries unshare(flags) and exits 0 on success or with
// the errno. Async-signal-safe; no allocation.
#pragma once

namespace krunbox::native {

[[noreturn]] void namespace_probe_child(int clone_flags);

}  // namespace krunbox::native
