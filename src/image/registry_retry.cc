#include "image/registry_retry.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace krunbox::image {

bool retryable_http_status(long status) {
  if (status == 408 || status == 429) return true;
  return status >= 500 && status <= 599 && status != 501 && status != 505;
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, double jitter,
                                        std::optional<std::chrono::milliseconds> retry_after) {
  using std::chrono::milliseconds;
  jitter = std::clamp(jitter, 0.0, 1.0);
  int shift = std::clamp(attempt, 0, 30);
  double full = static_cast<double>(policy.base_delay.count()) * static_cast<double>(1ull << shift);
  full = std::min(full, static_cast<double>(policy.max_delay.count()));
  auto d = milliseconds(static_cast<int64_t>(full / 2 + full / 2 * jitter));
  if (retry_after && *retry_after > d) d = *retry_after;
  return d;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, std::time_t now) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) value.remove_suffix(1);
  if (value.empty() || value.size() > 64) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    if (value.size() > 9) return std::chrono::milliseconds(int64_t{999999999} * 1000);
    return std::chrono::milliseconds(std::stoll(std::string(value)) * 1000);
  }
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
  std::string text(value);
  struct tm tm {};
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (!end || *end != '\0') return std::nullopt;
  std::time_t at = ::timegm(&tm);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  if (at <= now) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(static_cast<int64_t>(at - now) * 1000);
}

}  // namespace krunbox::image
