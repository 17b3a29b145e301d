#include "agent/transport.h"

#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>

#include "base/fs.h"
#include "base/unix_socket.h"

namespace krunbox::agent {

Result<std::string> find_virtio_port(const std::string& name, const std::string& sysfs) {
  std::string dir = sysfs + "/class/virtio-ports";
  // list_dir says nothing of a missing directory, which here is the hint.
  if (!is_directory(dir)) return Error(ErrorCode::kNotFound, "no " + dir + " (is virtio_console loaded?)");
  KRUNBOX_ASSIGN_OR_RETURN(std::vector<std::string> ports, list_dir(dir));
  std::string found;
  for (const auto& port : ports) {
    if (port[0] == '.') continue;
    auto text = read_file(dir + "/" + port + "/name", 4096);
    if (!text.ok()) continue;
    std::string n = *text;
    while (!n.empty() && (n.back() == '\n' || n.back() == ' ')) n.pop_back();
    if (n == name) {
      found = port;
      break;
    }
  }
  if (found.empty()) return Error(ErrorCode::kNotFound, "no virtio-serial port named '" + name + "' in " + dir);
  return "/dev/" + found;
}

Result<Transport> Transport::open(const TransportSpec& spec) {
  Transport t(spec);
  switch (spec.kind) {
    case TransportKind::kFd: {
      if (::fcntl(spec.fd, F_GETFD) < 0) return Error::from_errno("transport fd " + std::to_string(spec.fd));
      // The workloads must not inherit the connection.
      KRUNBOX_TRY(set_cloexec(spec.fd, true));
      break;
    }
    case TransportKind::kVsockListen: {
      UniqueFd s(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!s) return Error::from_errno("vsock socket");
      sockaddr_vm addr{};
      addr.svm_family = AF_VSOCK;
      addr.svm_cid = VMADDR_CID_ANY;
      addr.svm_port = spec.port;
      if (::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return Error::from_errno("binding vsock port " + std::to_string(spec.port));
      if (::listen(s.get(), 16) != 0) return Error::from_errno("vsock listen");
      t.listen_ = std::move(s);
      break;
    }
    case TransportKind::kUnixListen: {
      KRUNBOX_ASSIGN_OR_RETURN(t.listen_, listen_unix_socket(spec.name));
      break;
    }
    case TransportKind::kVsockConnect:
    case TransportKind::kVirtioSerial:
      break;  // opened by dial()
  }
  return t;
}

Result<UniqueFd> Transport::accept() {
  UniqueFd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!c) return Error::from_errno("accept on " + spec_.describe());
  return c;
}

Result<UniqueFd> Transport::dial() {
  switch (spec_.kind) {
    case TransportKind::kFd:
      if (fd_taken_) return Error(ErrorCode::kIllegalState, "the inherited connection is gone");
      fd_taken_ = true;
      return UniqueFd(spec_.fd);
    case TransportKind::kVsockConnect: {
      UniqueFd s(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!s) return Error::from_errno("vsock socket");
      sockaddr_vm addr{};
      addr.svm_family = AF_VSOCK;
      addr.svm_cid = spec_.cid;
      addr.svm_port = spec_.port;
      if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return Error::from_errno("connecting to " + spec_.describe());
      return s;
    }
    case TransportKind::kVirtioSerial: {
      KRUNBOX_ASSIGN_OR_RETURN(std::string dev, find_virtio_port(spec_.name));
      UniqueFd f(::open(dev.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY));
      if (!f) return Error::from_errno("open " + dev);
      return f;
    }
    default:
      return Error(ErrorCode::kIllegalState, spec_.describe() + " is a listening transport");
  }
}

}  // namespace krunbox::agent
