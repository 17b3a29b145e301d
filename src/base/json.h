// JSON through nlohmann-json, with parse failures turned into Error values
// that name the document that was malformed.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "krunbox/error.h"

namespace krunbox {

using Json = nlohmann::json;

// `what` names the document in the error ("state.json of sandbox 3f2a").
Result<Json> parse_json(std::string_view text, std::string_view what);

// Reads a JSON file of at most `max_bytes`.
Result<Json> read_json_file(const std::string& path, size_t max_bytes = 1u << 20);

}  // namespace krunbox
