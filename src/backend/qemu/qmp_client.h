// A small client of QEMU's machine protocol (QMP): newline-delimited JSON on a
// unix socket. Used to pause (stop), resume (cont), query and quit the VM, and
// to save and load its state for checkpoints (migrate over a passed fd).
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
  // The same with `fd` passed along (SCM_RIGHTS), for getfd.
  Result<Json> execute_with_fd(const std::string& command, const Json& arguments, int fd);
  // Polls query-migrate until the migration (either way) has completed:
  // its final query-migrate answer. A failed or cancelled migration and
  // one still going after `timeout` are errors naming QEMU's reason.
  Result<Json> await_migration(std::chrono::milliseconds timeout);

 private:
  explicit QmpClient(UniqueFd fd, std::chrono::milliseconds timeout) : fd_(std::move(fd)), timeout_(timeout) {}
  Result<Json> read_message();
  Result<Json> await_return(const std::string& command);

  UniqueFd fd_;
  std::chrono::milliseconds timeout_;
  std::string buffer_;
};

}  // namespace krunbox
