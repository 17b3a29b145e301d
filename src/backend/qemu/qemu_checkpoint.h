// What a checkpoint of a QEMU sandbox holds in its directory, and how it is
// written and read back:
//   memory       QEMU's migration stream of the paused VM (RAM and device
//                state), written through an fd passed over QMP, so neither
//                QEMU's seccomp filter (no exec: migration's "exec:" URI) nor
//                its jail (it cannot see the host's paths) is in the way;
//   root.img     the read-only root disk the guest ran with (a hard link to
//                the cached EROFS image where the file system allows, else a
//                copy), so a restore gets the very disk the guest's page
//                cache and mounted file system expect; everything the guest
//                wrote is in its tmpfs overlay, which is in RAM;
//   engine.json  what a restore must match: the QEMU version, the guest
//                kernel and initramfs files, the accelerator and the machine
//                shape.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "backend/qemu/qmp_client.h"
#include "base/json.h"
#include "krunbox/error.h"

namespace krunbox {

inline constexpr const char* kCheckpointMemoryFile = "memory";
inline constexpr const char* kCheckpointRootImage = "root.img";
inline constexpr const char* kCheckpointEngineFile = "engine.json";

struct QemuCheckpointFacts {
  std::string qemu_version;    // query-version's qemu.{major,minor,micro} and package
  std::string kernel;          // the guest kernel file: its size and change time
  std::string initramfs;       // the same for the initramfs (which holds the agent)
  std::string kernel_version;  // for messages
  bool kvm = false;
  uint64_t tsc_khz = 0;
  uint32_t vcpus = 1;
  uint32_t memory_mib = 0;
  bool has_root_image = false;
};

Json to_json(const QemuCheckpointFacts& facts);
Result<QemuCheckpointFacts> parse_checkpoint_facts(const Json& j);
// Fails naming the first fact in which `now` differs from `saved` and what to do.
Status check_restorable(const QemuCheckpointFacts& saved, const QemuCheckpointFacts& now);

// "<size>:<ctime ns>" of a file: any rebuild of the file changes it.
Result<std::string> file_identity(const std::string& path);
// QEMU's version as query-version reports it.
Result<std::string> qemu_version(QmpClient& qmp);

// Saves the state of a stopped VM into a new file `memory_path`, which is
// fsynced; a failure removes the file.
Status save_vm_state(QmpClient& qmp, const std::string& memory_path, std::chrono::milliseconds timeout);
// Loads `memory_path` into a QEMU started with `-incoming defer` and waits
// until the load has completed.
Status load_vm_state(QmpClient& qmp, const std::string& memory_path, std::chrono::milliseconds timeout);

// A hard link of `from` at `to`, or a copy where they are on different file
// systems.
Status link_or_copy(const std::string& from, const std::string& to);

}  // namespace krunbox
