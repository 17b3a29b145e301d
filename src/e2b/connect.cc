#include "e2b/connect.h"

#include <algorithm>
#include <cctype>

namespace krunbox::e2b {
namespace {

std::string lower_media_type(std::string_view content_type) {
  size_t semi = content_type.find(';');
  std::string_view t = content_type.substr(0, semi);
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
  while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
  std::string out(t);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

}  // namespace

std::string encode_envelope(uint8_t flags, std::string_view data) {
  std::string out;
  out.reserve(5 + data.size());
  uint32_t n = static_cast<uint32_t>(data.size());
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>((n >> 24) & 0xff));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out.append(data);
  return out;
}

Result<std::vector<Envelope>> decode_envelopes(std::string_view body, size_t max_bytes) {
  EnvelopeReader reader(serve::source_of(body), max_bytes);
  std::vector<Envelope> out;
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(auto e, reader.next());
    if (!e) return out;
    out.push_back(std::move(*e));
  }
}

Result<size_t> EnvelopeReader::read_full(char* buf, size_t size) {
  size_t got = 0;
  while (got < size) {
    KRUNBOX_ASSIGN_OR_RETURN(size_t n, source_(buf + got, size - got));
    if (n == 0) break;
    got += n;
  }
  return got;
}

Result<std::optional<Envelope>> EnvelopeReader::next() {
  unsigned char prefix[5];
  KRUNBOX_ASSIGN_OR_RETURN(size_t got, read_full(reinterpret_cast<char*>(prefix), sizeof prefix));
  if (got == 0) return std::optional<Envelope>();
  if (got < sizeof prefix)
    return Error(ErrorCode::kInvalidArgument, "the request body ends inside a Connect envelope's 5-byte prefix");
  Envelope e;
  e.flags = prefix[0];
  uint32_t n = (uint32_t{prefix[1]} << 24) | (uint32_t{prefix[2]} << 16) | (uint32_t{prefix[3]} << 8) | prefix[4];
  if (e.flags & kEnvelopeCompressed)
    return Error(ErrorCode::kInvalidArgument, "compressed Connect envelopes are not accepted (send identity)");
  if (n > max_bytes_)
    return Error(ErrorCode::kLimitExceeded, "a Connect envelope of " + std::to_string(n) +
                                                " bytes is over the limit of " + std::to_string(max_bytes_));
  e.data.resize(n);
  KRUNBOX_ASSIGN_OR_RETURN(got, read_full(e.data.data(), n));
  if (got < n)
    return Error(ErrorCode::kInvalidArgument,
                 "the request body ends inside a Connect envelope of " + std::to_string(n) + " bytes");
  return std::optional<Envelope>(std::move(e));
}

std::string_view code_name(Code code) {
  switch (code) {
    case Code::kCanceled: return "canceled";
    case Code::kUnknown: return "unknown";
    case Code::kInvalidArgument: return "invalid_argument";
    case Code::kDeadlineExceeded: return "deadline_exceeded";
    case Code::kNotFound: return "not_found";
    case Code::kAlreadyExists: return "already_exists";
    case Code::kPermissionDenied: return "permission_denied";
    case Code::kResourceExhausted: return "resource_exhausted";
    case Code::kFailedPrecondition: return "failed_precondition";
    case Code::kAborted: return "aborted";
    case Code::kOutOfRange: return "out_of_range";
    case Code::kUnimplemented: return "unimplemented";
    case Code::kInternal: return "internal";
    case Code::kUnavailable: return "unavailable";
    case Code::kDataLoss: return "data_loss";
    case Code::kUnauthenticated: return "unauthenticated";
  }
  return "unknown";
}

int http_status_of(Code code) {
  switch (code) {
    case Code::kCanceled: return 499;
    case Code::kInvalidArgument: return 400;
    case Code::kDeadlineExceeded: return 504;
    case Code::kNotFound: return 404;
    case Code::kAlreadyExists: return 409;
    case Code::kPermissionDenied: return 403;
    case Code::kResourceExhausted: return 429;
    case Code::kFailedPrecondition: return 400;
    case Code::kAborted: return 409;
    case Code::kOutOfRange: return 400;
    case Code::kUnimplemented: return 501;
    case Code::kUnavailable: return 503;
    case Code::kUnauthenticated: return 401;
    case Code::kUnknown:
    case Code::kInternal:
    case Code::kDataLoss: return 500;
  }
  return 500;
}

Code code_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return Code::kInvalidArgument;
    case ErrorCode::kNotFound: return Code::kNotFound;
    case ErrorCode::kAlreadyExists: return Code::kAlreadyExists;
    case ErrorCode::kPermissionDenied: return Code::kPermissionDenied;
    case ErrorCode::kUnavailable: return Code::kUnavailable;
    case ErrorCode::kUnsupported: return Code::kUnimplemented;
    case ErrorCode::kTimeout: return Code::kDeadlineExceeded;
    case ErrorCode::kCancelled: return Code::kCanceled;
    case ErrorCode::kLimitExceeded:
    case ErrorCode::kBusy: return Code::kResourceExhausted;
    case ErrorCode::kIllegalState: return Code::kFailedPrecondition;
    case ErrorCode::kCorrupt: return Code::kDataLoss;
    case ErrorCode::kIo:
    case ErrorCode::kProtocol:
    case ErrorCode::kInternal: return Code::kInternal;
  }
  return Code::kUnknown;
}

Json error_json(const RpcError& error) {
  return {{"code", std::string(code_name(error.code))}, {"message", error.message}};
}

std::string end_stream_envelope(const std::optional<RpcError>& error) {
  Json j = Json::object();
  if (error) j["error"] = error_json(*error);
  return encode_envelope(kEnvelopeEndStream, j.dump(-1, ' ', false, Json::error_handler_t::replace));
}

bool is_streaming_json(std::string_view content_type) {
  return lower_media_type(content_type) == "application/connect+json";
}

Result<RpcRequest> parse_rpc_request(std::string_view path, std::string_view content_type, std::string_view body) {
  // "/<package>.<Service>/<Method>"
  if (path.size() < 4 || path[0] != '/')
    return Error(ErrorCode::kNotFound, "there is no procedure " + std::string(path));
  size_t slash = path.find('/', 1);
  if (slash == std::string_view::npos || slash + 1 >= path.size() || path.find('/', slash + 1) != std::string_view::npos)
    return Error(ErrorCode::kNotFound, "there is no procedure " + std::string(path));
  RpcRequest r;
  r.service = std::string(path.substr(1, slash - 1));
  r.method = std::string(path.substr(slash + 1));
  std::string type = lower_media_type(content_type);
  std::string_view json_text;
  std::string owned;
  if (type == "application/connect+json") {
    KRUNBOX_ASSIGN_OR_RETURN(auto envelopes, decode_envelopes(body));
    if (envelopes.size() != 1 || envelopes[0].flags != 0)
      return Error(ErrorCode::kInvalidArgument,
                   "a server-streaming call sends exactly one message envelope, not " +
                       std::to_string(envelopes.size()));
    owned = std::move(envelopes[0].data);
    json_text = owned;
  } else if (type == "application/json" || type.empty()) {
    json_text = body;
  } else {
    return Error(ErrorCode::kInvalidArgument,
                 "content type '" + std::string(content_type) +
                     "' is not served: use the JSON codec (application/json, application/connect+json)");
  }
  if (json_text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    r.message = Json::object();
    return r;
  }
  KRUNBOX_ASSIGN_OR_RETURN(r.message, parse_json(json_text, "the request message"));
  if (!r.message.is_object()) return Error(ErrorCode::kInvalidArgument, "the request message must be a JSON object");
  return r;
}

}  // namespace krunbox::e2b
