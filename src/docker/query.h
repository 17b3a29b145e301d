// What a Docker client sends besides bodies: the path (with or without a
// "/v1.NN" version prefix), the query string (Go's form encoding: '+' is a
// space) and its JSON "filters" parameter.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "krunbox/error.h"

namespace krunbox::docker {

// The API version Docker's clients are told, and the oldest one accepted.
inline constexpr const char* kApiVersion = "1.43";
inline constexpr const char* kMinApiVersion = "1.24";

struct DockerPath {
  std::string version;                // "1.43" from "/v1.43/..."; empty without a prefix
  std::vector<std::string> segments;  // %-decoded; never empty strings
};
// A version older than kMinApiVersion or a malformed one is an error, as are
// empty segments ("//") and escapes that decode to NUL or '/'.
Result<DockerPath> parse_docker_path(std::string_view path);

class DockerQuery {
 public:
  static Result<DockerQuery> parse(std::string_view query);
  // The last value of `name`.
  std::optional<std::string> get(std::string_view name) const;
  // Docker's boolean reading: absent is `otherwise`; "", "0", "no", "false"
  // and "none" (in any case) are false; anything else true.
  bool flag(std::string_view name, bool otherwise = false) const;
  // An integer parameter within [min, max]; absent: nullopt.
  Result<std::optional<int64_t>> integer(std::string_view name, int64_t min, int64_t max) const;

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// ?filters= in either of Docker's spellings, {"label":{"a=b":true}} or
// {"label":["a=b"]}: name -> values.
using Filters = std::map<std::string, std::vector<std::string>>;
Result<Filters> parse_filters(std::string_view json);

// A JSON document a client sent; malformed is the client's error (400).
Result<Json> parse_client_json(std::string_view text, std::string_view what);

// A signal by name ("KILL", "SIGKILL") or number, as Docker's kill takes it.
Result<int> parse_signal(std::string_view text);

}  // namespace krunbox::docker
