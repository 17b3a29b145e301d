#include "harness.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "base/fs.h"
#include "base/subprocess.h"

namespace krunbox::testing {

std::string agent_binary() { return KRUNBOX_AGENT_BIN; }

std::string pid1_unavailable() {
#ifdef KRUNBOX_SANITIZE_BUILD
  return "the sanitizer build links krunbox-agent dynamically, so it cannot run alone in a busybox root";
#else
  if (::geteuid() != 0) return "needs root for PID and mount namespaces";
  if (!path_exists("/bin/busybox")) return "needs /bin/busybox (busybox-static)";
  if (!find_program("unshare")) return "needs unshare(1)";
  return "";
#endif
}

Result<TempDir> make_rootfs() {
  KRUNBOX_ASSIGN_OR_RETURN(TempDir dir, TempDir::create("agent-rootfs-"));
  const std::string& r = dir.path();
  // It becomes "/": users other than root must be able to enter it.
  ::chmod(r.c_str(), 0755);
  for (const char* d : {"bin", "sbin", "etc", "proc", "sys", "dev", "tmp", "root", "run", "home/app"})
    KRUNBOX_TRY(make_dirs(r + "/" + d));
  ::chmod((r + "/tmp").c_str(), 01777);
  KRUNBOX_ASSIGN_OR_RETURN(std::string busybox, read_file("/bin/busybox", 64u << 20));
  KRUNBOX_TRY(write_file_atomic(r + "/bin/busybox", busybox, 0755));
  KRUNBOX_ASSIGN_OR_RETURN(std::string agent, read_file(agent_binary(), 256u << 20));
  KRUNBOX_TRY(write_file_atomic(r + "/sbin/krunbox-agent", agent, 0755));
  KRUNBOX_ASSIGN_OR_RETURN(RunOutput list, run_capture({"/bin/busybox", "--list"}));
  std::istringstream names(list.out);
  for (std::string name; std::getline(names, name);)
    if (!name.empty() && name != "busybox") ::symlink("busybox", (r + "/bin/" + name).c_str());
  KRUNBOX_TRY(write_file_atomic(r + "/etc/passwd",
                                "root:x:0:0:root:/root:/bin/sh\n"
                                "app:x:1000:1000:app:/home/app:/bin/sh\n"
                                "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"));
  KRUNBOX_TRY(write_file_atomic(r + "/etc/group", "root:x:0:\napp:x:1000:\nextra:x:77:app\nnogroup:x:65534:\n"));
  return dir;
}

pid_t AgentProcess::agent_pid() const {
  if (mode == Mode::kChild) return process.get();
  // unshare --fork: the agent is its only child.
  std::ifstream f("/proc/" + std::to_string(process.get()) + "/task/" + std::to_string(process.get()) + "/children");
  pid_t pid = -1;
  f >> pid;
  return pid;
}

std::string AgentProcess::host_path(const std::string& guest) const {
  return mode == Mode::kChild ? guest : rootfs.path() + guest;
}

uint64_t AgentProcess::peak_rss() const {
  std::ifstream f("/proc/" + std::to_string(agent_pid()) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

std::vector<pid_t> AgentProcess::children() const {
  std::vector<pid_t> out;
  std::string dir = "/proc/" + std::to_string(agent_pid()) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(dir + "/" + e->d_name + "/children");
    for (pid_t p; f >> p;) out.push_back(p);
  }
  ::closedir(d);
  return out;
}

bool AgentProcess::wait_exit(std::chrono::milliseconds timeout) {
  auto r = process.wait_for(timeout);
  return r.ok() && r->has_value();
}

Result<std::unique_ptr<AgentProcess>> launch(Mode mode, const LaunchOptions& options) {
  auto p = std::make_unique<AgentProcess>();
  p->mode = mode;
  KRUNBOX_ASSIGN_OR_RETURN(auto sp, make_socketpair());
  std::vector<std::string> argv;
  if (mode == Mode::kPid1) {
    KRUNBOX_ASSIGN_OR_RETURN(p->rootfs, make_rootfs());
    argv = {"unshare", "--pid", "--mount", "--uts", "--ipc", "--fork", "--kill-child", "--root=" + p->rootfs.path(),
            "/sbin/krunbox-agent", "--fd", "3", "--hostname", "krunbox-test"};
  } else {
    argv = {agent_binary(), "--fd", "3"};
  }
  for (const auto& a : options.extra_args) argv.push_back(a);
  SpawnOptions so;
  so.keep_fds = {{sp.second.get(), 3}};
  so.env = std::vector<std::string>{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                    "IMAGE_VAR=from-image", "KRUNBOX_LOG=warn"};
  KRUNBOX_ASSIGN_OR_RETURN(Subprocess sub, Subprocess::spawn(argv, so));
  p->process = std::move(sub.process());
  sp.second.reset();
  if (options.raw) {
    p->host_fd = std::move(sp.first);
  } else {
    KRUNBOX_ASSIGN_OR_RETURN(p->client, proto::AgentClient::connect(std::move(sp.first)));
  }
  return p;
}

proto::ExecRequest sh(const std::string& script) {
  proto::ExecRequest r;
  r.argv = {"sh", "-c", script};
  return r;
}

proto::ExecRequest cmd(std::vector<std::string> argv) {
  proto::ExecRequest r;
  r.argv = std::move(argv);
  return r;
}

}  // namespace krunbox::testing
