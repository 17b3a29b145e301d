// multipart/form-data (RFC 7578) as the SDK's FormData sends files to
// POST /files: each part's name, file name and bytes.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"

namespace krunbox::e2b {

struct FormPart {
  std::string name;      // the form field ("file")
  std::string filename;  // as sent, with the %22 / %0A / %0D escapes browsers and undici use undone
  bool has_filename = false;
  std::string content_type;
  std::string data;
};

// The boundary parameter of a multipart/form-data content type;
// kInvalidArgument for any other type or a missing or malformed boundary.
Result<std::string> multipart_boundary(std::string_view content_type);
// Every part of `body`; it must close with the final boundary.
Result<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary);

// A query string's parameters, each %-decoded ('+' a space, as URLSearchParams
// writes it); a repeated name keeps its first value.
Result<std::map<std::string, std::string>> parse_query_params(std::string_view query);
Result<std::string> url_decode(std::string_view text);

}  // namespace krunbox::e2b
