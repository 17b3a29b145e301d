#include "base/process_ref.h"

#include <cstdlib>
#include <string>

#include "base/fs.h"

namespace krunbox {

std::optional<ProcessRef> process_ref(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!stat) return std::nullopt;
  // The command name (field 2) may hold spaces and parentheses: count fields
  // after its last ')'.
  auto close = stat->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  const char* p = stat->c_str() + close + 1;
  for (int field = 3; field < 22 && *p; ++field) {
    while (*p == ' ') ++p;
    while (*p && *p != ' ') ++p;
  }
  char* end = nullptr;
  unsigned long long start = std::strtoull(p, &end, 10);
  if (end == p) return std::nullopt;
  return ProcessRef{pid, start};
}

bool process_alive(const ProcessRef& p) {
  auto now = process_ref(p.pid);
  return now && now->start_time == p.start_time;
}

}  // namespace krunbox
