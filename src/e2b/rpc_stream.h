// A Connect server stream on one streamed HTTP response: messages as
// envelopes, keepalive messages while nothing else is sent (the SDK asks
// for them with Keepalive-Ping-Interval, in seconds), and the end-of-stream
// envelope. Unary answers and errors too, so the services share one shape.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "base/json.h"
#include "e2b/connect.h"
#include "serve/http.h"

namespace krunbox::e2b {

class RpcStream {
 public:
  // `keepalive`: the message sent every `interval` of silence (0: none).
  RpcStream(const serve::ChunkWriter& write, Json keepalive, std::chrono::seconds interval);
  ~RpcStream();
  RpcStream(const RpcStream&) = delete;
  RpcStream& operator=(const RpcStream&) = delete;

  // False once the client is gone.
  bool send(const Json& message);
  // The end-of-stream envelope; nothing is sent after it.
  void finish(const std::optional<RpcError>& error = std::nullopt);
  bool gone() const;

 private:
  bool write_locked(std::string_view bytes);

  const serve::ChunkWriter& write_;
  Json keepalive_;
  std::chrono::seconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  bool gone_ = false;
  std::chrono::steady_clock::time_point last_;
  std::thread pinger_;
};

// The interval a request asks for in Keepalive-Ping-Interval (1 to 3600 s;
// absent or malformed: none).
std::chrono::seconds keepalive_interval(const serve::HttpRequest& request);

// A streamed response whose body `body` writes (application/connect+json).
serve::HttpResponse stream_response(std::function<void(const serve::ChunkWriter&)> body);
// A server-streaming call that failed before it began: 200 with the error
// in the end-of-stream envelope, as Connect has it.
serve::HttpResponse stream_error(const RpcError& error);
// A client-streaming call's one answer: the message, then the end of the stream.
serve::HttpResponse client_stream_response(const Json& message);
// A unary call's answer and error.
serve::HttpResponse unary_response(const Json& message);
serve::HttpResponse unary_error(const RpcError& error);

}  // namespace krunbox::e2b
