#include "base/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>

namespace krunbox {

Result<UniqueFd> listen_unix_socket(const std::string& path, int backlog) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Error(ErrorCode::kInvalidArgument, "socket path " + path + " is longer than " +
                                                  std::to_string(sizeof addr.sun_path - 1) +
                                                  " bytes; use a shorter KRUNBOX_RUN_DIR");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::from_errno("socket for " + path);
  (void)::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return Error::from_errno("binding " + path);
  if (::listen(fd.get(), backlog) != 0) return Error::from_errno("listening on " + path);
  return fd;
}

Result<UniqueFd> connect_unix_socket(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Error(ErrorCode::kInvalidArgument, "socket path " + path + " is longer than " +
                                                  std::to_string(sizeof addr.sun_path - 1) +
                                                  " bytes; use a shorter KRUNBOX_RUN_DIR");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Non-blocking, so a listener that never accepts (a full backlog) is
    // retried until the deadline instead of blocking connect() for ever.
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) return Error::from_errno("socket");
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      int flags = ::fcntl(fd.get(), F_GETFL);
      if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
        return Error::from_errno("making the connection to " + path + " blocking");
      return fd;
    }
    if ((errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN) ||
        std::chrono::steady_clock::now() >= deadline)
      return Error::from_errno("connecting to " + path);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

Result<uid_t> socket_peer_uid(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return Error::from_errno("SO_PEERCRED");
  return cred.uid;
}

Result<UniqueFd> connect_own_unix_socket(const std::string& path, std::chrono::milliseconds timeout) {
  KRUNBOX_ASSIGN_OR_RETURN(UniqueFd fd, connect_unix_socket(path, timeout));
  KRUNBOX_ASSIGN_OR_RETURN(uid_t peer, socket_peer_uid(fd.get()));
  if (peer != ::geteuid())
    return Error(ErrorCode::kPermissionDenied,
                 "the socket " + path + " is served by uid " + std::to_string(peer) + ", not by uid " +
                     std::to_string(::geteuid()) + " who runs krunbox; nothing was sent to it. Another user may have "
                     "put it there: remove it, or set KRUNBOX_RUN_DIR (or XDG_RUNTIME_DIR) to a directory of yours");
  return fd;
}

namespace {

// One buffer and room for one fd, as sendmsg and recvmsg take them.
struct FdMessage {
  iovec iov;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  FdMessage(void* data, size_t size) : iov{data, size} {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
};

}  // namespace

Status send_fd(int sock, int fd, std::string_view data) {
  if (data.empty()) data = " ";
  FdMessage m(const_cast<char*>(data.data()), data.size());
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  for (;;) {
    if (::sendmsg(sock, &m.msg, MSG_NOSIGNAL) >= 0) return {};
    if (errno != EINTR) return Error::from_errno("sending a file descriptor");
  }
}

Result<UniqueFd> receive_fd(int sock, std::string* data, size_t max_data) {
  std::string buf(std::max<size_t>(max_data, 1), '\0');
  FdMessage m(buf.data(), buf.size());
  ssize_t n;
  do {
    n = ::recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::from_errno("receiving a file descriptor");
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
    return Error(ErrorCode::kProtocol, "the peer sent no file descriptor");
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
  if (data) data->assign(buf.data(), static_cast<size_t>(n));
  return UniqueFd(fd);
}

}  // namespace krunbox
