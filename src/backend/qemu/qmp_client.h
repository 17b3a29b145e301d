// A small client of QEMU's machine protocol (QMP): newline-delimited JSON on a
// unix socket. Used to pause (stop), resume (cont), query and quit the VM.
#pragma once

#include <chrono>
#include <string>

#include "base/json.h"
#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox {

class QmpClient {
 public:
  // Connects (retrying while QEMU has not made the socket yet), reads the
  // greeting and negotiates capabilities.
  static Result<QmpClient> connect(const std::string& socket_path, std::chrono::milliseconds timeout);
  // Over an already connected fd (tests).
  static Result<QmpClient> over(UniqueFd fd, std::chrono::milliseconds timeout);

  // Runs one command and returns its "return" value; asynchronous events
  // that arrive meanwhile are skipped.
  Result<Json> execute(const std::string& command, const Json& arguments = Json::object());

 private:
  explicit QmpClient(UniqueFd fd, std::chrono::milliseconds timeout) : fd_(std::move(fd)), timeout_(timeout) {}
  Result<Json> read_message();

  UniqueFd fd_;
  std::chrono::milliseconds timeout_;
  std::string buffer_;
};

}  // namespace krunbox
