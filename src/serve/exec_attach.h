// GET /v1/sandboxes/{id}/execs/{eid}/attach: a WebSocket onto a background
// command (docs/api.md), for an interactive terminal in a browser or an
// agent. The command's output (replayed from ?offset=N, default 0, then
// live) comes as binary messages whose first byte is the stream, 1 stdout
// or 2 stderr (a PTY's output is all 1), as Kubernetes' channel protocol
// does; binary messages from the client start with 0 and carry stdin. Text
// messages are JSON: the server's "start", "exit" and "error" events, and
// the client's "resize", "signal" and "close_stdin". Leaving the WebSocket
// leaves the command running.
#pragma once

#include <string>

#include "krunbox/error.h"
#include "sandbox/lifecycle.h"
#include "serve/http.h"

namespace krunbox::serve {

Result<HttpResponse> attach_endpoint(Lifecycle& lifecycle, const std::string& id, const std::string& exec_id,
                                     const HttpRequest& req);

}  // namespace krunbox::serve
