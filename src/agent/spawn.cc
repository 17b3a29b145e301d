#include "agent/spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "agent/spawn_child.h"
#include "agent/users.h"

namespace krunbox::agent {
namespace {

std::string_view env_key(std::string_view kv) { return kv.substr(0, kv.find('=')); }

const std::string* env_get(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env)
    if (env_key(e) == key) return &e;
  return nullptr;
}

std::vector<char*> c_array(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

std::vector<std::string> merge_env(const std::vector<std::string>& base, const std::vector<std::string>& overrides) {
  std::vector<std::string> out = base;
  for (const auto& o : overrides) {
    bool replaced = false;
    for (auto& e : out)
      if (env_key(e) == env_key(o)) {
        e = o;
        replaced = true;
        break;
      }
    if (!replaced) out.push_back(o);
  }
  return out;
}

Result<std::string> find_executable(const std::string& name, const std::string& path) {
  if (name.find('/') != std::string::npos) return name;
  size_t start = 0;
  for (;;) {
    size_t end = path.find(':', start);
    std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    struct stat st;
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) return candidate;
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return Error(ErrorCode::kNotFound, "executable '" + name + "' not found in PATH " + path);
}

Result<SpawnPlan> plan_exec(const proto::ExecRequest& req, const std::vector<std::string>& base_env,
                            const std::string& etc_dir) {
  SpawnPlan p;
  p.argv = req.argv;
  p.cwd = req.cwd.empty() ? "/" : req.cwd;
  p.tty = req.tty;
  p.rows = req.rows;
  p.cols = req.cols;
  p.stdin_open = req.stdin_open;

  std::string home;
  if (!req.user.empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(ResolvedUser u, resolve_user(req.user, etc_dir));
    p.set_ids = true;
    p.uid = u.uid;
    p.gid = u.gid;
    p.groups = u.groups;
    home = u.home;
  } else if (req.uid || req.gid || req.groups) {
    p.set_ids = true;
    // Without a named user, a lone uid still gets its passwd home if it has one.
    if (req.uid) {
      auto u = resolve_user(std::to_string(*req.uid), etc_dir);
      if (u.ok()) home = u->home;
    }
  }
  if (req.uid) p.uid = *req.uid;
  if (req.gid) p.gid = *req.gid;
  if (req.groups) {
    p.groups.assign(req.groups->begin(), req.groups->end());
  } else if (p.set_ids && p.groups.empty()) {
    p.groups.push_back(p.gid);
  }

  p.env = req.env_mode == proto::EnvMode::kReplace ? req.env : merge_env(base_env, req.env);
  if (!env_get(p.env, "PATH")) p.env.push_back(std::string("PATH=") + kDefaultPath);
  if (!env_get(p.env, "HOME")) p.env.push_back("HOME=" + (home.empty() ? std::string(p.uid == 0 ? "/root" : "/") : home));
  if (p.tty && !env_get(p.env, "TERM")) p.env.push_back("TERM=xterm");

  std::string path = env_get(p.env, "PATH")->substr(5);
  KRUNBOX_ASSIGN_OR_RETURN(p.path, find_executable(p.argv[0], path));
  return p;
}

Result<Spawned> spawn_workload(const SpawnPlan& plan) {
  Spawned out;
  UniqueFd child_in, child_out, child_err, master;
  std::string tty_path;
  if (plan.tty) {
    master.reset(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
    if (!master) return Error::from_errno("posix_openpt");
    if (::grantpt(master.get()) != 0 || ::unlockpt(master.get()) != 0) return Error::from_errno("unlockpt");
    char name[128];
    if (::ptsname_r(master.get(), name, sizeof name) != 0) return Error::from_errno("ptsname");
    tty_path = name;
    winsize ws{plan.rows, plan.cols, 0, 0};
    if (::ioctl(master.get(), TIOCSWINSZ, &ws) != 0) return Error::from_errno("setting the pty size");
  } else {
    if (plan.stdin_open) {
      KRUNBOX_ASSIGN_OR_RETURN(FdPair in, make_pipe());
      child_in = std::move(in.read);
      out.stdin_w = std::move(in.write);
    } else {
      child_in.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      if (!child_in) return Error::from_errno("open /dev/null");
    }
    KRUNBOX_ASSIGN_OR_RETURN(FdPair o, make_pipe());
    KRUNBOX_ASSIGN_OR_RETURN(FdPair e, make_pipe());
    child_out = std::move(o.write);
    child_err = std::move(e.write);
    out.stdout_r = std::move(o.read);
    out.stderr_r = std::move(e.read);
  }
  KRUNBOX_ASSIGN_OR_RETURN(FdPair report, make_pipe());

  // Everything the child touches is built now, before the fork.
  std::vector<std::string> argv = plan.argv, env = plan.env;
  std::vector<char*> cargv = c_array(argv), cenv = c_array(env);
  ChildArgs a{};
  a.path = plan.path.c_str();
  a.argv = cargv.data();
  a.envp = cenv.data();
  a.cwd = plan.cwd.c_str();
  a.stdin_fd = child_in.get();
  a.stdout_fd = child_out.get();
  a.stderr_fd = child_err.get();
  a.tty_path = plan.tty ? tty_path.c_str() : nullptr;
  a.report_fd = report.write.get();
  a.set_ids = plan.set_ids;
  a.uid = plan.uid;
  a.gid = plan.gid;
  a.groups = plan.groups.data();
  a.ngroups = plan.groups.size();

  pid_t pid = start_child(a);
  if (pid < 0) return Error::from_errno("fork");
  report.write.reset();
  child_in.reset();
  child_out.reset();
  child_err.reset();

  ChildReport r{};
  ssize_t n;
  do {
    n = ::read(report.read.get(), &r, sizeof r);
  } while (n < 0 && errno == EINTR);
  if (n != 0) {
    // The child failed before execve and exits with 127; the agent's reaper
    // collects it like any other stray child.
    int err = n == static_cast<ssize_t>(sizeof r) ? r.err : EIO;
    std::string what = child_stage_name(static_cast<ChildStage>(r.stage));
    if (static_cast<ChildStage>(r.stage) == ChildStage::kChdir) what += " " + plan.cwd;
    if (static_cast<ChildStage>(r.stage) == ChildStage::kExec) what += " " + plan.path;
    return Error::from_errno("starting the workload: " + what, err);
  }
  out.pid = pid;
  if (plan.tty) {
    out.stdout_r.reset(::fcntl(master.get(), F_DUPFD_CLOEXEC, 3));
    if (!out.stdout_r) {
      ::kill(pid, SIGKILL);
      return Error::from_errno("dup of the pty master");
    }
    out.stdin_w = std::move(master);
  }
  return out;
}

}  // namespace krunbox::agent
