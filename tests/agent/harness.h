// Starting krunbox-agent for the integration tests, either as a plain child
// of the test or as PID 1 of new PID and mount namespaces chrooted into a
// busybox root filesystem built in a temp dir.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "base/temp_dir.h"
#include "base/unique_fd.h"
#include "base/unique_pid.h"
#include "krunbox/error.h"
#include "proto/agent_client.h"

namespace krunbox::testing {

enum class Mode { kChild, kPid1 };

inline std::string mode_name(const ::testing::TestParamInfo<Mode>& info) {
  return info.param == Mode::kChild ? "Child" : "Pid1";
}

std::string agent_binary();

// A busybox root filesystem (with /etc/passwd, /tmp and the agent in /sbin).
Result<TempDir> make_rootfs();

// Why Mode::kPid1 cannot run here, or empty.
std::string pid1_unavailable();

struct AgentProcess {
  Mode mode = Mode::kChild;
  UniquePid process;  // the agent, or the `unshare` holding it
  TempDir rootfs;     // PID 1 mode only
  UniqueFd host_fd;   // when started raw
  std::unique_ptr<proto::AgentClient> client;

  // The agent's pid as this test sees it.
  pid_t agent_pid() const;
  // Host path of a guest path.
  std::string host_path(const std::string& guest) const;
  // The agent's peak resident set (VmHWM), in bytes.
  uint64_t peak_rss() const;
  // The agent's live children (zombies included).
  std::vector<pid_t> children() const;
  // Waits for the agent (or its unshare) to end; false on timeout.
  bool wait_exit(std::chrono::milliseconds timeout);
};

struct LaunchOptions {
  bool raw = false;  // no AgentClient; the test speaks frames on host_fd
  std::vector<std::string> extra_args;
};

Result<std::unique_ptr<AgentProcess>> launch(Mode mode, const LaunchOptions& options = {});

proto::ExecRequest sh(const std::string& script);
proto::ExecRequest cmd(std::vector<std::string> argv);

}  // namespace krunbox::testing
