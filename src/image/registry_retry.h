// When and how long to wait before trying a registry request again.
#pragma once

#include <chrono>
#include <ctime>
#include <optional>
#include <string_view>

namespace krunbox::image {

struct RetryPolicy {
  int max_attempts = 5;  // first try included
  std::chrono::milliseconds base_delay{500};
  std::chrono::milliseconds max_delay{20000};
  // A server's Retry-After above this is not waited for (we give up instead).
  std::chrono::milliseconds max_retry_after{60000};
};

// 408, 429 and 5xx except 501 (not implemented) and 505 are worth another try.
bool retryable_http_status(long status);

// The wait before attempt `attempt` + 1 (attempt counts from 0): exponential
// from base_delay, capped at max_delay, with "equal jitter" — half fixed, half
// scaled by `jitter` in [0, 1) — so parallel downloads do not retry in step.
// A server's Retry-After replaces the computed delay when it is longer.
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int attempt, double jitter,
                                        std::optional<std::chrono::milliseconds> retry_after = std::nullopt);

// Retry-After: delay-seconds or an HTTP-date (IMF-fixdate), relative to
// `now`. nullopt when malformed; a date in the past is 0.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, std::time_t now);

}  // namespace krunbox::image
