// Logging to stderr with a process-wide level, set by --log-level or the
// KRUNBOX_LOG environment variable. spdlog is not used: Debian ships it only
// as a shared library, and the guest agent must link fully static.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

#include "krunbox/error.h"

namespace krunbox {

enum class LogLevel { kTrace = 0, kDebug, kInfo, kWarn, kError, kOff };

Result<LogLevel> parse_log_level(std::string_view text);
std::string_view to_string(LogLevel level);

void set_log_level(LogLevel level);
LogLevel log_level();
// Name printed before each line ("krunbox", "krunbox-agent").
void set_log_program(std::string name);
// Applies KRUNBOX_LOG if set and valid; an invalid value is reported once and ignored.
void init_logging_from_env();

// Writes one line; the message goes through terminal_safe().
void log_line(LogLevel level, std::string_view message);

// Text that may hold bytes from a guest or an image (console tails, agent
// errors), made safe to print on a terminal: control characters other than
// newline and tab, DEL, and the C1 controls UTF-8 can carry become \xNN, so
// no escape sequence reaches the user's terminal; CRLF becomes LF.
std::string terminal_safe(std::string_view text);
// terminal_safe() for text that must stay on one line (a table cell, an
// image's command in `ps`): newline, tab and CR become \xNN too.
std::string terminal_safe_line(std::string_view text);

inline bool log_enabled(LogLevel level) {
  return level >= log_level();
}

}  // namespace krunbox

#define KB_LOG(level, ...)                                                                     \
  do {                                                                                         \
    if (::krunbox::log_enabled(level)) ::krunbox::log_line(level, ::fmt::format(__VA_ARGS__)); \
  } while (0)
#define KB_TRACE(...) KB_LOG(::krunbox::LogLevel::kTrace, __VA_ARGS__)
#define KB_DEBUG(...) KB_LOG(::krunbox::LogLevel::kDebug, __VA_ARGS__)
#define KB_INFO(...) KB_LOG(::krunbox::LogLevel::kInfo, __VA_ARGS__)
#define KB_WARN(...) KB_LOG(::krunbox::LogLevel::kWarn, __VA_ARGS__)
#define KB_ERROR(...) KB_LOG(::krunbox::LogLevel::kError, __VA_ARGS__)
