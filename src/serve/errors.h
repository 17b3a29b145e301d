// The API's one error shape, {"error":{"code":"...","message":"..."}}, and
// the one mapping from the library's ErrorCode to an HTTP status.
#pragma once

#include <string>
#include <string_view>

#include "krunbox/error.h"
#include "proto/messages.h"
#include "serve/http.h"

namespace krunbox::serve {

// kInvalidArgument 400, kPermissionDenied 403, kNotFound 404,
// kAlreadyExists/kIllegalState 409, kLimitExceeded 413, kUnsupported 422,
// kUnavailable/kCancelled 503, kTimeout 504, everything else 500.
int http_status(ErrorCode code);
// The "code" field is proto::error_code_name's ("invalid_argument", "not_found", ...),
// the names the monitor's replies use too.
using proto::error_code_name;

// A JSON error response with `status` and the code named by `code`.
HttpResponse error_response(int status, std::string_view code, std::string_view message);
// The library's error, with its status and its full text as the message.
HttpResponse error_response(const Error& error);

// The JSON body alone, for the listener's own errors (413, 431, 503).
std::string error_body(std::string_view code, std::string_view message);

}  // namespace krunbox::serve
