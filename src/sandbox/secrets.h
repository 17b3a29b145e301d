// --secret NAME=VALUE / NAME=@FILE: values that reach the workload's
// environment through the monitor's memory and the agent connection only;
// never a state file, log, inspect output or kernel command line. See
// docs/security.md for what this protects against and what it does not.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"

namespace krunbox {

struct Secret {
  std::string name;
  std::string value;
};

inline constexpr size_t kMaxSecretBytes = 64u << 10;
inline constexpr size_t kMaxSecrets = 256;
// ErrorField::name of the errors below; its value is the secret's name, never its value.
inline constexpr const char* kSecretField = "secret";

// NAME must be a valid environment variable name; @FILE is read (at most
// kMaxSecretBytes, one trailing newline dropped); no NUL bytes in the value.
Result<Secret> parse_secret(std::string_view text);
Result<std::vector<Secret>> parse_secrets(const std::vector<std::string>& texts);

// The CLI hands secrets to the monitor over a pipe as this JSON text.
std::string encode_secrets(const std::vector<Secret>& secrets);
Result<std::vector<Secret>> decode_secrets(std::string_view text);

// NAME=VALUE entries for an exec request.
std::vector<std::string> secret_env(const std::vector<Secret>& secrets);

// Secrets given as values (not read from files, as from an API): each name
// valid, each value at most kMaxSecretBytes without NUL, at most kMaxSecrets.
Status check_secret_values(const std::vector<Secret>& secrets);

// Overwrites the values in memory before they are freed.
void wipe(std::vector<Secret>& secrets);
void wipe(std::string& s);

}  // namespace krunbox
