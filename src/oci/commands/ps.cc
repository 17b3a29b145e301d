// ps [-f json|table] ID: the container's host processes: its monitor and
// everything below it (for the native backend the sandbox's own processes,
// for a VM its engine), as runc lists the processes of its cgroup.
#include <dirent.h>

#include <cstdio>
#include <map>

#include "base/fs.h"
#include "base/log.h"
#include "oci/commands/commands.h"

namespace krunbox::oci {
namespace {

struct HostProcess {
  pid_t pid;
  pid_t ppid;
  std::string command;
};

// Every process's parent and command, from /proc/PID/stat.
std::vector<HostProcess> host_processes() {
  std::vector<HostProcess> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end) continue;
    auto stat = read_file("/proc/" + std::string(e->d_name) + "/stat", 4096);
    if (!stat) continue;
    size_t open = stat->find('('), close = stat->rfind(')');
    if (open == std::string::npos || close == std::string::npos || close + 4 > stat->size()) continue;
    long ppid = std::strtol(stat->c_str() + close + 4, nullptr, 10);
    out.push_back({static_cast<pid_t>(pid), static_cast<pid_t>(ppid), stat->substr(open + 1, close - open - 1)});
  }
  ::closedir(d);
  return out;
}

std::vector<HostProcess> tree_of(pid_t root) {
  std::vector<HostProcess> all = host_processes();
  std::multimap<pid_t, const HostProcess*> children;
  const HostProcess* top = nullptr;
  for (const auto& p : all) {
    children.emplace(p.ppid, &p);
    if (p.pid == root) top = &p;
  }
  std::vector<HostProcess> out;
  if (!top) return out;
  std::vector<const HostProcess*> pending = {top};
  while (!pending.empty() && out.size() < 65536) {
    const HostProcess* p = pending.back();
    pending.pop_back();
    out.push_back(*p);
    auto [from, to] = children.equal_range(p->pid);
    for (auto it = from; it != to; ++it) pending.push_back(it->second);
  }
  return out;
}

}  // namespace

void setup_ps(CLI::App& app, Context& ctx) {
  auto id = std::make_shared<std::string>();
  auto format = std::make_shared<std::string>("table");
  auto* cmd = app.add_subcommand("ps", "List a container's host processes");
  cmd->add_option("id", *id, "Container id")->required();
  cmd->add_option("-f,--format", *format, "table or json")->check(CLI::IsMember({"table", "json"}));
  cmd->allow_extras();  // runc passes ps(1) options on; there is no ps(1) here to take them
  cmd->callback([&ctx, id, format] {
    Containers containers(ctx.global);
    auto c = containers.load(*id);
    if (!c) {
      ctx.exit_code = report_error(ctx, c.error());
      return;
    }
    std::vector<HostProcess> procs = c->pid > 0 ? tree_of(c->pid) : std::vector<HostProcess>{};
    if (*format == "json") {
      Json pids = Json::array();
      for (const auto& p : procs) pids.push_back(p.pid);
      std::printf("%s\n", pids.dump().c_str());
      return;
    }
    std::printf("%-8s %-8s %s\n", "PID", "PPID", "CMD");
    for (const auto& p : procs) std::printf("%-8d %-8d %s\n", p.pid, p.ppid, terminal_safe_line(p.command).c_str());
  });
}

}  // namespace krunbox::oci
