// The listeners of `krunbox serve`: HTTP/1.1 over Unix sockets and TCP, one
// thread per connection, each request handed to its listener's Handler.
// Boost.Beast stays in server.cc (and websocket.cc), so the rest of the
// server compiles without it.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "krunbox/error.h"
#include "serve/http.h"

namespace krunbox::serve {

// One listening socket and the API behind it. `serve` has several: the
// native API on a Unix socket (and TCP), and the Docker and E2B APIs each on
// their own.
struct Listener {
  std::string name;       // in the log: "api", "docker", ...
  std::string unix_path;  // made mode 0600; a stale socket is replaced
  std::string tcp;        // or "HOST:PORT" ("127.0.0.1:2375", "[::1]:2375")
  // Non-empty: every request must send `Authorization: Bearer <token>`
  // (401 otherwise). Empty on TCP: the handler authenticates on its own.
  std::string bearer_token;
  Handler* handler = nullptr;
};

struct ServerOptions {
  std::vector<Listener> listeners;
  size_t max_connections = 256;         // over all listeners; beyond: 503 and close
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
Result<ServeOutcome> serve(const ServerOptions& options);

}  // namespace krunbox::serve
