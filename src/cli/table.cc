#include "cli/table.h"

#include "base/log.h"

namespace krunbox::cli {
namespace {

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xc0) == 0x80; }

// Characters, not bytes, so a UTF-8 name pads like an ASCII one and is never
// cut inside a character.
size_t char_count(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += !is_continuation_byte(c);
  return n;
}

std::string first_chars(std::string_view s, size_t n) {
  size_t i = 0;
  for (size_t seen = 0; i < s.size(); ++i) {
    if (!is_continuation_byte(s[i]) && seen++ == n) break;
  }
  return std::string(s.substr(0, i));
}

}  // namespace

std::string Table::line(const std::vector<std::string>& cells) const {
  std::string out;
  for (size_t i = 0; i < columns_.size(); ++i) {
    const TableColumn& col = columns_[i];
    std::string cell = terminal_safe_line(i < cells.size() ? cells[i] : std::string());
    size_t chars = char_count(cell);
    if (col.truncate && col.width > 3 && chars > col.width) {
      cell = first_chars(cell, col.width - 3) + "...";
      chars = col.width;
    }
    if (i > 0) out += gap_;
    out += cell;
    bool last = i + 1 == columns_.size();
    if (!last && chars < col.width) out.append(col.width - chars, ' ');
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out + "\n";
}

void Table::print(std::FILE* out) const {
  std::vector<std::string> headers;
  for (const auto& c : columns_) headers.push_back(c.header);
  std::string text = line(headers);
  for (const auto& row : rows_) text += line(row);
  std::fwrite(text.data(), 1, text.size(), out);
}

std::string human_size(uint64_t bytes) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.3g%s", v, units[u]);
  return buf;
}

}  // namespace krunbox::cli
