#include "sandbox/exec_request.h"

#include <cstdint>
#include <cstdio>
#include <string_view>

#include "proto/frame.h"
#include "sandbox/secrets.h"
#include "sandbox/workload.h"

namespace krunbox {
namespace {

size_t total_bytes(const std::vector<std::string>& strings) {
  size_t n = 0;
  for (const auto& s : strings) n += s.size();
  return n;
}

// Where `s` stops being UTF-8 (RFC 3629: no overlong forms, no surrogates,
// nothing past U+10FFFF), or npos.
size_t first_non_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) return i;
    uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len;
  }
  return std::string_view::npos;
}

// The error names the string by its place, never its bytes: an env entry
// may be a secret.
Status check_utf8(std::string_view s, const std::string& what) {
  size_t at = first_non_utf8(s);
  if (at == std::string_view::npos) return {};
  char byte[8];
  std::snprintf(byte, sizeof byte, "0x%02x", static_cast<unsigned char>(s[at]));
  return Error(ErrorCode::kInvalidArgument, what + " is not UTF-8 (byte " + byte + " at offset " + std::to_string(at) +
                                                "); krunbox passes only UTF-8 text to a sandbox; pass other bytes in a "
                                                "file (-v) or on stdin instead");
}

Status check_utf8(const std::vector<std::string>& strings, const std::string& what) {
  for (size_t i = 0; i < strings.size(); ++i) KRUNBOX_TRY(check_utf8(strings[i], what + " " + std::to_string(i)));
  return {};
}

}  // namespace

proto::ExecRequest main_process_request(const SandboxSpec& spec, const std::vector<std::string>& secret_env) {
  return exec_request_for(spec, main_workload(spec, secret_env));
}

Status check_exec_request_size(const proto::ExecRequest& request) {
  KRUNBOX_TRY(check_utf8(request.argv, "the command's argument (argv)"));
  KRUNBOX_TRY(check_utf8(request.env, "the environment (env) entry"));
  KRUNBOX_TRY(check_utf8(request.cwd, "the working directory"));
  KRUNBOX_TRY(check_utf8(request.user, "the user"));
  if (request.argv.size() > proto::kMaxArgs)
    return Error(ErrorCode::kLimitExceeded, "the command has " + std::to_string(request.argv.size()) +
                                                " arguments (argv), over the sandbox agent's limit of " +
                                                std::to_string(proto::kMaxArgs));
  if (request.env.size() > proto::kMaxEnv)
    return Error(ErrorCode::kLimitExceeded, "the environment has " + std::to_string(request.env.size()) +
                                                " variables (env), over the sandbox agent's limit of " +
                                                std::to_string(proto::kMaxEnv));
  std::string encoded = proto::encode_request(request);
  size_t size = encoded.size();
  wipe(encoded);  // it may hold secrets
  if (size <= proto::kMaxControlPayload) return {};
  return Error(ErrorCode::kLimitExceeded,
               "the command and its environment take " + std::to_string(size) +
                   " bytes in the request that starts it (the command's arguments, argv, " +
                   std::to_string(total_bytes(request.argv)) + " bytes; the environment, env (-e/--env, --env-file, "
                   "the image's Env and secrets), " + std::to_string(total_bytes(request.env)) +
                   " bytes), over the sandbox agent's limit of " + std::to_string(proto::kMaxControlPayload) +
                   " bytes (64 KiB) for both together; pass large data in a file (-v) or on stdin instead");
}

}  // namespace krunbox
