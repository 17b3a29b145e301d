// Starting a workload for an exec request: everything that can allocate or
// fail with a message (user lookup, PATH search, environment, pty) happens
// here in the agent; the forked child only runs spawn_child.cc.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "krunbox/error.h"
#include "proto/messages.h"

namespace krunbox::agent {

inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct SpawnPlan {
  std::string path;  // resolved executable
  std::vector<std::string> argv;
  std::vector<std::string> env;
  std::string cwd = "/";
  bool set_ids = false;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  bool tty = false;
  unsigned short rows = 24, cols = 80;
  bool stdin_open = true;
};

// `base_env` is the image environment (the agent's own, as the backend set it).
Result<SpawnPlan> plan_exec(const proto::ExecRequest& request, const std::vector<std::string>& base_env,
                            const std::string& etc_dir = "/etc");

struct Spawned {
  pid_t pid = -1;
  UniqueFd stdin_w;  // pipe to the workload's stdin, or the pty master
  UniqueFd stdout_r;  // pipe, or the pty master (a dup)
  UniqueFd stderr_r;  // invalid with a pty
};

// Forks and execs; returns once the child has exec'd, or the reason it could not.
Result<Spawned> spawn_workload(const SpawnPlan& plan);

// Merges K=V `overrides` into `base` by key, later entries winning.
std::vector<std::string> merge_env(const std::vector<std::string>& base, const std::vector<std::string>& overrides);
// Looks `name` up in the PATH value `path` (or returns it if it holds a slash).
Result<std::string> find_executable(const std::string& name, const std::string& path);

}  // namespace krunbox::agent
