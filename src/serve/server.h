// The listener of `krunbox serve`: HTTP/1.1 over a Unix socket (always) and
// TCP (opt-in, bearer token), one thread per connection, each request
// handed to a Handler. The only file that includes Boost.Beast is
// server.cc, so the rest of the server compiles without it.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "krunbox/error.h"
#include "serve/http.h"

namespace krunbox::serve {

struct ServerOptions {
  std::string socket_path;  // made mode 0600; a stale socket is replaced
  std::string listen;       // "HOST:PORT" ("127.0.0.1:2375", "[::1]:2375"); empty: no TCP
  std::string token;        // required with `listen`: every TCP request sends it as a bearer token
  size_t max_connections = 256;   // beyond: 503 and close
  size_t max_header_bytes = 16u << 10;  // beyond: 431
  // Waiting for a request's header (keep-alive idling included), and for
  // its body; a client slower than that is disconnected.
  std::chrono::seconds header_timeout{30};
  std::chrono::seconds body_timeout{120};
  // Sending a response, or one chunk of a streamed one.
  std::chrono::seconds write_timeout{60};
  // After SIGTERM or SIGINT: how long requests in flight may take to finish.
  std::chrono::seconds shutdown_grace{30};
};

struct ServeOutcome {
  // Connections still busy when the grace ran out (their threads still run,
  // so the caller should end the process without running destructors).
  size_t abandoned = 0;
};

// Serves until SIGTERM or SIGINT, then stops accepting, ends idle
// connections and waits up to `shutdown_grace` for busy ones.
Result<ServeOutcome> serve(const ServerOptions& options, Handler& handler);

}  // namespace krunbox::serve
