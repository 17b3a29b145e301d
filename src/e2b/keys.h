// Who may use the E2B surface: API keys for the control plane (the SDK's
// X-API-Key, "e2b_" and hex digits, from a key file of their own) and, per
// sandbox, the envd access token the SDK sends as X-Access-Token. Tokens are
// derived (HMAC-SHA256 of the sandbox id under a secret kept in the data
// root), so the server stores nothing per sandbox and a restarted server
// still accepts the tokens it handed out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"

namespace krunbox::e2b {

// Whether `key` is "e2b_" followed by 32 to 128 lowercase hex digits.
bool is_api_key(std::string_view key);

// The keys in `text`: one per line, blank lines and '#' comments skipped;
// each must be is_api_key's; at least one.
Result<std::vector<std::string>> parse_key_file(std::string_view text, const std::string& path);
// The file's keys; refused when group or others may read it (as the API's
// token file).
Result<std::vector<std::string>> load_key_file(const std::string& path);

// RFC 2104 HMAC over SHA-256, as 64 lowercase hex digits.
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

class Keys {
 public:
  Keys(std::vector<std::string> api_keys, std::string envd_secret)
      : api_keys_(std::move(api_keys)), envd_secret_(std::move(envd_secret)) {}
  // Constant time in the key's content (each known key is compared in full).
  bool api_key_ok(std::string_view key) const;
  // The access token of sandbox `id`.
  std::string access_token(std::string_view sandbox_id) const;
  bool access_token_ok(std::string_view sandbox_id, std::string_view token) const;

 private:
  std::vector<std::string> api_keys_;
  std::string envd_secret_;
};

// The secret behind the access tokens: `path`'s content, made (32 random
// bytes, hex, mode 0600) when missing.
Result<std::string> load_or_make_secret(const std::string& path);

}  // namespace krunbox::e2b
