// A WebSocket (RFC 6455) on a connection taken over from the HTTP server,
// with blocking calls: one thread may receive while others send. Beast does
// the protocol (framing, masking, ping/pong, the closing handshake); this
// gives it the shape a request thread and a producer thread can share.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "base/unique_fd.h"
#include "krunbox/error.h"
#include "serve/http.h"

namespace krunbox::serve {

// Whether `req` asks to become a WebSocket (GET, Upgrade: websocket,
// Connection: upgrade, a key, version 13); the error says what is missing.
Status check_websocket_upgrade(const HttpRequest& req);

class WebSocket {
 public:
  struct Message {
    bool binary = false;
    std::string data;
  };

  // Answers the upgrade request `req` on `socket` (the 101) and starts the
  // session. Idle peers are pinged, and one silent for 5 minutes is dropped.
  static Result<std::unique_ptr<WebSocket>> accept(UniqueFd socket, const HttpRequest& req);
  virtual ~WebSocket() = default;

  // The next message; nullopt once the peer closed or the connection broke.
  // One thread at a time.
  virtual std::optional<Message> receive() = 0;
  // Sends one message; false once the session is over. Any thread; sends
  // from several threads go out whole, in the order they were called.
  virtual bool send(std::string data, bool binary) = 0;
  // The closing handshake (normal closure), after what was sent before it;
  // a receive() in progress then returns nullopt.
  virtual void close() = 0;
};

}  // namespace krunbox::serve
