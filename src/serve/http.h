// The API's view of HTTP, free of the HTTP library: the listener
// (server.cc, which with websocket.cc alone includes Boost.Beast) turns each request
// into an HttpRequest and writes back the HttpResponse the Handler returns.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox::serve {

// Reads a body's next bytes into `buf`; 0 at its end.
using BodySource = std::function<Result<size_t>(char* buf, size_t size)>;

// A source of `bytes`, which must outlive it.
BodySource source_of(std::string_view bytes);

struct HttpRequest {
  std::string method;  // as sent: "GET", "POST", ...
  std::string path;    // the target before '?', not yet decoded
  std::string query;   // after '?', not yet decoded
  std::string accept;  // the Accept header
  // Every header as sent (names in the client's case, in order).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // Set instead of `body` on a route whose body streams
  // (Handler::streams_body): reads the body's next bytes into `buf`, 0 at
  // its end; an error when the client is too slow, breaks the framing or
  // sends more than the route's limit. On the connection's thread, during
  // handle() only. What is left unread ends the connection after the answer.
  BodySource body_source;

  // The first header of that name (ASCII case-insensitive); empty if absent.
  std::string_view header(std::string_view name) const;
  // The body as a source: body_source when it streams, else a reader of
  // `body` (a request a test or another handler made whole). It refers to
  // this request, which must outlive it.
  BodySource body_reader() const;
};

// Writes one chunk of a streamed body; false once the client is gone (the
// producer should then stop).
using ChunkWriter = std::function<bool(std::string_view)>;

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set: the body is streamed with chunked transfer encoding by calling this
  // once, on the connection's thread, after the status line and headers.
  std::function<void(const ChunkWriter&)> stream;
  // Set: the connection leaves HTTP. The server writes the status line and
  // headers (no body), unless `takeover_writes_head`, then hands this the
  // socket and any bytes it read past the request, on the connection's
  // thread; the connection is over when it returns. Docker's attach (101
  // with `Upgrade: tcp`) and WebSocket sessions live here.
  std::function<void(UniqueFd socket, std::string already_read)> takeover;
  bool takeover_writes_head = false;  // the callback answers the request itself (a WebSocket handshake)
};

class Handler {
 public:
  virtual ~Handler() = default;
  // How many body bytes the request with this method and path may carry;
  // asked once the header is read, so a larger body is refused unread (413).
  virtual size_t body_limit(std::string_view method, std::string_view path) const = 0;
  // Whether the body reaches the handler as it comes (HttpRequest::
  // body_source) rather than whole, in memory, before handle().
  virtual bool streams_body(std::string_view method, std::string_view path) const { return false; }
  // Runs on the connection's own thread and may block (a create boots a VM).
  virtual HttpResponse handle(const HttpRequest& request) = 0;
};

}  // namespace krunbox::serve
