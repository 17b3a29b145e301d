// Signals as users and callers name them: "KILL", "SIGKILL", "kill" or "9".
#pragma once

#include <string_view>

#include "krunbox/error.h"

namespace krunbox {

// The signal number; kInvalidArgument naming the text otherwise.
Result<int> parse_signal_name(std::string_view text);

}  // namespace krunbox
