// A channel that only sends: bytes on stream 1 within the host's window
// (get, list). The host may only open the window or cancel; anything else
// from it is a protocol error naming the operation.
#pragma once

#include <string>

#include "agent/server.h"

namespace krunbox::agent {

class SendingOp : public Op {
 public:
  SendingOp(Server& s, Connection* c, uint32_t id, const char* what) : Op(s, c, id), what_(what) {}

  Status on_data(uint8_t, std::string) override {
    return Error(ErrorCode::kProtocol, std::string("DATA from the host on a ") + what_);
  }
  Status on_eof(uint8_t) override {
    return Error(ErrorCode::kProtocol, std::string("EOF from the host on a ") + what_);
  }
  Status on_window(uint8_t stream, uint32_t inc) override {
    if (stream != proto::kStdout)
      return Error(ErrorCode::kProtocol, std::string("WINDOW for a stream a ") + what_ + " does not have");
    window_ += inc;
    if (window_ > proto::kMaxWindow) return Error(ErrorCode::kProtocol, "WINDOW beyond the maximum");
    pump();
    return {};
  }
  void on_cancel() override { finish(); }
  void detach() override {
    conn_ = nullptr;
    dead_ = true;
  }

 protected:
  uint64_t window_ = proto::kInitialWindow;

 private:
  const char* what_;
};

}  // namespace krunbox::agent
