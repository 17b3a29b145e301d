#include "e2b/keys.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "base/unique_fd.h"
#include "image/digest.h"
#include "serve/auth.h"

namespace krunbox::e2b {
namespace {

std::string unhex(const std::string& hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  auto v = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(v(hex[i]) * 16 + v(hex[i + 1])));
  return out;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return std::string(s);
}

Status check_private_file(const std::string& path, const char* what) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return Error::from_errno(std::string("opening the ") + what + " " + path);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno(std::string("stat of the ") + what + " " + path);
  if (!S_ISREG(st.st_mode))
    return Error(ErrorCode::kInvalidArgument, std::string("the ") + what + " " + path + " is not a regular file");
  if ((st.st_mode & 077) != 0)
    return Error(ErrorCode::kPermissionDenied,
                 std::string("the ") + what + " " + path + " may be read by group or others; chmod 600 it");
  return {};
}

}  // namespace

bool is_api_key(std::string_view key) {
  constexpr std::string_view kPrefix = "e2b_";
  if (key.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view hex = key.substr(kPrefix.size());
  if (hex.size() < 32 || hex.size() > 128) return false;
  for (char c : hex)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

Result<std::vector<std::string>> parse_key_file(std::string_view text, const std::string& path) {
  std::vector<std::string> keys;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    if (!is_api_key(line))
      return Error(ErrorCode::kInvalidArgument,
                   "line " + std::to_string(line_no) + " of the E2B key file " + path +
                       " is not a key: keys are e2b_ and 32 to 128 lowercase hex digits "
                       "(make one with: echo e2b_$(openssl rand -hex 20))");
    keys.push_back(std::move(line));
  }
  if (keys.empty())
    return Error(ErrorCode::kInvalidArgument, "the E2B key file " + path + " holds no key (one e2b_<hex> a line)");
  return keys;
}

Result<std::vector<std::string>> load_key_file(const std::string& path) {
  KRUNBOX_TRY(check_private_file(path, "E2B key file"));
  KRUNBOX_ASSIGN_OR_RETURN(std::string text, read_file(path, 64u << 10));
  return parse_key_file(text, path);
}

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  constexpr size_t kBlock = 64;
  std::string k(key);
  if (k.size() > kBlock) k = unhex(image::Sha256::of(k).hex());
  k.resize(kBlock, '\0');
  std::string ipad(kBlock, '\0'), opad(kBlock, '\0');
  for (size_t i = 0; i < kBlock; ++i) {
    ipad[i] = static_cast<char>(k[i] ^ 0x36);
    opad[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  image::Sha256 inner;
  inner.update(ipad);
  inner.update(message);
  std::string inner_digest = unhex(inner.finish().hex());
  image::Sha256 outer;
  outer.update(opad);
  outer.update(inner_digest);
  return outer.finish().hex();
}

bool Keys::api_key_ok(std::string_view key) const {
  bool ok = false;
  for (const auto& k : api_keys_) ok |= serve::constant_time_equal(key, k);
  return ok;
}

std::string Keys::access_token(std::string_view sandbox_id) const {
  return "ea_" + hmac_sha256_hex(envd_secret_, "envd-access-token:" + std::string(sandbox_id));
}

bool Keys::access_token_ok(std::string_view sandbox_id, std::string_view token) const {
  return serve::constant_time_equal(token, access_token(sandbox_id));
}

Result<std::string> load_or_make_secret(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Error::from_errno("stat of " + path);
    unsigned char raw[32];
    if (::getrandom(raw, sizeof raw, 0) != static_cast<ssize_t>(sizeof raw))
      return Error::from_errno("getting random bytes for " + path);
    static const char* hex = "0123456789abcdef";
    std::string secret;
    for (unsigned char c : raw) {
      secret.push_back(hex[c >> 4]);
      secret.push_back(hex[c & 0xf]);
    }
    KRUNBOX_TRY_CTX(write_file_atomic(path, secret + "\n", 0600), "writing the E2B token secret");
  }
  KRUNBOX_TRY(check_private_file(path, "E2B token secret"));
  KRUNBOX_ASSIGN_OR_RETURN(std::string secret, read_file(path, 4096));
  secret = trim(secret.substr(0, secret.find('\n')));
  if (secret.size() < 32)
    return Error(ErrorCode::kInvalidArgument, "the E2B token secret " + path + " is shorter than 32 bytes; remove it "
                                              "and a new one is made (tokens handed out before stop working)");
  return secret;
}

}  // namespace krunbox::e2b
