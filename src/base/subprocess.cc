#include "base/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/fs.h"

extern char** environ;

namespace krunbox {
namespace {

std::vector<char*> to_cstrings(const std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

class FileActions {
 public:
  FileActions() { ::posix_spawn_file_actions_init(&fa_); }
  ~FileActions() { ::posix_spawn_file_actions_destroy(&fa_); }
  posix_spawn_file_actions_t* get() { return &fa_; }

 private:
  posix_spawn_file_actions_t fa_;
};

class SpawnAttr {
 public:
  SpawnAttr() { ::posix_spawnattr_init(&a_); }
  ~SpawnAttr() { ::posix_spawnattr_destroy(&a_); }
  posix_spawnattr_t* get() { return &a_; }

 private:
  posix_spawnattr_t a_;
};

}  // namespace

std::optional<std::string> find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    return std::nullopt;
  }
  const char* path = ::getenv("PATH");
  std::string p = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= p.size()) {
    size_t end = p.find(':', start);
    if (end == std::string::npos) end = p.size();
    std::string dir = p.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = join_path(dir, name);
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    start = end + 1;
  }
  return std::nullopt;
}

Result<Subprocess> Subprocess::spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) return Error(ErrorCode::kInvalidArgument, "spawn: empty argv");
  std::string program = argv[0];
  if (options.search_path) {
    auto found = find_program(argv[0]);
    if (!found) return Error(ErrorCode::kNotFound, "program '" + argv[0] + "' not found in PATH");
    program = *found;
  }

  Subprocess sp;
  FileActions fa;
  UniqueFd child_ends[3];
  UniqueFd devnull;
  const Stdio modes[3] = {options.stdin_mode, options.stdout_mode, options.stderr_mode};
  for (int i = 0; i < 3; ++i) {
    if (modes[i] == Stdio::kPipe) {
      KRUNBOX_ASSIGN_OR_RETURN(auto p, make_pipe());
      if (i == 0) {
        child_ends[i] = std::move(p.read);
        sp.stdin_ = std::move(p.write);
      } else {
        child_ends[i] = std::move(p.write);
        (i == 1 ? sp.stdout_ : sp.stderr_) = std::move(p.read);
      }
      ::posix_spawn_file_actions_adddup2(fa.get(), child_ends[i].get(), i);
    } else if (modes[i] == Stdio::kFile) {
      const std::string& path = i == 1 ? options.stdout_file : options.stderr_file;
      if (i == 0 || path.empty()) return Error(ErrorCode::kInvalidArgument, "spawn: kFile needs a stdout/stderr path");
      ::posix_spawn_file_actions_addopen(fa.get(), i, path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    } else if (modes[i] == Stdio::kNull) {
      if (!devnull) {
        devnull.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
        if (!devnull) return Error::from_errno("open /dev/null");
      }
      ::posix_spawn_file_actions_adddup2(fa.get(), devnull.get(), i);
    }
  }

  // Kept fds: dup each to a high, unique number first so that mapping
  // A->B and B->A, or A->A (where dup2 would keep FD_CLOEXEC), all work.
  std::vector<UniqueFd> staged;
  int highest_child_fd = 2;
  for (auto [ours, theirs] : options.keep_fds) {
    int tmp = ::fcntl(ours, F_DUPFD_CLOEXEC, 100);
    if (tmp < 0) return Error::from_errno("dup fd " + std::to_string(ours));
    staged.emplace_back(tmp);
    ::posix_spawn_file_actions_adddup2(fa.get(), tmp, theirs);
    highest_child_fd = std::max(highest_child_fd, theirs);
  }
  // Everything else is closed even if someone forgot O_CLOEXEC: no host fd
  // leaks into a child by accident.
  for (int fd = 3; fd <= highest_child_fd; ++fd) {
    bool kept = std::any_of(options.keep_fds.begin(), options.keep_fds.end(),
                            [fd](const auto& m) { return m.second == fd; });
    if (!kept) ::posix_spawn_file_actions_addclose(fa.get(), fd);
  }
  ::posix_spawn_file_actions_addclosefrom_np(fa.get(), highest_child_fd + 1);
  if (!options.cwd.empty()) ::posix_spawn_file_actions_addchdir_np(fa.get(), options.cwd.c_str());

  SpawnAttr attr;
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  sigset_t empty, all;
  sigemptyset(&empty);
  sigfillset(&all);
  ::posix_spawnattr_setsigmask(attr.get(), &empty);
  ::posix_spawnattr_setsigdefault(attr.get(), &all);
  if (options.new_process_group) {
    flags |= POSIX_SPAWN_SETPGROUP;
    ::posix_spawnattr_setpgroup(attr.get(), 0);
  }
  ::posix_spawnattr_setflags(attr.get(), flags);

  auto cargv = to_cstrings(argv);
  std::vector<char*> cenv;
  if (options.env) cenv = to_cstrings(*options.env);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program.c_str(), fa.get(), attr.get(), cargv.data(),
                         options.env ? cenv.data() : environ);
  if (rc != 0) return Error::from_errno("spawn " + program, rc);
  sp.process_ = UniquePid(pid);
  return sp;
}

Result<RunOutput> run_capture(const std::vector<std::string>& argv, const RunOptions& options) {
  SpawnOptions so;
  so.env = options.env;
  so.cwd = options.cwd;
  so.stdin_mode = options.stdin_data.empty() ? Stdio::kNull : Stdio::kPipe;
  so.stdout_mode = Stdio::kPipe;
  so.stderr_mode = Stdio::kPipe;
  KRUNBOX_ASSIGN_OR_RETURN(auto sp, Subprocess::spawn(argv, so));

  RunOutput result;
  size_t in_off = 0;
  if (sp.stdin_fd()) KRUNBOX_TRY(set_nonblocking(sp.stdin_fd().get(), true));
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  // Ignore SIGPIPE for our writes to a child that stopped reading.
  struct sigaction ign {}, old {};
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, &old);

  while (sp.stdout_fd() || sp.stderr_fd()) {
    pollfd pfds[3];
    int n = 0;
    int idx_out = -1, idx_err = -1, idx_in = -1;
    if (sp.stdout_fd()) { idx_out = n; pfds[n++] = {sp.stdout_fd().get(), POLLIN, 0}; }
    if (sp.stderr_fd()) { idx_err = n; pfds[n++] = {sp.stderr_fd().get(), POLLIN, 0}; }
    if (sp.stdin_fd()) { idx_in = n; pfds[n++] = {sp.stdin_fd().get(), POLLOUT, 0}; }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) break;
    int r = ::poll(pfds, n, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      ::sigaction(SIGPIPE, &old, nullptr);
      return Error::from_errno("poll");
    }
    auto drain = [&](int idx, UniqueFd& fd, std::string& sink) {
      if (idx < 0 || !(pfds[idx].revents & (POLLIN | POLLHUP | POLLERR))) return;
      char buf[65536];
      ssize_t got = ::read(fd.get(), buf, sizeof buf);
      if (got <= 0) {
        if (got < 0 && errno == EINTR) return;
        fd.reset();
        return;
      }
      size_t room = options.max_output > sink.size() ? options.max_output - sink.size() : 0;
      if (static_cast<size_t>(got) > room) result.truncated = true;
      sink.append(buf, std::min(room, static_cast<size_t>(got)));
    };
    drain(idx_out, sp.stdout_fd(), result.out);
    drain(idx_err, sp.stderr_fd(), result.err);
    if (idx_in >= 0 && (pfds[idx_in].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t w = ::write(sp.stdin_fd().get(), options.stdin_data.data() + in_off, options.stdin_data.size() - in_off);
      if (w > 0) in_off += static_cast<size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off == options.stdin_data.size()) sp.stdin_fd().reset();
    }
  }
  ::sigaction(SIGPIPE, &old, nullptr);
  sp.stdin_fd().reset();

  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  KRUNBOX_ASSIGN_OR_RETURN(auto status, sp.wait_for(std::max(left, std::chrono::milliseconds(0))));
  if (!status) {
    (void)sp.kill(SIGKILL);
    (void)sp.wait();
    return Error(ErrorCode::kTimeout, "'" + argv[0] + "' did not finish within " +
                                          std::to_string(options.timeout.count()) + " ms and was killed");
  }
  result.status = *status;
  return result;
}

}  // namespace krunbox
