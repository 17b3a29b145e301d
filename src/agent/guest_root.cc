#include "agent/guest_root.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/fs.h"
#include "base/log.h"
#include "base/unique_fd.h"

namespace krunbox::agent {
namespace {

Status mount_or_error(const std::string& source, const std::string& target, const char* fstype, unsigned long flags,
                      const std::string& data) {
  if (::mount(source.c_str(), target.c_str(), fstype, flags, data.empty() ? nullptr : data.c_str()) != 0)
    return Error::from_errno(std::string("mounting ") + (fstype ? fstype : "") + " " + source + " on " + target);
  return {};
}

Status wait_for_device(const std::string& device, int wait_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  struct stat st {};
  while (::stat(device.c_str(), &st) != 0 || !S_ISBLK(st.st_mode)) {
    if (std::chrono::steady_clock::now() >= deadline)
      return Error(ErrorCode::kNotFound, "root device " + device + " did not appear within " + std::to_string(wait_ms) +
                                             " ms (is virtio_blk loaded?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return {};
}

// Not fatal: a device that refuses only costs speed.
void set_readahead(const std::string& device, unsigned kb) {
  UniqueFd fd(::open(device.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd || ::ioctl(fd.get(), BLKRASET, static_cast<unsigned long>(kb) * 2) != 0)
    KB_WARN("setting the read-ahead of {} to {} KiB: {}", device, kb, std::strerror(errno));
}

}  // namespace

Status switch_to_guest_root(const GuestRootOptions& o) {
  KRUNBOX_TRY(wait_for_device(o.device, o.device_wait_ms));
  if (o.readahead_kb) set_readahead(o.device, o.readahead_kb);
  std::string lower = join_path(o.staging, "lower");
  std::string rw = join_path(o.staging, "rw");
  KRUNBOX_TRY(make_dirs(lower, 0755));
  KRUNBOX_TRY(make_dirs(rw, 0755));
  KRUNBOX_TRY(make_dirs(o.new_root, 0755));
  KRUNBOX_TRY(mount_or_error(o.device, lower, o.fstype.c_str(), MS_RDONLY | MS_NODEV, ""));
  KRUNBOX_TRY(mount_or_error("tmpfs", rw, "tmpfs", MS_NODEV, "mode=0755,size=" + o.upper_size));
  KRUNBOX_TRY(make_dirs(join_path(rw, "upper"), 0755));
  KRUNBOX_TRY(make_dirs(join_path(rw, "work"), 0755));
  KRUNBOX_TRY(mount_or_error("overlay", o.new_root, "overlay", 0,
                             "lowerdir=" + lower + ",upperdir=" + rw + "/upper,workdir=" + rw + "/work"));
  // The image's root directory mode and owner, not the tmpfs's.
  struct stat root_st {};
  if (::stat(lower.c_str(), &root_st) == 0) {
    ::chmod(o.new_root.c_str(), root_st.st_mode & 07777);
    ::chown(o.new_root.c_str(), root_st.st_uid, root_st.st_gid);
  }
  // /dev, /proc and /sys come along with their submounts (/dev/pts, /dev/shm).
  for (const char* m : {"/dev", "/proc", "/sys"}) {
    std::string target = o.new_root + m;
    if (!is_directory(target)) KRUNBOX_TRY(make_dirs(target, 0755));
    if (::mount(m, target.c_str(), nullptr, MS_MOVE, nullptr) != 0) {
      // Not every one is always mounted (mount_basics logs failures); the
      // agent mounts what is missing again once in the new root.
      KB_DEBUG("moving {} into the new root: {}", m, std::strerror(errno));
    }
  }
  if (::chdir(o.new_root.c_str()) != 0) return Error::from_errno("chdir " + o.new_root);
  // The initramfs is the kernel's rootfs and cannot be unmounted or
  // pivot_root'ed away; moving the new root over "/" and chroot'ing into it
  // is how an initramfs hands over.
  if (::mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) return Error::from_errno("moving the new root onto /");
  if (::chroot(".") != 0) return Error::from_errno("chroot into the new root");
  if (::chdir("/") != 0) return Error::from_errno("chdir /");
  return {};
}

}  // namespace krunbox::agent
