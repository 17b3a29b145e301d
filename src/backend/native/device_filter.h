// Which device nodes a native sandbox may open: the few every program
// expects (null, zero, full, random, urandom, tty, ptmx and its pty slaves),
// read and write, and nothing may be created. Docker keeps the same list.
//
// Enforced by the kernel on the sandbox's cgroup: on v1 through the
// `devices` controller's devices.deny/devices.allow, on v2 through a
// BPF_PROG_TYPE_CGROUP_DEVICE program (v2 has no devices files). It backs up
// the other two layers, which hold on their own: the sandbox has no
// CAP_MKNOD, and its /dev is a nodev tmpfs with the allowed nodes bound in.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox::native {

struct DeviceRule {
  uint32_t major = 0;
  int64_t minor = -1;  // -1: every minor
};

// Character devices only; block devices are never allowed.
const std::vector<DeviceRule>& allowed_char_devices();

// The lines for a v1 devices.allow ("c 1:3 rw", "c 136:* rw"), one per write.
std::vector<std::string> v1_device_allow_lines();

// Loads the v2 program for allowed_char_devices().
Result<UniqueFd> load_device_program();

// Attaches `program` to the cgroup v2 directory `cgroup_dir`, beside any
// program a parent group has (BPF_F_ALLOW_MULTI: every one must allow).
Status attach_device_program(const std::string& cgroup_dir, int program);

}  // namespace krunbox::native
