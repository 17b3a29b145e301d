// Background commands in a running sandbox: started to outlive their
// client, kept by the sandbox's monitor with their output (the last
// kKeptOutputBytes of it) and their end, and reached again by exec id from
// any process of the same user. For the API's background execs; attach to
// one with ExecSession::attach. They end with the sandbox.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"
#include "sandbox/lifecycle.h"
#include "sandbox/monitor_messages.h"
#include "sandbox/workload.h"

namespace krunbox {

using KeptExecInfo = monitor::KeptExecInfo;

struct KeptExecStarted {
  std::string exec_id;
  int64_t pid = 0;
};

// Starts `workload` in running sandbox `id` (its stdin open when
// workload.stdin_open). kLimitExceeded when the sandbox already runs its
// maximum of background commands.
Result<KeptExecStarted> start_kept_exec(Lifecycle& lifecycle, const std::string& id, const Workload& workload);
// Running and ended ones, oldest first.
Result<std::vector<KeptExecInfo>> list_kept_execs(Lifecycle& lifecycle, const std::string& id);
Result<KeptExecInfo> kept_exec_info(Lifecycle& lifecycle, const std::string& id, const std::string& exec_id);
// Writes `data` to its stdin, then closes it if `close`; returns once the
// bytes went to the sandbox (so a later request cannot overtake them).
Status write_kept_exec_stdin(Lifecycle& lifecycle, const std::string& id, const std::string& exec_id,
                             std::string_view data, bool close);
Status signal_kept_exec(Lifecycle& lifecycle, const std::string& id, const std::string& exec_id, int signal);
Status resize_kept_exec(Lifecycle& lifecycle, const std::string& id, const std::string& exec_id, uint16_t rows,
                        uint16_t cols);

}  // namespace krunbox
