// Unix stream sockets: listening at a path, and connecting to one that
// another process (QEMU) creates.
#pragma once

#include <chrono>
#include <string>

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

}  // namespace krunbox
