// A small HTTP client over libcurl for the registry client: one easy handle
// per thread (keep-alive), a shared connection/DNS/TLS-session cache, TLS
// verified against the system CA store, redirects with a limit, timeouts,
// and response bodies streamed to a sink or collected up to a bound.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"

namespace krunbox::image {

struct HttpOptions {
  std::chrono::milliseconds connect_timeout{30000};
  // A transfer slower than 1 KiB/s for this long counts as a network error.
  std::chrono::seconds stall_timeout{30};
  int max_redirects = 10;
  // Verify TLS peers (off only for registries the user marked insecure).
  bool verify_tls = true;
  // Whether a redirect may lead to plain http (insecure registries only).
  bool allow_http_redirects = false;
  std::string user_agent = "krunbox";
};

struct HttpRequest {
  std::string method = "GET";  // GET or HEAD
  std::string url{};
  std::vector<std::string> headers{};  // "Name: value"
  uint64_t range_from = 0;           // > 0: "Range: bytes=N-"
  bool follow_redirects = true;
  // The time by which the request must be over, redirects included.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
};

struct HttpResponse {
  long status = 0;
  std::string body;                                        // when collected
  std::multimap<std::string, std::string> headers;         // names lower case, of the final response
  std::string effective_url;
  std::string header(const std::string& name) const;       // the last value, "" if absent
  std::vector<std::string> header_values(const std::string& name) const;
};

// Receives body bytes of a 2xx response with its status (200, 206); an error
// aborts the transfer and is returned from perform() as is.
using BodySink = std::function<Status(long status, std::string_view chunk)>;

// Why a transfer failed below HTTP: these are retried, the rest are not.
enum class HttpFailure { kNone, kNetwork, kTls, kRedirects, kTimeout, kSink, kOther };

struct HttpError {
  Error error;
  HttpFailure kind;
};

struct CurlApi;

class HttpClient {
 public:
  // Fails when libcurl cannot be loaded (see curl_api.h).
  static Result<std::unique_ptr<HttpClient>> create(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs one request on the calling thread's handle. 2xx bodies go to
  // `sink` when given, else are collected up to `max_body` bytes; error
  // bodies are always collected (truncated to 16 KiB) for messages.
  // Returns the response for any HTTP status; fails only below HTTP.
  Result<HttpResponse> perform(const HttpRequest& request, const BodySink& sink = nullptr, uint64_t max_body = 1 << 20,
                               HttpFailure* failure = nullptr);

  const HttpOptions& options() const { return options_; }

 private:
  HttpClient(HttpOptions options, const CurlApi& curl);
  struct Shared;
  HttpOptions options_;
  std::unique_ptr<Shared> shared_;
};

}  // namespace krunbox::image
