#include "base/json.h"

#include "base/fs.h"

namespace krunbox {

Result<Json> parse_json(std::string_view text, std::string_view what) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error(ErrorCode::kCorrupt, std::string(what) + " is not valid JSON");
  return j;
}

Result<Json> read_json_file(const std::string& path, size_t max_bytes) {
  KRUNBOX_ASSIGN_OR_RETURN(auto text, read_file(path, max_bytes));
  return parse_json(text, path);
}

}  // namespace krunbox
