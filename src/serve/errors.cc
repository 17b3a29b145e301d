#include "serve/errors.h"

#include "base/json.h"

namespace krunbox::serve {

int http_status(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return 400;
    case ErrorCode::kPermissionDenied: return 403;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kIllegalState: return 409;
    case ErrorCode::kBusy: return 429;
    // Input over a documented limit (too many ports, a value too long): the
    // request is too large for what it asks, not a rate limit.
    case ErrorCode::kLimitExceeded: return 413;
    // Well-formed, but the chosen backend cannot do it (pause on krun).
    case ErrorCode::kUnsupported: return 422;
    case ErrorCode::kUnavailable:
    case ErrorCode::kCancelled: return 503;
    case ErrorCode::kTimeout: return 504;
    case ErrorCode::kIo:
    case ErrorCode::kProtocol:
    case ErrorCode::kCorrupt:
    case ErrorCode::kInternal: return 500;
  }
  return 500;
}

std::string error_body(std::string_view code, std::string_view message) {
  // Messages can carry bytes from a guest or a client; replacing invalid
  // UTF-8 keeps the body valid JSON whatever they hold.
  return Json{{"error", {{"code", code}, {"message", message}}}}.dump(-1, ' ', false, Json::error_handler_t::replace);
}

HttpResponse error_response(int status, std::string_view code, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = error_body(code, message);
  return r;
}

HttpResponse error_response(const Error& error) {
  return error_response(http_status(error.code()), error_code_name(error.code()), error.what());
}

}  // namespace krunbox::serve
