// Connecting to a unix socket that another process (QEMU) creates: retried
// while the socket does not exist or nobody listens yet, up to a deadline.
#pragma once

#include <chrono>
#include <string>

#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox {

Result<UniqueFd> connect_unix_socket(const std::string& path, std::chrono::milliseconds timeout);

}  // namespace krunbox
