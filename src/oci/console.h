// A terminal for a container's process, as runc hands it over: a new pty
// whose master goes to the caller over its --console-socket (SCM_RIGHTS,
// with the pty's name as the message), while we keep the slave as the
// process's stdin, stdout and stderr.
#pragma once

#include <string>

#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox::oci {

// The slave; the master has been sent and closed here.
Result<UniqueFd> open_console(const std::string& console_socket);

}  // namespace krunbox::oci
