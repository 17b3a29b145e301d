// A process named by pid plus start time, so a recycled pid is never mistaken
// for the process it once was (state files outlive the processes they name).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>

namespace krunbox {

struct ProcessRef {
  pid_t pid = 0;
  uint64_t start_time = 0;  // field 22 of /proc/PID/stat: clock ticks since boot
  bool operator==(const ProcessRef&) const = default;
};

// The running process `pid` with its start time, or nullopt if it is gone.
std::optional<ProcessRef> process_ref(pid_t pid);
// True while that exact process (same pid and start time) exists.
bool process_alive(const ProcessRef& p);

}  // namespace krunbox
