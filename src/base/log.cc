#include "base/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "base/unique_fd.h"

namespace krunbox {
namespace {

std::atomic<LogLevel> g_level{LogLevel::kWarn};
std::mutex g_mu;
std::string& program_name() {
  static std::string name = "krunbox";
  return name;
}

}  // namespace

Result<LogLevel> parse_log_level(std::string_view t) {
  if (t == "trace") return LogLevel::kTrace;
  if (t == "debug") return LogLevel::kDebug;
  if (t == "info") return LogLevel::kInfo;
  if (t == "warn" || t == "warning") return LogLevel::kWarn;
  if (t == "error") return LogLevel::kError;
  if (t == "off") return LogLevel::kOff;
  return Error(ErrorCode::kInvalidArgument,
               "unknown log level '" + std::string(t) + "' (use trace, debug, info, warn, error or off)");
}

std::string_view to_string(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
    case LogLevel::kOff: return "off";
  }
  return "?";
}

void set_log_level(LogLevel level) {
  g_level.store(level, std::memory_order_relaxed);
}
LogLevel log_level() {
  return g_level.load(std::memory_order_relaxed);
}

void set_log_program(std::string name) {
  std::lock_guard lock(g_mu);
  program_name() = std::move(name);
}

void init_logging_from_env() {
  const char* v = ::getenv("KRUNBOX_LOG");
  if (!v || !*v) return;
  auto level = parse_log_level(v);
  if (level) {
    set_log_level(*level);
  } else {
    log_line(LogLevel::kWarn, "KRUNBOX_LOG: " + level.error().message());
  }
}

namespace {

// The length of the well-formed UTF-8 sequence at text[i], or 0 if the
// bytes there are not one (a stray continuation byte, a cut or overlong
// sequence, a surrogate): such bytes are escaped, since a terminal in an
// 8-bit mode may take a lone 0x9b for CSI.
size_t utf8_length(std::string_view text, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = at(i);
  size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((at(i + k) & 0xc0) != 0x80) return 0;
  unsigned char second = at(i + 1);
  if ((c == 0xe0 && second < 0xa0) || (c == 0xed && second > 0x9f) || (c == 0xf0 && second < 0x90) ||
      (c == 0xf4 && second > 0x8f))
    return 0;
  return n;
}

std::string defuse(std::string_view text, bool one_line) {
  std::string out;
  out.reserve(text.size());
  auto escape = [&out](unsigned char c) { out += fmt::format("\\x{:02x}", c); };
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (!one_line && c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') continue;
    if ((c < 0x20 && (one_line || (c != '\n' && c != '\t'))) || c == 0x7f) {
      escape(c);
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (size_t n = utf8_length(text, i); n == 0) {
      escape(c);
    } else if (c == 0xc2 && static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      // U+0080..U+009F, which some terminals obey as C1 controls (CSI is U+009B).
      escape(c);
      escape(static_cast<unsigned char>(text[++i]));
    } else {
      out.append(text.substr(i, n));
      i += n - 1;
    }
  }
  return out;
}

}  // namespace

std::string terminal_safe(std::string_view text) { return defuse(text, /*one_line=*/false); }
std::string terminal_safe_line(std::string_view text) { return defuse(text, /*one_line=*/true); }

void log_line(LogLevel level, std::string_view message) {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  tm parts{};
  ::gmtime_r(&tv.tv_sec, &parts);
  std::lock_guard lock(g_mu);
  std::string line =
      fmt::format("{:02}:{:02}:{:02}.{:03} {}[{}] {}: {}\n", parts.tm_hour, parts.tm_min, parts.tm_sec,
                  tv.tv_usec / 1000, program_name(), ::getpid(), to_string(level), terminal_safe(message));
  // One write per line so concurrent processes sharing stderr do not interleave mid-line.
  (void)write_all(STDERR_FILENO, line.data(), line.size());
}

}  // namespace krunbox
