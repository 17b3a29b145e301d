#include "sandbox/secrets.h"

#include <algorithm>
#include <cctype>

#include "base/fs.h"
#include "base/json.h"

namespace krunbox {
namespace {

bool valid_env_name(std::string_view n) {
  if (n.empty() || n.size() > 256) return false;
  if (std::isdigit(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

Result<Secret> parse_secret(std::string_view text) {
  size_t eq = text.find('=');
  if (eq == std::string_view::npos)
    return Error(ErrorCode::kInvalidArgument, "a secret is NAME=VALUE or NAME=@FILE").with_field(kSecretField);
  Secret s;
  s.name = std::string(text.substr(0, eq));
  if (!valid_env_name(s.name))
    return Error(ErrorCode::kInvalidArgument, "secret name '" + s.name +
                                                  "' is not a valid variable name (letters, digits, _; not "
                                                  "starting with a digit)")
        .with_field(kSecretField);
  std::string_view value = text.substr(eq + 1);
  if (!value.empty() && value[0] == '@') {
    std::string file(value.substr(1));
    auto content = read_file(file, kMaxSecretBytes);
    // One message, so the field names it whole rather than the file's error inside it.
    if (!content)
      return Error(content.error().code(), "secret " + s.name + ": reading " + content.error().what())
          .with_field(kSecretField, s.name);
    s.value = std::move(*content);
    if (!s.value.empty() && s.value.back() == '\n') s.value.pop_back();
  } else {
    s.value = std::string(value);
  }
  if (s.value.size() > kMaxSecretBytes)
    return Error(ErrorCode::kLimitExceeded, "secret " + s.name + ": the value is over 64 KiB")
        .with_field(kSecretField, s.name);
  if (s.value.find('\0') != std::string::npos)
    return Error(ErrorCode::kInvalidArgument, "secret " + s.name + ": the value contains a NUL byte")
        .with_field(kSecretField, s.name);
  return s;
}

Result<std::vector<Secret>> parse_secrets(const std::vector<std::string>& texts) {
  if (texts.size() > kMaxSecrets)
    return Error(ErrorCode::kLimitExceeded, "more than 256 secrets").with_field(kSecretField);
  std::vector<Secret> out;
  for (const auto& t : texts) {
    KRUNBOX_ASSIGN_OR_RETURN(auto s, parse_secret(t));
    for (const auto& other : out)
      if (other.name == s.name)
        return Error(ErrorCode::kInvalidArgument, "secret " + s.name + " is given twice").with_field(kSecretField, s.name);
    out.push_back(std::move(s));
  }
  return out;
}

std::string encode_secrets(const std::vector<Secret>& secrets) {
  Json a = Json::array();
  for (const auto& s : secrets) a.push_back({{"name", s.name}, {"value", s.value}});
  return a.dump();
}

Result<std::vector<Secret>> decode_secrets(std::string_view text) {
  if (text.empty()) return std::vector<Secret>{};
  KRUNBOX_ASSIGN_OR_RETURN(auto j, parse_json(text, "the secrets handed to the monitor"));
  if (!j.is_array() || j.size() > kMaxSecrets) return Error(ErrorCode::kProtocol, "malformed secrets list");
  std::vector<Secret> out;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("name") || !e.contains("value") || !e["name"].is_string() ||
        !e["value"].is_string())
      return Error(ErrorCode::kProtocol, "malformed secrets list");
    out.push_back({e["name"].get<std::string>(), e["value"].get<std::string>()});
  }
  return out;
}

std::vector<std::string> secret_env(const std::vector<Secret>& secrets) {
  std::vector<std::string> env;
  for (const auto& s : secrets) env.push_back(s.name + "=" + s.value);
  return env;
}

void wipe(std::string& s) {
  volatile char* p = s.data();
  for (size_t i = 0; i < s.size(); ++i) p[i] = 0;
  s.clear();
}

void wipe(std::vector<Secret>& secrets) {
  for (auto& s : secrets) wipe(s.value);
  secrets.clear();
}

Status check_secret_values(const std::vector<Secret>& secrets) {
  if (secrets.size() > kMaxSecrets) return Error(ErrorCode::kLimitExceeded, "more than 256 secrets");
  for (size_t i = 0; i < secrets.size(); ++i) {
    const Secret& s = secrets[i];
    if (!valid_env_name(s.name))
      return Error(ErrorCode::kInvalidArgument, "secret name '" + s.name.substr(0, 40) +
                                                    "' is not a valid variable name (letters, digits, _; not starting with a digit)");
    if (s.value.size() > kMaxSecretBytes)
      return Error(ErrorCode::kLimitExceeded, "secret " + s.name + ": the value is over 64 KiB");
    if (s.value.find('\0') != std::string::npos)
      return Error(ErrorCode::kInvalidArgument, "secret " + s.name + ": the value contains a NUL byte");
    for (size_t j = 0; j < i; ++j)
      if (secrets[j].name == s.name) return Error(ErrorCode::kInvalidArgument, "secret " + s.name + " given twice");
  }
  return {};
}

}  // namespace krunbox
