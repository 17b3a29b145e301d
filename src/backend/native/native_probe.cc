#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <seccomp.h>

#include "backend/native/cgroup_probe.h"
#include "backend/native/namespace_probe_child.h"
#include "backend/probe.h"
#include "base/fs.h"

namespace krunbox {
namespace {

// Creates the namespace in a throwaway child: the only reliable test, since
// sysctls, LSMs and seccomp filters of an outer container can each forbid it.
ProbeCheck probe_namespace(const char* name, int flag) {
  ProbeCheck c{std::string(name) + " namespace", false, ""};
  pid_t pid = ::fork();
  if (pid < 0) {
    c.detail = std::string("fork failed: ") + std::strerror(errno);
    return c;
  }
  if (pid == 0) native::namespace_probe_child(flag);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    c.ok = true;
    c.detail = "created";
  } else if (WIFEXITED(status)) {
    c.detail = std::string("unshare failed: ") + std::strerror(WEXITSTATUS(status));
  } else {
    c.detail = "probe child died";
  }
  return c;
}

// cgroup mode and which controllers we can create groups in (mkdirs).
void add_cgroup_check(BackendReport& r) {
  auto cg = native::probe_cgroups();
  std::string cg_detail = std::string(native::to_string(cg.mode));
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
  };
  if (!cg.writable.empty()) cg_detail += "; writable: " + join(cg.writable);
  if (!cg.not_writable.empty()) cg_detail += "; not writable: " + join(cg.not_writable);
  bool cg_ok = cg.mode != native::CgroupMode::kNone && !cg.writable.empty();
  if (!cg_ok) cg_detail += "; memory/cpu/pids limits will not be enforced";
  r.checks.push_back({"cgroups", cg_ok, cg_detail});
}

// Without creating one: the kernel's limit on user namespaces.
bool user_namespaces_enabled() {
  auto max = read_file("/proc/sys/user/max_user_namespaces", 64);
  return max.ok() && std::atoi(max->c_str()) > 0;
}

// full: also create each namespace in a throwaway child and probe the cgroup
// controllers (7 forks and some mkdirs, most of a CLI call's own time).
BackendReport probe_native_checks(bool full) {
  BackendReport r;
  r.backend = "native";
  r.level = IsolationLevel::kContainer;
  r.isolation = "container (Linux namespaces, seccomp, capabilities, cgroups; shares the host kernel)";

  struct Ns {
    const char* name;
    int flag;
    bool required;
  };
  const Ns namespaces[] = {
      {"mount", CLONE_NEWNS, true}, {"pid", CLONE_NEWPID, true}, {"net", CLONE_NEWNET, true},
      {"uts", CLONE_NEWUTS, true},  {"ipc", CLONE_NEWIPC, true}, {"user", CLONE_NEWUSER, false},
      {"cgroup", CLONE_NEWCGROUP, false},
  };
  for (const auto& ns : namespaces) {
    if (!full) break;
    auto c = probe_namespace(ns.name, ns.flag);
    if (!c.ok && ns.required) r.reasons.push_back(c.name + ": " + c.detail);
    r.checks.push_back(std::move(c));
  }

  // seccomp: the kernel supports filters if PR_GET_SECCOMP works, and libseccomp
  // must know the kernel's API level.
  ProbeCheck sc{"seccomp", false, ""};
  if (::prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0) {
    sc.detail = std::string("kernel without seccomp: ") + std::strerror(errno);
  } else {
    unsigned api = seccomp_api_get();
    sc.ok = api >= 1;
    sc.detail = "filter mode available (libseccomp API level " + std::to_string(api) + ")";
  }
  if (!sc.ok) r.reasons.push_back("seccomp: " + sc.detail);
  r.checks.push_back(sc);

  auto filesystems = read_file("/proc/filesystems", 64 * 1024);
  bool overlay = filesystems && filesystems->find("\toverlay\n") != std::string::npos;
  r.checks.push_back({"overlayfs", overlay,
                      overlay ? "available: per-sandbox writable layer over the shared image"
                              : "not in /proc/filesystems: roots will be copied (slower start, more disk)"});

  if (full) add_cgroup_check(r);

  bool root = ::geteuid() == 0;
  r.checks.push_back({"privileges", root, root ? "running as root" : "not root: needs a user namespace"});
  if (!root) {
    bool userns = full ? std::any_of(r.checks.begin(), r.checks.end(),
                                     [](const ProbeCheck& c) { return c.name == "user namespace" && c.ok; })
                       : user_namespaces_enabled();
    if (!userns) r.reasons.push_back("not root and user namespaces are unavailable");
  }
  r.usable = r.reasons.empty();
  return r;
}

}  // namespace

BackendReport probe_native() { return probe_native_checks(/*full=*/true); }
BackendReport probe_native_quick() { return probe_native_checks(/*full=*/false); }

}  // namespace krunbox
