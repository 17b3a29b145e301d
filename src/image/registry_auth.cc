#include "image/registry_auth.h"

#include <algorithm>
#include <cstdlib>

#include "base/fs.h"
#include "base/json.h"

namespace krunbox::image {
namespace {

// RFC 7230 token characters.
bool tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

class ChallengeParser {
 public:
  explicit ChallengeParser(std::string_view s) : s_(s) {}

  Result<std::vector<AuthChallenge>> parse() {
    std::vector<AuthChallenge> out;
    for (;;) {
      skip_list_separators();
      if (done()) break;
      AuthChallenge c;
      c.scheme = lower(token());
      if (c.scheme.empty()) return bad("expected an auth scheme");
      if (out.size() == kMaxChallenges) return bad("more than " + std::to_string(kMaxChallenges) + " challenges");
      skip_ws();
      // auth-params: name=value pairs separated by commas, until the next
      // token that is not followed by '=' (the next challenge's scheme).
      for (;;) {
        size_t save = pos_;
        skip_ws();
        std::string name = lower(token());
        skip_ws();
        if (name.empty() || done() || s_[pos_] != '=') {
          pos_ = save;
          break;
        }
        ++pos_;
        skip_ws();
        std::string value;
        if (!done() && s_[pos_] == '"') {
          KRUNBOX_ASSIGN_OR_RETURN(value, quoted());
        } else {
          // RFC 7235 wants a token here; servers send unquoted URLs too.
          size_t start = pos_;
          while (!done() && s_[pos_] != ',' && s_[pos_] != ' ' && s_[pos_] != '\t' && s_[pos_] != '"' &&
                 static_cast<unsigned char>(s_[pos_]) > 0x20 && static_cast<unsigned char>(s_[pos_]) < 0x7f)
            ++pos_;
          value = std::string(s_.substr(start, pos_ - start));
        }
        if (c.params.count(name)) return bad("parameter \"" + name + "\" appears twice");
        c.params[name] = value;
        skip_ws();
        if (done()) break;
        if (s_[pos_] != ',') return bad("expected ',' after parameter \"" + name + "\"");
        ++pos_;
      }
      out.push_back(std::move(c));
    }
    if (out.empty()) return bad("no challenge");
    return out;
  }

 private:
  bool done() const { return pos_ >= s_.size(); }
  void skip_ws() {
    while (!done() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  void skip_list_separators() {
    while (!done() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == ',')) ++pos_;
  }
  std::string token() {
    size_t start = pos_;
    while (!done() && tchar(s_[pos_])) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }
  Result<std::string> quoted() {
    ++pos_;  // opening quote
    std::string out;
    while (!done()) {
      char c = s_[pos_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (done()) break;
        c = s_[pos_++];
      }
      if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return bad("control character in a quoted string");
      out += c;
    }
    return bad("unterminated quoted string");
  }
  Error bad(const std::string& why) const {
    return Error(ErrorCode::kProtocol, "malformed WWW-Authenticate header (" + why + " at offset " + std::to_string(pos_) + ")");
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// "https://index.docker.io/v1/" -> "index.docker.io"; "ghcr.io" -> "ghcr.io".
std::string host_of_key(std::string_view key) {
  if (auto p = key.find("://"); p != std::string_view::npos) key = key.substr(p + 3);
  if (auto p = key.find('/'); p != std::string_view::npos) key = key.substr(0, p);
  return lower(key);
}

constexpr std::string_view kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

std::string AuthChallenge::param(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

Result<std::vector<AuthChallenge>> parse_www_authenticate(std::string_view header) {
  if (header.size() > kMaxChallengeHeaderLen)
    return Error(ErrorCode::kLimitExceeded, "WWW-Authenticate header is over " + std::to_string(kMaxChallengeHeaderLen) + " bytes");
  return ChallengeParser(header).parse();
}

std::string base64_encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kB64[(v >> s) & 63];
  }
  if (i + 1 == data.size()) {
    uint32_t v = uint8_t(data[i]) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == data.size()) {
    uint32_t v = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

Result<std::string> base64_decode(std::string_view text) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  size_t pad = 0;
  for (char c : text) {
    if (c == '=') {
      ++pad;
      continue;
    }
    if (pad) return Error(ErrorCode::kInvalidArgument, "base64 has data after padding");
    size_t v = kB64.find(c);
    if (v == std::string_view::npos) return Error(ErrorCode::kInvalidArgument, "base64 has an invalid character");
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  if (pad > 2 || bits >= 6) return Error(ErrorCode::kInvalidArgument, "base64 has a truncated final group");
  return out;
}

Result<std::map<std::string, Credentials>> parse_docker_config(std::string_view json) {
  if (json.size() > kMaxDockerConfigSize)
    return Error(ErrorCode::kLimitExceeded, "docker config is over " + std::to_string(kMaxDockerConfigSize) + " bytes");
  KRUNBOX_ASSIGN_OR_RETURN(Json doc, parse_json(json, "docker config.json"));
  std::map<std::string, Credentials> out;
  if (!doc.is_object()) return Error(ErrorCode::kInvalidArgument, "docker config.json is not a JSON object");
  if (!doc.contains("auths")) return out;
  const Json& auths = doc["auths"];
  if (!auths.is_object()) return Error(ErrorCode::kInvalidArgument, "docker config.json: \"auths\" is not an object");
  for (const auto& item : auths.items()) {
    const std::string& key = item.key();
    const Json& entry = item.value();
    std::string where = "docker config.json: auths[\"" + key.substr(0, 100) + "\"]";
    if (!entry.is_object()) return Error(ErrorCode::kInvalidArgument, where + " is not an object");
    auto str = [&](const char* name) -> Result<std::string> {
      if (!entry.contains(name) || entry[name].is_null()) return std::string();
      if (!entry[name].is_string()) return Error(ErrorCode::kInvalidArgument, where + "." + name + " is not a string");
      return entry[name].get<std::string>();
    };
    Credentials c;
    KRUNBOX_ASSIGN_OR_RETURN(std::string auth, str("auth"));
    if (!auth.empty()) {
      auto decoded = base64_decode(auth);
      if (!decoded.ok()) return Error(ErrorCode::kInvalidArgument, where + ".auth: " + decoded.error().message());
      size_t colon = decoded->find(':');
      if (colon == std::string::npos) return Error(ErrorCode::kInvalidArgument, where + ".auth does not decode to user:password");
      c.username = decoded->substr(0, colon);
      c.password = decoded->substr(colon + 1);
    }
    KRUNBOX_ASSIGN_OR_RETURN(std::string user, str("username"));
    KRUNBOX_ASSIGN_OR_RETURN(std::string pass, str("password"));
    if (!user.empty()) c.username = user;
    if (!pass.empty()) c.password = pass;
    KRUNBOX_ASSIGN_OR_RETURN(c.identity_token, str("identitytoken"));
    for (const std::string* s : {&c.username, &c.password, &c.identity_token})
      for (char ch : *s)
        if (ch == '\r' || ch == '\n' || ch == '\0')
          return Error(ErrorCode::kInvalidArgument, where + " holds a control character in a credential");
    out[key] = std::move(c);
  }
  return out;
}

std::optional<Credentials> find_credentials(const std::map<std::string, Credentials>& auths, const std::string& domain) {
  std::string want = lower(domain);
  if (auto it = auths.find(domain); it != auths.end()) return it->second;
  for (const auto& [key, c] : auths) {
    std::string host = host_of_key(key);
    if (host == want) return c;
    if (want == "docker.io" && (host == "index.docker.io" || host == "registry-1.docker.io")) return c;
  }
  return std::nullopt;
}

Result<std::optional<Credentials>> load_docker_credentials(const std::string& domain) {
  std::string path;
  if (const char* dir = std::getenv("DOCKER_CONFIG"); dir && *dir) path = std::string(dir) + "/config.json";
  else if (const char* home = std::getenv("HOME"); home && *home) path = std::string(home) + "/.docker/config.json";
  else return std::optional<Credentials>();
  if (!path_exists(path)) return std::optional<Credentials>();
  KRUNBOX_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxDockerConfigSize).wrap("read " + path));
  KRUNBOX_ASSIGN_OR_RETURN(auto auths, parse_docker_config(text).wrap(path));
  return find_credentials(auths, domain);
}

Result<BearerToken> parse_token_response(std::string_view json) {
  if (json.size() > kMaxTokenResponseSize)
    return Error(ErrorCode::kLimitExceeded, "token response is over " + std::to_string(kMaxTokenResponseSize) + " bytes");
  KRUNBOX_ASSIGN_OR_RETURN(Json doc, parse_json(json, "token response"));
  if (!doc.is_object()) return Error(ErrorCode::kProtocol, "token response is not a JSON object");
  BearerToken t;
  for (const char* key : {"token", "access_token"}) {
    if (!doc.contains(key)) continue;
    if (!doc[key].is_string()) return Error(ErrorCode::kProtocol, std::string("token response: \"") + key + "\" is not a string");
    t.token = doc[key].get<std::string>();
    if (!t.token.empty()) break;
  }
  if (t.token.empty()) return Error(ErrorCode::kProtocol, "token response has no token");
  if (t.token.size() > kMaxTokenLen) return Error(ErrorCode::kLimitExceeded, "token is over " + std::to_string(kMaxTokenLen) + " bytes");
  for (char c : t.token)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return Error(ErrorCode::kProtocol, "token holds a character that cannot go in an HTTP header");
  if (doc.contains("expires_in")) {
    if (!doc["expires_in"].is_number_integer()) return Error(ErrorCode::kProtocol, "token response: \"expires_in\" is not an integer");
    int64_t e = doc["expires_in"].get<int64_t>();
    // The spec's minimum is 60 s; clamp rather than trust a silly value.
    t.expires_in = std::clamp<int64_t>(e, 60, 24 * 3600);
  }
  return t;
}

}  // namespace krunbox::image
