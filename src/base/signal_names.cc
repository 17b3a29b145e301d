#include "base/signal_names.h"

#include <signal.h>
#include <string.h>

#include <cctype>
#include <charconv>
#include <string>

namespace krunbox {

Result<int> parse_signal_name(std::string_view text) {
  int n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec == std::errc() && end == text.data() + text.size() && n > 0 && n < NSIG) return n;
  std::string name(text.substr(0, 32));
  for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (name.rfind("SIG", 0) == 0) name = name.substr(3);
  for (int s = 1; s < NSIG; ++s) {
    const char* abbrev = ::sigabbrev_np(s);
    if (abbrev && name == abbrev) return s;
  }
  return Error(ErrorCode::kInvalidArgument,
               "unknown signal '" + std::string(text.substr(0, 32)) + "' (use a name like TERM or a number)");
}

}  // namespace krunbox
