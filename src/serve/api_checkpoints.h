// The checkpoint endpoints (api_checkpoints.cc; docs/checkpoints.md).
// Internal to the API.
#pragma once

#include <string>
#include <vector>

#include "krunbox/error.h"
#include "sandbox/lifecycle.h"
#include "serve/http.h"

namespace krunbox::serve {

// `rest`: the path's segments after "checkpoints"; the method already
// checked by the router: GET /v1/checkpoints, GET|DELETE /v1/checkpoints/{name}.
Result<HttpResponse> checkpoints_endpoint(const std::vector<std::string>& rest, const HttpRequest& request);
// POST /v1/sandboxes/{id}/checkpoint {"name", "leave_running"}: 201 and the
// checkpoint's document. The request is checked before the sandbox is looked
// up, as every action's is.
Result<HttpResponse> checkpoint_endpoint(const std::string& sandbox, const HttpRequest& request);

}  // namespace krunbox::serve
