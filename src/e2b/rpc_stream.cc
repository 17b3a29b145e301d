#include "e2b/rpc_stream.h"

#include "serve/responses.h"

namespace krunbox::e2b {

RpcStream::RpcStream(const serve::ChunkWriter& write, Json keepalive, std::chrono::seconds interval)
    : write_(write), keepalive_(std::move(keepalive)), interval_(interval), last_(std::chrono::steady_clock::now()) {
  if (interval_.count() <= 0) return;
  pinger_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!done_ && !gone_) {
      auto due = last_ + interval_;
      if (cv_.wait_until(lock, due, [this] { return done_ || gone_; })) break;
      if (std::chrono::steady_clock::now() >= last_ + interval_)
        (void)write_locked(encode_envelope(0, serve::dump_json(keepalive_)));
    }
  });
}

RpcStream::~RpcStream() {
  {
    std::lock_guard lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  if (pinger_.joinable()) pinger_.join();
}

bool RpcStream::write_locked(std::string_view bytes) {
  if (gone_ || done_) return false;
  if (!write_(bytes)) {
    gone_ = true;
    cv_.notify_all();
    return false;
  }
  last_ = std::chrono::steady_clock::now();
  return true;
}

bool RpcStream::send(const Json& message) {
  std::lock_guard lock(mu_);
  return write_locked(encode_envelope(0, serve::dump_json(message)));
}

void RpcStream::finish(const std::optional<RpcError>& error) {
  {
    std::lock_guard lock(mu_);
    (void)write_locked(end_stream_envelope(error));
    done_ = true;
  }
  cv_.notify_all();
  if (pinger_.joinable()) pinger_.join();
}

bool RpcStream::gone() const {
  std::lock_guard lock(mu_);
  return gone_;
}

std::chrono::seconds keepalive_interval(const serve::HttpRequest& request) {
  std::string_view v = request.header("Keepalive-Ping-Interval");
  if (v.empty() || v.size() > 5) return std::chrono::seconds(0);
  int n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::chrono::seconds(0);
    n = n * 10 + (c - '0');
  }
  if (n < 1 || n > 3600) return std::chrono::seconds(0);
  return std::chrono::seconds(n);
}

serve::HttpResponse stream_response(std::function<void(const serve::ChunkWriter&)> body) {
  serve::HttpResponse r;
  r.content_type = "application/connect+json";
  r.stream = std::move(body);
  return r;
}

serve::HttpResponse stream_error(const RpcError& error) {
  serve::HttpResponse r;
  r.content_type = "application/connect+json";
  r.body = end_stream_envelope(error);
  return r;
}

serve::HttpResponse client_stream_response(const Json& message) {
  serve::HttpResponse r;
  r.content_type = "application/connect+json";
  r.body = encode_envelope(0, serve::dump_json(message)) + end_stream_envelope(std::nullopt);
  return r;
}

serve::HttpResponse unary_response(const Json& message) { return serve::json_response(200, message); }

serve::HttpResponse unary_error(const RpcError& error) {
  return serve::json_response(http_status_of(error.code), error_json(error));
}

}  // namespace krunbox::e2b
