// Registry authentication data from outside: WWW-Authenticate challenges
// (RFC 7235), token-service responses (the distribution token spec) and
// Docker's ~/.docker/config.json. All of it is untrusted input: every parser
// bounds what it accepts and fails with a value naming the document.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"

namespace krunbox::image {

// Bounds for the documents below; a registry or token server that sends more
// is broken or hostile.
inline constexpr size_t kMaxChallengeHeaderLen = 8192;
inline constexpr size_t kMaxChallenges = 16;
inline constexpr size_t kMaxTokenResponseSize = 256 * 1024;
inline constexpr size_t kMaxTokenLen = 64 * 1024;
inline constexpr size_t kMaxDockerConfigSize = 1 << 20;

struct AuthChallenge {
  std::string scheme;                         // lower case: "bearer", "basic"
  std::map<std::string, std::string> params;  // names lower case: realm, service, scope, error
  std::string param(const std::string& name) const;
};

// Parses one WWW-Authenticate header value, which may hold several
// challenges: `Bearer realm="https://a/token",service="a", Basic realm="x"`.
Result<std::vector<AuthChallenge>> parse_www_authenticate(std::string_view header);

struct Credentials {
  std::string username;
  std::string password;
  std::string identity_token;  // an OAuth2 refresh token (config.json "identitytoken")
  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
};

// config.json "auths": registry key -> credentials. Keys are kept as written
// ("https://index.docker.io/v1/", "ghcr.io", "http://host:5000").
Result<std::map<std::string, Credentials>> parse_docker_config(std::string_view json);
// The entry for a registry domain ("docker.io", "127.0.0.1:5000"): keys
// match with or without scheme and path; Docker Hub is also found under its
// legacy key https://index.docker.io/v1/.
std::optional<Credentials> find_credentials(const std::map<std::string, Credentials>& auths, const std::string& domain);
// Reads $DOCKER_CONFIG/config.json, else ~/.docker/config.json; a missing
// file means no credentials. Credential helpers (credsStore) are not run.
Result<std::optional<Credentials>> load_docker_credentials(const std::string& domain);

struct BearerToken {
  std::string token;
  int64_t expires_in = 60;  // seconds; the spec's default when absent
};
// The token endpoint's JSON: {"token": ...} or {"access_token": ...}.
Result<BearerToken> parse_token_response(std::string_view json);

std::string base64_encode(std::string_view data);
Result<std::string> base64_decode(std::string_view text);

}  // namespace krunbox::image
