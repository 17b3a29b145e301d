// `krunbox sh`: newline-separated commands from stdin, run one after another
// in one ephemeral sandbox, stopping at the first failure (unless keep_going).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "backend/sandbox_spec.h"
#include "krunbox/error.h"
#include "sandbox/workload.h"

namespace krunbox {

inline constexpr size_t kMaxScriptBytes = 16u << 20;
inline constexpr size_t kMaxScriptLineBytes = 256u << 10;

struct ScriptLine {
  size_t line_no = 0;  // 1-based, in the input
  std::string text;
};

// Skips blank lines and lines whose first non-blank character is '#'; drops
// a trailing '\r'. Rejects NUL bytes and over-long lines, naming the line.
Result<std::vector<ScriptLine>> parse_script(std::string_view text);

struct ScriptOptions {
  std::string backend = "auto";
  SandboxSpec spec;  // validated; argv is ignored
  std::string shell = "/bin/sh";
  bool keep_going = false;
  bool verbose = false;
  int out_fd = 1;
  int err_fd = 2;
};

struct ScriptOutcome {
  int exit_code = 0;   // 0, or the first failing command's (128+N for signal N); 128+N when interrupted by N
  std::optional<WorkloadOutcome> first_failure;
  size_t ran = 0;
  size_t failed = 0;
};

// Checks before anything starts: the root and the shell inside it exist.
Status preflight_script(const ScriptOptions& options);
Result<ScriptOutcome> run_script(const ScriptOptions& options, const std::vector<ScriptLine>& lines);

}  // namespace krunbox
