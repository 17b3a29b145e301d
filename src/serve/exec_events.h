// The NDJSON events of a streamed exec and of a background command's
// output (docs/api.md): one JSON object per line, in one place so both
// endpoints speak the same.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "base/json.h"
#include "krunbox/error.h"
#include "sandbox/output_ring.h"
#include "serve/exec_call.h"

namespace krunbox::serve {

// {exit_code, signal, timed_out}
Json exec_end_fields(const ExecEnd& end);
// {"type":"stdout"|"stderr","data":BASE64[,"offset":N]}
Json output_event(OutputStream stream, std::string_view data, std::optional<uint64_t> offset = std::nullopt);
// {"type":"exit",exit_code,signal,timed_out}
Json exit_event(const ExecEnd& end);
// {"type":"error","error":{"code","message"}}: the status line went out
// with the first event, so a later failure is an event.
Json error_event(const Error& error);

}  // namespace krunbox::serve
