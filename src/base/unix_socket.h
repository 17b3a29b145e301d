// Unix stream sockets: listening at a path, and connecting to one that
// another process (QEMU) creates.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <string_view>

#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox {

// Listens at `path`, replacing a stale socket left there. The path must fit
// a unix address (107 bytes); the error says so, since a long run dir is
// the usual cause.
Result<UniqueFd> listen_unix_socket(const std::string& path, int backlog = 16);

// Retried while the socket does not exist, nobody listens yet or the
// listener's backlog is full, up to a deadline.
Result<UniqueFd> connect_unix_socket(const std::string& path, std::chrono::milliseconds timeout);

// The uid the process at the other end of a connected unix socket had when
// it connected or listened (SO_PEERCRED), which it cannot fake.
Result<uid_t> socket_peer_uid(int fd);

// connect_unix_socket to a socket of our own (a monitor's): refuses a
// listener that runs as another uid than ours before anything is sent, so a
// socket another user put in our place never sees a request (argv, env).
Result<UniqueFd> connect_own_unix_socket(const std::string& path, std::chrono::milliseconds timeout);

// Sends `fd` over connected socket `sock` (SCM_RIGHTS) with `data` (at
// least one byte; an OCI runtime sends a pty's name with its master).
Status send_fd(int sock, int fd, std::string_view data);
// Receives one fd sent so (and up to `max_data` bytes of its data).
Result<UniqueFd> receive_fd(int sock, std::string* data = nullptr, size_t max_data = 4096);

}  // namespace krunbox
