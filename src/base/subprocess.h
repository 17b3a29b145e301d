// Spawning helper programs (qemu, virtiofsd, mkfs, the vmm helper) with pipes,
// deadlines and guaranteed cleanup. Built on posix_spawn, so no code of ours
// runs in the child between fork and exec.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/unique_fd.h"
#include "base/unique_pid.h"
#include "krunbox/error.h"

namespace krunbox {

// kFile: appended to the path in SpawnOptions::stdout_file / stderr_file.
enum class Stdio { kInherit, kPipe, kNull, kFile };

struct SpawnOptions {
  // nullopt: the child gets our environment.
  std::optional<std::vector<std::string>> env;
  std::string cwd;
  Stdio stdin_mode = Stdio::kInherit;
  Stdio stdout_mode = Stdio::kInherit;
  Stdio stderr_mode = Stdio::kInherit;
  std::string stdout_file;
  std::string stderr_file;
  // Our fd -> the fd number it gets in the child. Every other fd above 2 is closed.
  std::vector<std::pair<int, int>> keep_fds;
  bool new_process_group = false;
  // Search $PATH for argv[0] when it has no slash.
  bool search_path = true;
};

class Subprocess {
 public:
  static Result<Subprocess> spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

  Subprocess(Subprocess&&) = default;
  Subprocess& operator=(Subprocess&&) = default;

  pid_t pid() const { return process_.get(); }
  UniqueFd& stdin_fd() { return stdin_; }
  UniqueFd& stdout_fd() { return stdout_; }
  UniqueFd& stderr_fd() { return stderr_; }
  UniquePid& process() { return process_; }

  Status kill(int sig) { return process_.kill(sig); }
  Result<ExitStatus> wait() { return process_.wait(); }
  Result<std::optional<ExitStatus>> wait_for(std::chrono::milliseconds t) { return process_.wait_for(t); }

 private:
  Subprocess() = default;
  UniquePid process_;
  UniqueFd stdin_, stdout_, stderr_;
};

struct RunOptions {
  std::optional<std::vector<std::string>> env;
  std::string cwd;
  std::string stdin_data;
  // Killed with SIGKILL (and reported as kTimeout) past this.
  std::chrono::milliseconds timeout{std::chrono::seconds(60)};
  // Output past this is dropped (and `truncated` set), so a chatty child cannot exhaust memory.
  size_t max_output = 4u << 20;
};

struct RunOutput {
  ExitStatus status;
  std::string out;
  std::string err;
  bool truncated = false;
};

// Runs a program to completion, capturing stdout and stderr.
Result<RunOutput> run_capture(const std::vector<std::string>& argv, const RunOptions& options = {});

// Looks a program up in $PATH (or returns it unchanged if it holds a slash and exists).
std::optional<std::string> find_program(const std::string& name);

}  // namespace krunbox
