// The agent requests krunbox sends to start processes, and their size
// limit. The agent takes one request of at most proto::kMaxControlPayload
// bytes (64 KiB of JSON: argv, env, cwd, user...). A bigger one is refused
// by the agent only once the sandbox runs, and costs the agent connection,
// so every request is measured here first: before a sandbox starts (run,
// create, start) and before an exec is sent.
#pragma once

#include <string>
#include <vector>

#include "backend/sandbox_spec.h"
#include "krunbox/error.h"
#include "proto/messages.h"

namespace krunbox {

// The request for a sandbox's main process (exec_request_for of
// main_workload, sandbox/workload.h): what create and start measure.
proto::ExecRequest main_process_request(const SandboxSpec& spec, const std::vector<std::string>& secret_env);

// kLimitExceeded unless `request` fits the agent's limits; the error gives
// the limit and the sizes of the command (argv) and the environment. First,
// kInvalidArgument if a string in it is not UTF-8: requests and sandbox
// records are JSON, which cannot carry it (a byte like 0x9b would otherwise
// be replaced, running another command than the one given, or abort krunbox).
Status check_exec_request_size(const proto::ExecRequest& request);

}  // namespace krunbox
