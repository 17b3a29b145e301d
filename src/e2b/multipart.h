// multipart/form-data (RFC 7578) as the SDK's FormData sends files to
// POST /files: each part's name, file name and bytes, read as they arrive
// so an upload is never held whole in memory.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"
#include "serve/http.h"

namespace krunbox::e2b {

using serve::BodySource;

struct FormPartHead {
  std::string name;      // the form field ("file")
  std::string filename;  // as sent, with the %22 / %0A / %0D escapes browsers and undici use undone
  bool has_filename = false;
  std::string content_type;
};

struct FormPart : FormPartHead {
  std::string data;
};

// The boundary parameter of a multipart/form-data content type;
// kInvalidArgument for any other type or a missing or malformed boundary.
Result<std::string> multipart_boundary(std::string_view content_type);

// A multipart body read from `source` part by part: next_part() gives a
// part's headers, then read() its bytes until 0. The window it keeps is a
// chunk and a boundary long, whatever the parts' sizes.
class MultipartReader {
 public:
  MultipartReader(BodySource source, std::string_view boundary);
  // The next part's headers (what is left of the current part is skipped);
  // nullopt after the close delimiter, once the epilogue is read to the
  // body's end. kInvalidArgument for a malformed body or one that ends
  // before its close delimiter; the source's own errors as they are.
  Result<std::optional<FormPartHead>> next_part();
  // The current part's next bytes into `buf`, 0 at its end.
  Result<size_t> read(char* buf, size_t size);

 private:
  static constexpr size_t kReadChunk = 256u << 10;
  static constexpr size_t kMaxHeaderBytes = 16u << 10;  // of one part
  static constexpr size_t kMaxParts = 1000;

  // Reads more of the body into the window; false at the body's end.
  Result<bool> fill();
  // Ensures `n` unconsumed bytes in the window; false if the body ends first.
  Result<bool> have(size_t n);
  Status skip_epilogue();

  BodySource source_;
  std::string delimiter_;  // "\r\n--" + boundary
  std::string window_;     // read; from pos_ on not yet consumed
  size_t pos_ = 0;
  std::unique_ptr<char[]> chunk_;  // what one read of the source lands in
  enum class State { kPreamble, kInPart, kAfterDelimiter, kDone } state_ = State::kPreamble;
  size_t parts_ = 0;
};

// Every part of a body held whole (tests and the fuzz target); it must
// close with the final boundary.
Result<std::vector<FormPart>> parse_multipart(std::string_view body, std::string_view boundary);

// A query string's parameters, each %-decoded ('+' a space, as URLSearchParams
// writes it); a repeated name keeps its first value.
Result<std::map<std::string, std::string>> parse_query_params(std::string_view query);
Result<std::string> url_decode(std::string_view text);

}  // namespace krunbox::e2b
