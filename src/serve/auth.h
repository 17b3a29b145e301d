// Bearer tokens for the TCP listener. The Unix socket needs none: its mode
// (0600) and directory already restrict it to this user, as Docker's does.
#pragma once

#include <string>
#include <string_view>

#include "krunbox/error.h"

namespace krunbox::serve {

inline constexpr size_t kMinTokenBytes = 16;

// The token in `path`: its content without trailing whitespace, at least
// kMinTokenBytes of printable ASCII. Refused when group or others may read
// the file, since anyone who can read it can drive every sandbox.
Result<std::string> load_token_file(const std::string& path);

// Whether `authorization` (the header's value) is "Bearer <token>". The
// comparison takes the same time wherever the first difference is.
bool bearer_matches(std::string_view authorization, std::string_view token);

// Equality of a and b in time that depends only on their lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace krunbox::serve
