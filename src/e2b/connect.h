// The Connect protocol (connectrpc.com) as the E2B SDK speaks it to envd:
// the JSON codec over HTTP/1.1. A unary call is a POST of one JSON message
// (application/json) answered by one; a server-streaming call sends one
// enveloped message (application/connect+json) and is answered by a stream
// of envelopes, the last flagged end-of-stream with an optional error.
// An envelope is 1 flag byte, a 4-byte big-endian length and the JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "krunbox/error.h"
#include "serve/http.h"

namespace krunbox::e2b {

inline constexpr uint8_t kEnvelopeCompressed = 0x01;
inline constexpr uint8_t kEnvelopeEndStream = 0x02;
// The largest message accepted in a request envelope.
inline constexpr size_t kMaxEnvelopeBytes = 4u << 20;

struct Envelope {
  uint8_t flags = 0;
  std::string data;
};

// One envelope's bytes.
std::string encode_envelope(uint8_t flags, std::string_view data);
// All envelopes in `body`, which must end at an envelope's end; compressed
// ones and ones over `max_bytes` are refused (kInvalidArgument / kLimitExceeded).
Result<std::vector<Envelope>> decode_envelopes(std::string_view body, size_t max_bytes = kMaxEnvelopeBytes);

// The envelopes of a client stream (a streamed request body), one at a
// time as they arrive; the same checks as decode_envelopes.
class EnvelopeReader {
 public:
  explicit EnvelopeReader(serve::BodySource source, size_t max_bytes = kMaxEnvelopeBytes)
      : source_(std::move(source)), max_bytes_(max_bytes) {}
  // The next envelope; nullopt when the body ends between envelopes.
  Result<std::optional<Envelope>> next();

 private:
  // Reads exactly `size` bytes; the count read before the body ended.
  Result<size_t> read_full(char* buf, size_t size);

  serve::BodySource source_;
  size_t max_bytes_;
};

// Connect's error codes, spelled as on the wire ("not_found", ...).
enum class Code {
  kCanceled,
  kUnknown,
  kInvalidArgument,
  kDeadlineExceeded,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kResourceExhausted,
  kFailedPrecondition,
  kAborted,
  kOutOfRange,
  kUnimplemented,
  kInternal,
  kUnavailable,
  kDataLoss,
  kUnauthenticated,
};
std::string_view code_name(Code code);
// The HTTP status of a unary error with this code, as Connect maps them.
int http_status_of(Code code);
// The library's error codes in Connect's terms.
Code code_of(ErrorCode code);

struct RpcError {
  Code code = Code::kUnknown;
  std::string message;
  static RpcError of(const Error& error) { return {code_of(error.code()), error.message()}; }
};
// {"code": "...", "message": "..."}: a unary error's body, and the "error"
// member of the end-of-stream message.
Json error_json(const RpcError& error);
// The end-of-stream envelope: {} or {"error": ...}.
std::string end_stream_envelope(const std::optional<RpcError>& error);

// What a call asked for: the procedure's service and method from the path
// ("/process.Process/Start"), and its one request message.
struct RpcRequest {
  std::string service;
  std::string method;
  Json message;
};
// `streaming`: the body is enveloped (server-streaming calls); otherwise it
// is one JSON object. An empty unary body is the empty message.
Result<RpcRequest> parse_rpc_request(std::string_view path, std::string_view content_type, std::string_view body);

// Whether the content type is Connect's streaming JSON
// (application/connect+json, parameters ignored).
bool is_streaming_json(std::string_view content_type);

}  // namespace krunbox::e2b
