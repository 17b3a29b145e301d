#include "backend/qemu/qmp_client.h"

#include <poll.h>

#include <algorithm>
#include <thread>

#include "base/unix_socket.h"

namespace krunbox {
namespace {

constexpr size_t kMaxQmpMessage = 1u << 20;

}  // namespace

Result<QmpClient> QmpClient::connect(const std::string& socket_path, std::chrono::milliseconds timeout) {
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd fd, connect_unix_socket(socket_path, timeout).wrap("QMP"));
  return over(std::move(fd), timeout);
}

Result<QmpClient> QmpClient::over(UniqueFd fd, std::chrono::milliseconds timeout) {
  QmpClient c(std::move(fd), timeout);
  KRUNBOX_ASSIGN_OR_RETURN(Json greeting, c.read_message());
  if (!greeting.contains("QMP")) return Error(ErrorCode::kProtocol, "QMP greeting missing");
  KRUNBOX_TRY_CTX(c.execute("qmp_capabilities"), "QMP capabilities negotiation");
  return c;
}

Result<Json> QmpClient::read_message() {
  auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      return parse_json(line, "QMP message");
    }
    if (buffer_.size() > kMaxQmpMessage) return Error(ErrorCode::kLimitExceeded, "QMP message over 1 MiB");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error(ErrorCode::kTimeout, "no answer on QMP within " + std::to_string(timeout_.count()) + " ms");
    pollfd pfd{fd_.get(), POLLIN, 0};
    int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Error::from_errno("poll QMP");
    if (r == 0) continue;
    char buf[8192];
    ssize_t n = ::read(fd_.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::from_errno("read QMP");
    if (n == 0) return Error(ErrorCode::kUnavailable, "QEMU closed the QMP connection");
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

Result<Json> QmpClient::execute(const std::string& command, const Json& arguments) {
  Json req = {{"execute", command}};
  if (!arguments.empty()) req["arguments"] = arguments;
  std::string line = req.dump() + "\n";
  KRUNBOX_TRY_CTX(write_all(fd_.get(), line.data(), line.size()), "QMP " + command);
  return await_return(command);
}

Result<Json> QmpClient::execute_with_fd(const std::string& command, const Json& arguments, int fd) {
  Json req = {{"execute", command}, {"arguments", arguments}};
  std::string line = req.dump() + "\n";
  KRUNBOX_TRY_CTX(send_fd(fd_.get(), fd, line), "QMP " + command);
  return await_return(command);
}

Result<Json> QmpClient::await_return(const std::string& command) {
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(Json msg, read_message());
    if (msg.contains("event")) continue;
    if (msg.contains("return")) return msg["return"];
    if (msg.contains("error")) {
      const Json& e = msg["error"];
      return Error(ErrorCode::kUnavailable, "QMP " + command + ": " +
                                                (e.is_object() ? e.value("desc", std::string("error")) : e.dump()));
    }
    return Error(ErrorCode::kProtocol, "unexpected QMP message: " + msg.dump().substr(0, 200));
  }
}

Result<Json> QmpClient::await_migration(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(2);
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(Json info, execute("query-migrate"));
    std::string status = info.is_object() ? info.value("status", std::string()) : std::string();
    if (status == "completed") return info;
    if (status == "failed" || status == "cancelled")
      return Error(ErrorCode::kIo, "QEMU's migration " + status + ": " +
                                       (info.is_object() ? info.value("error-desc", std::string("no reason given"))
                                                         : std::string("no reason given")));
    if (std::chrono::steady_clock::now() >= deadline)
      return Error(ErrorCode::kTimeout, "QEMU's migration is still '" + status + "' after " +
                                            std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

}  // namespace krunbox
