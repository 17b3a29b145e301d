// GET /v1/events: what happens to sandboxes, as NDJSON lines while the
// client stays (docs/api.md). A line {"type": "keepalive"} comes after 15 s
// without events, so clients and proxies see the stream is alive and the
// server sees a client that left.
#pragma once

#include "krunbox/error.h"
#include "serve/http.h"

namespace krunbox::serve {

Result<HttpResponse> events_endpoint(const HttpRequest& req);

}  // namespace krunbox::serve
