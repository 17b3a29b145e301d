// The API's success responses, in one place (errors are errors.h's).
#pragma once

#include <string>

#include "base/json.h"
#include "serve/http.h"

namespace krunbox::serve {

// Serialises for a response body; invalid UTF-8 (from an image's labels,
// a guest's reason) is replaced rather than failing the response.
std::string dump_json(const Json& j);
HttpResponse json_response(int status, const Json& j);
// 204, no body.
HttpResponse no_content();
// The client asked for the NDJSON event stream (Accept: application/x-ndjson).
bool wants_ndjson(const std::string& accept);

}  // namespace krunbox::serve
