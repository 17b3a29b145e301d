// Parent-side helpers for sandbox_child.h: what the child's step codes mean,
// and the capability set it keeps.
#include <linux/capability.h>

#include <string>

#include "backend/native/sandbox_child.h"

namespace krunbox::native {

uint64_t default_capabilities() {
  uint64_t mask = 0;
  for (int cap : {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FSETID, CAP_FOWNER, CAP_NET_RAW, CAP_SETGID,
                  CAP_SETUID, CAP_SETFCAP, CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,
                  CAP_AUDIT_WRITE})
    mask |= uint64_t{1} << cap;
  return mask;
}

std::string describe_child_failure(const ChildFailure& f, const MountPlan& plan) {
  switch (static_cast<ChildStep>(f.step)) {
    case ChildStep::kNone: return "starting the sandbox";
    case ChildStep::kParentDeathSignal: return "setting the parent-death signal";
    case ChildStep::kWaitForParent: return "waiting for the host side to finish set-up";
    case ChildStep::kSignals: return "resetting the signal mask";
    case ChildStep::kCgroup: return "joining the sandbox's cgroup (" + std::to_string(f.index) + ")";
    case ChildStep::kMounts:
      if (f.index >= 0 && static_cast<size_t>(f.index) < plan.size()) return plan[f.index].describe();
      return "setting up mounts";
    case ChildStep::kHostname: return "setting the hostname";
    case ChildStep::kLoopback: return "bringing up the loopback interface";
    case ChildStep::kStdio: return "opening /dev/null for the agent's stdio";
    case ChildStep::kRlimits: return "setting resource limit " + std::to_string(f.index);
    case ChildStep::kCapabilityBounds: return "dropping capability " + std::to_string(f.index) + " from the bounding set";
    case ChildStep::kCapabilities: return "setting the capability sets";
    case ChildStep::kNoNewPrivs: return "setting no_new_privs";
    case ChildStep::kSeccomp: return "installing the seccomp filter";
    case ChildStep::kFds: return "arranging the agent's file descriptors";
    case ChildStep::kExecAgent: return "executing krunbox-agent";
  }
  return "starting the sandbox (step " + std::to_string(f.step) + ")";
}

}  // namespace krunbox::native
