#include "serve/http.h"

#include <algorithm>

namespace krunbox::serve {
namespace {

bool ascii_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (ascii_iequal(n, name)) return v;
  return {};
}

BodySource source_of(std::string_view bytes) {
  return [bytes, used = size_t{0}](char* buf, size_t size) mutable -> Result<size_t> {
    size_t n = std::min(size, bytes.size() - used);
    std::copy_n(bytes.data() + used, n, buf);
    used += n;
    return n;
  };
}

BodySource HttpRequest::body_reader() const { return body_source ? body_source : source_of(body); }

}  // namespace krunbox::serve
