#include "serve/auth.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "base/unique_fd.h"

namespace krunbox::serve {

Result<std::string> load_token_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return Error::from_errno("opening the token file " + path);
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return Error::from_errno("stat of the token file " + path);
  if (!S_ISREG(st.st_mode)) return Error(ErrorCode::kInvalidArgument, "the token file " + path + " is not a regular file");
  if ((st.st_mode & 077) != 0)
    return Error(ErrorCode::kPermissionDenied, "the token file " + path +
                                                   " may be read by group or others; chmod 600 it");
  KRUNBOX_ASSIGN_OR_RETURN(std::string token, read_file(path, 4096));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ' || token.back() == '\t'))
    token.pop_back();
  if (token.size() < kMinTokenBytes)
    return Error(ErrorCode::kInvalidArgument, "the token in " + path + " is shorter than " +
                                                  std::to_string(kMinTokenBytes) +
                                                  " bytes; make one with: openssl rand -hex 32 > " + path);
  for (unsigned char c : token)
    if (c <= 0x20 || c >= 0x7f)
      return Error(ErrorCode::kInvalidArgument,
                   "the token in " + path + " has a byte that is not printable ASCII (spaces included)");
  return token;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of `b` is visited whatever `a` holds; the lengths themselves
  // are not secret enough to hide (a token's length is in the docs).
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < b.size(); ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ static_cast<unsigned char>(b[i]));
  }
  return diff == 0;
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
  constexpr std::string_view kScheme = "Bearer ";
  if (token.empty() || authorization.size() < kScheme.size()) return false;
  // The scheme is case-insensitive (RFC 7235); the token is not.
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = authorization[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    char k = kScheme[i];
    if (k >= 'A' && k <= 'Z') k = static_cast<char>(k - 'A' + 'a');
    if (c != k) return false;
  }
  return constant_time_equal(authorization.substr(kScheme.size()), token);
}

}  // namespace krunbox::serve
