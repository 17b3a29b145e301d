// The one printer of the CLI's tables (ps, images). Cells carry text from
// images, registries and guests (an image's Cmd, a crash reason, a created
// date), so each goes through terminal_safe_line() on its way out: no escape
// sequence in a cell reaches the terminal, and no cell breaks its row.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace krunbox::cli {

struct TableColumn {
  std::string header;
  size_t width = 0;       // padded to this many characters; 0: as is (the last column)
  bool truncate = false;  // cut longer cells to `width`, ending in "..."
};

class Table {
 public:
  explicit Table(std::vector<TableColumn> columns, std::string gap = "  ")
      : columns_(std::move(columns)), gap_(std::move(gap)) {}

  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  // The header line, then the rows.
  void print(std::FILE* out = stdout) const;

 private:
  std::string line(const std::vector<std::string>& cells) const;

  std::vector<TableColumn> columns_;
  std::string gap_;
  std::vector<std::vector<std::string>> rows_;
};

// "1.23MB": decimal units, three significant digits, as docker prints sizes.
std::string human_size(uint64_t bytes);

}  // namespace krunbox::cli
