// For a VM booted from an initramfs (the qemu backend): the sandbox's root is
// a read-only block device (an EROFS image of the rootfs). The agent mounts
// it under a tmpfs overlay, so the guest can write anywhere while the image
// stays untouched, moves /dev, /proc and /sys across, and makes the overlay
// its root before serving.
#pragma once

#include <string>

#include "krunbox/error.h"

namespace krunbox::agent {

struct GuestRootOptions {
  std::string device;  // e.g. /dev/vda
  std::string fstype = "erofs";
  std::string staging = "/.krunbox";  // where the lower and tmpfs mounts live (in the initramfs)
  std::string new_root = "/newroot";
  // Size of the tmpfs holding the writable layer; "50%" of RAM like Docker's tmpfs default.
  std::string upper_size = "50%";
  int device_wait_ms = 10000;  // the block device appears once virtio_blk has probed it
  // Read-ahead of the root device, set before mounting. The kernel's 128 KiB
  // default turns a workload's first start into many small reads, each a
  // round trip through the virtual device: with 4 MiB, `true` from a cold
  // busybox image ends ~40 ms sooner under emulation. 0 keeps the default.
  unsigned readahead_kb = 4096;
};

// Must run as PID 1 in the initramfs after the block driver is loaded and
// /dev, /proc and /sys are mounted. On success the process's root and cwd are
// the new root.
Status switch_to_guest_root(const GuestRootOptions& options);

}  // namespace krunbox::agent
