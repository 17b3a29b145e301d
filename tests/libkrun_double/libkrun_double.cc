// A test double of libkrun's C API (include/libkrun.h), built as libkrun.so.1
// and loaded by krunbox-vmm through dlopen exactly like the real library.
//
// What it checks is krunbox's USE of the API, not libkrun itself: no VM is
// created, no KVM is touched, and passing against this double says nothing
// about libkrun's own behaviour. Its rules come from the API fact sheet
// (docs/backends/krun.md lists them):
//  - every call, its arguments, its result and the caller's pid are appended
//    and a wall-clock time stamp (t_ns) as one JSON line to the file named by $KRUN_DOUBLE_RECORD (when set);
//  - arguments are validated the way libkrun does: unknown context -ENOENT;
//    non-UTF-8 strings, 0 vCPUs / 0 MiB, NULL port map or rlimits, malformed
//    "host:guest" or "ID=CUR:MAX" entries, duplicate vsock ports or paths, a
//    second console output, both or neither of path/fd for a unixstream NIC,
//    unknown flags: -EINVAL;
//  - krun_create_ctx loads libkrunfw.so.5 (next to this library first) and
//    krun_start_enter fails with -ENOENT when it could not, like libkrun 1.11+;
//  - krun_start_enter composes the guest kernel command line and aborts (as a
//    panic in libkrun does) when it holds characters outside printable ASCII,
//    a '"' inside a quoted value, more than 32 init args or env entries, or
//    more than 2048 bytes;
//  - then it emulates the guest: PID 1 of fresh PID, mount, UTS, IPC and
//    network namespaces chrooted at the root directory plays libkrun's init
//    (mounts /proc, /sys, a minimal /dev, applies the rlimits and workdir,
//    runs the exec or the args of /.krun_config.json, reports the workload's
//    exit code), and the guest's AF_VSOCK connects to (CID 2, port P) are
//    carried to the host unix socket mapped to P, as libkrun's vsock muxer
//    does, through a seccomp user-notification supervisor; the process ends
//    with _exit(code) and never returns, like libkrun.
// It does not emulate TSI networking: the port map is recorded and validated
// but the emulated guest has only a loopback interface.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <linux/vm_sockets.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

using Json = nlohmann::json;

extern char** environ;

namespace {

constexpr size_t kMaxArrayEntries = 4096;  // libkrun reads at most this many
constexpr size_t kGuestCmdlineMax = 2048;  // COMMAND_LINE_SIZE of the guest kernel
constexpr size_t kInitArgLimit = 32;       // CONFIG_INIT_ENV_ARG_LIMIT

struct VsockPort {
  uint32_t port;
  std::string path;
  bool listen;
};

struct Context {
  std::optional<std::pair<uint8_t, uint32_t>> vm_config;
  std::string root;
  std::string workdir;
  bool exec_set = false;
  std::string exec_path;
  std::vector<std::string> argv;
  std::optional<std::vector<std::string>> envp;  // nullopt: NULL was passed
  std::vector<std::string> port_map;
  std::vector<std::string> rlimits;
  std::vector<VsockPort> vsock_ports;
  std::string console_output;
  bool has_net = false;
  bool implicit_vsock = true;
  bool vsock_added = false;
};

std::map<uint32_t, Context> g_contexts;
uint32_t g_next_ctx = 0;
bool g_libkrunfw_loaded = false;
bool g_log_initialized = false;

void record(const char* call, Json args, int32_t ret) {
  const char* path = std::getenv("KRUN_DOUBLE_RECORD");
  if (!path || !*path) return;
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);  // wall clock, comparable across processes (bench/krun_overhead)
  Json line = {{"pid", ::getpid()}, {"t_ns", int64_t(now.tv_sec) * 1000000000 + now.tv_nsec}, {"call", call},
               {"args", std::move(args)}, {"ret", ret}};
  std::string text = line.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
  int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return;
  (void)!::write(fd, text.data(), text.size());
  ::close(fd);
}

bool valid_utf8(const char* s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s);
  while (*p) {
    int n = *p < 0x80 ? 0 : (*p >> 5) == 0x6 ? 1 : (*p >> 4) == 0xe ? 2 : (*p >> 3) == 0x1e ? 3 : -1;
    if (n < 0) return false;
    ++p;
    for (int i = 0; i < n; ++i, ++p)
      if ((*p & 0xc0) != 0x80) return false;
  }
  return true;
}

// NULL-terminated array -> strings; false if an entry is not UTF-8.
bool read_array(const char* const* arr, std::vector<std::string>& out) {
  for (size_t i = 0; arr && arr[i] && i < kMaxArrayEntries; ++i) {
    if (!valid_utf8(arr[i])) return false;
    out.emplace_back(arr[i]);
  }
  return true;
}

Json json_array(const char* const* arr) {
  if (!arr) return nullptr;
  Json j = Json::array();
  for (size_t i = 0; arr[i] && i < kMaxArrayEntries; ++i) j.push_back(arr[i]);
  return j;
}

Json json_str(const char* s) { return s ? Json(s) : Json(nullptr); }

Context* find_ctx(uint32_t id) {
  auto it = g_contexts.find(id);
  return it == g_contexts.end() ? nullptr : &it->second;
}

bool parse_u64(const std::string& s, uint64_t max, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    if (out > (UINT64_MAX - 9) / 10) return false;
    out = out * 10 + uint64_t(c - '0');
  }
  return out <= max;
}

bool valid_port_entry(const std::string& e) {
  auto colon = e.find(':');
  uint64_t a, b;
  return colon != std::string::npos && parse_u64(e.substr(0, colon), 65535, a) &&
         parse_u64(e.substr(colon + 1), 65535, b);
}

bool valid_rlimit_entry(const std::string& e) {
  auto eq = e.find('='), colon = e.find(':');
  uint64_t id, cur, max;
  return eq != std::string::npos && colon != std::string::npos && colon > eq &&
         parse_u64(e.substr(0, eq), RLIMIT_NLIMITS - 1, id) && parse_u64(e.substr(eq + 1, colon - eq - 1), UINT64_MAX, cur) &&
         parse_u64(e.substr(colon + 1), UINT64_MAX, max);
}

void load_libkrunfw() {
  if (g_libkrunfw_loaded) return;
  // libkrun asks the loader for the bare soname; this library's RUNPATH
  // ($ORIGIN) makes a libkrunfw double next to it visible.
  g_libkrunfw_loaded = ::dlopen("libkrunfw.so.5", RTLD_NOW | RTLD_LOCAL) != nullptr;
}

// ---- the guest kernel command line, as libkrun composes it ----

bool cmdline_safe(const std::string& s, bool quoted) {
  for (unsigned char c : s)
    if (c < 0x20 || c > 0x7e || (quoted && c == '"')) return false;
  return true;
}

[[noreturn]] void panic(const std::string& why) {
  std::fprintf(stderr, "libkrun double: libkrun would panic here: %s\n", why.c_str());
  std::fflush(stderr);
  std::abort();
}

void check_cmdline(const Context& c) {
  std::string cmdline =
      "reboot=k panic=-1 panic_print=0 nomodule console=hvc0 rootfstype=virtiofs rw quiet no-kvmapf init=/init.krun";
  if (c.exec_set) {
    if (!cmdline_safe(c.exec_path, false) || c.exec_path.find(' ') != std::string::npos)
      panic("KRUN_INIT path '" + c.exec_path + "' is not a plain printable path");
    cmdline += " KRUN_INIT=" + c.exec_path;
  }
  if (!c.workdir.empty()) {
    if (!cmdline_safe(c.workdir, false) || c.workdir.find(' ') != std::string::npos)
      panic("KRUN_WORKDIR '" + c.workdir + "' is not a plain printable path");
    cmdline += " KRUN_WORKDIR=" + c.workdir;
  }
  if (!c.rlimits.empty()) {
    std::string joined;
    for (const auto& r : c.rlimits) joined += (joined.empty() ? "" : ",") + r;
    cmdline += " KRUN_RLIMITS=\"" + joined + "\"";
  }
  if (c.envp) {
    if (c.envp->size() + 2 > kInitArgLimit) panic("more than " + std::to_string(kInitArgLimit) + " init env entries");
    for (const auto& e : *c.envp) {
      if (!cmdline_safe(e, true)) panic("env entry with a character the kernel command line cannot carry");
      if (e.substr(0, e.find('=')).find('.') != std::string::npos) panic("env name with '.' is dropped by the kernel");
      cmdline += " \"" + e + "\"";
    }
  }
  if (c.exec_set) {
    if (c.argv.size() + 1 > kInitArgLimit) panic("more than " + std::to_string(kInitArgLimit) + " init args");
    cmdline += " --";
    for (const auto& a : c.argv) {
      if (!cmdline_safe(a, true)) panic("argument with a character the kernel command line cannot carry");
      cmdline += " \"" + a + "\"";
    }
  }
  if (cmdline.size() > kGuestCmdlineMax)
    panic("guest kernel command line of " + std::to_string(cmdline.size()) + " bytes (limit " +
          std::to_string(kGuestCmdlineMax) + ")");
}

// ---- guest emulation ----

struct GuestCommand {
  std::string path;
  std::vector<std::string> argv;  // including argv[0]
  std::vector<std::string> env;
  std::string workdir = "/";
};

std::vector<std::string> json_strings(const Json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& e : j)
    if (e.is_string()) out.push_back(e.get<std::string>());
  return out;
}

// The subset of init.krun's /.krun_config.json reading krunbox relies on:
// keys Cmd/args, Entrypoint, Env/env, WorkingDir/Cwd at any depth, case-insensitively.
void scan_config(const Json& j, GuestCommand& cmd, std::vector<std::string>& entrypoint) {
  if (!j.is_object()) {
    if (j.is_array())
      for (const auto& e : j) scan_config(e, cmd, entrypoint);
    return;
  }
  for (auto& [key, value] : j.items()) {
    std::string k;
    for (char ch : key) k += char(std::tolower(static_cast<unsigned char>(ch)));
    if ((k == "cmd" || k == "args") && value.is_array()) {
      cmd.argv = json_strings(value);
    } else if (k == "entrypoint" && value.is_array()) {
      entrypoint = json_strings(value);
    } else if (k == "env" && value.is_array()) {
      for (auto& e : json_strings(value)) cmd.env.push_back(e);
    } else if ((k == "workingdir" || k == "cwd") && value.is_string()) {
      cmd.workdir = value.get<std::string>();
    } else {
      scan_config(value, cmd, entrypoint);
    }
  }
}

GuestCommand guest_command(const Context& c) {
  GuestCommand cmd;
  if (c.exec_set) {
    cmd.path = c.exec_path;
    cmd.argv.push_back(c.exec_path);  // the guest program receives argv[0] = exec_path
    for (const auto& a : c.argv) cmd.argv.push_back(a);
    if (c.envp) {
      cmd.env = *c.envp;
    } else {
      // NULL envp: libkrun copies the whole host environment
      for (char** e = environ; *e; ++e) cmd.env.emplace_back(*e);
    }
  } else {
    std::string cfg_path = c.root + "/.krun_config.json";
    if (FILE* f = std::fopen(cfg_path.c_str(), "re")) {
      std::string text;
      char buf[4096];
      size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
      std::fclose(f);
      Json j = Json::parse(text, nullptr, false);
      std::vector<std::string> entrypoint;
      if (!j.is_discarded()) scan_config(j, cmd, entrypoint);
      entrypoint.insert(entrypoint.end(), cmd.argv.begin(), cmd.argv.end());
      cmd.argv = entrypoint;
    }
    if (cmd.argv.empty()) cmd.argv = {"/bin/sh"};
    cmd.path = cmd.argv[0];
  }
  if (!c.workdir.empty()) cmd.workdir = c.workdir;
  return cmd;
}

[[noreturn]] void die(const char* what) {
  char msg[256];
  int n = std::snprintf(msg, sizeof msg, "libkrun double guest init: %s: %s\n", what, std::strerror(errno));
  (void)!::write(2, msg, size_t(n));
  ::_exit(125);  // init.krun's "setup failed"
}

void bind_dev(const std::string& root, const char* name) {
  std::string target = root + "/dev/" + name;
  int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
  if (fd >= 0) ::close(fd);
  std::string source = std::string("/dev/") + name;
  if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) die(target.c_str());
}

void bring_up_loopback() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP;
    ::ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  ::close(s);
}

// The seccomp filter that hands the guest's vsock sockets to the supervisor.
int install_vsock_filter() {
  scmp_filter_ctx f = seccomp_init(SCMP_ACT_ALLOW);
  if (!f) return -1;
  // Spelled out: clang's -Wmissing-field-initializers rejects SCMP_A0()'s initializer.
  const scmp_arg_cmp vsock_only{.arg = 0, .op = SCMP_CMP_EQ, .datum_a = AF_VSOCK, .datum_b = 0};
  if (seccomp_rule_add(f, SCMP_ACT_NOTIFY, SCMP_SYS(socket), 1, vsock_only) != 0 ||
      seccomp_rule_add(f, SCMP_ACT_NOTIFY, SCMP_SYS(connect), 0) != 0 || seccomp_load(f) != 0) {
    seccomp_release(f);
    return -1;
  }
  int fd = seccomp_notify_fd(f);
  seccomp_release(f);
  return fd;
}

void send_fd(int sock, int fd) {
  char byte = 0;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &fd, sizeof fd);
  if (::sendmsg(sock, &msg, 0) != 1) die("sending the seccomp listener");
}

int recv_fd(int sock) {
  char byte;
  iovec iov{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return -1;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  if (!cm || cm->cmsg_type != SCM_RIGHTS) return -1;
  int fd;
  std::memcpy(&fd, CMSG_DATA(cm), sizeof fd);
  return fd;
}

// PID 1 of the emulated guest: libkrun's init.krun, minus the kernel.
[[noreturn]] void guest_init(const Context& c, const GuestCommand& cmd, int fd_sock) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // the VM is part of the VMM process: it dies with it
  if (::unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET) != 0) die("unshare");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) die("making / private");
  const std::string& root = c.root;
  if (::mount(root.c_str(), root.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) die("binding the root");
  for (const char* d : {"/proc", "/sys", "/dev", "/tmp"}) ::mkdir((root + d).c_str(), 0755);
  if (::mount("proc", (root + "/proc").c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) die("proc");
  if (::mount("sysfs", (root + "/sys").c_str(), "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, nullptr) != 0)
    die("sysfs");
  if (::mount("dev", (root + "/dev").c_str(), "tmpfs", MS_NOSUID, "mode=0755,size=1m") != 0) die("/dev");
  for (const char* d : {"null", "zero", "full", "random", "urandom", "tty"}) bind_dev(root, d);
  ::mkdir((root + "/dev/shm").c_str(), 01777);
  ::mkdir((root + "/dev/pts").c_str(), 0755);
  ::mount("devpts", (root + "/dev/pts").c_str(), "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666");
  ::symlink("/proc/self/fd", (root + "/dev/fd").c_str());
  if (::chdir(root.c_str()) != 0 || ::chroot(".") != 0) die("chroot");
  const char* hostname = "localhost";
  for (const auto& e : cmd.env)
    if (e.rfind("HOSTNAME=", 0) == 0) hostname = e.c_str() + 9;
  ::sethostname(hostname, std::strlen(hostname));
  bring_up_loopback();
  for (const auto& r : c.rlimits) {
    unsigned long long id, cur, max;
    if (std::sscanf(r.c_str(), "%llu=%llu:%llu", &id, &cur, &max) == 3) {
      rlimit rl{rlim_t(cur), rlim_t(max)};
      ::setrlimit(int(id), &rl);
    }
  }
  int listener = install_vsock_filter();
  if (listener < 0) die("installing the vsock seccomp filter");
  send_fd(fd_sock, listener);
  ::close(listener);
  ::close(fd_sock);

  std::vector<char*> argv, envp;
  for (const auto& a : cmd.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : cmd.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  pid_t workload = ::fork();
  if (workload < 0) die("fork");
  if (workload == 0) {
    ::setsid();
    if (::chdir(cmd.workdir.c_str()) != 0) die(("workdir " + cmd.workdir).c_str());
    ::execve(cmd.path.c_str(), argv.data(), envp.data());
    int err = errno;
    std::fprintf(stderr, "libkrun double guest init: cannot execute %s: %s\n", cmd.path.c_str(), std::strerror(err));
    ::_exit(err == ENOENT ? 127 : 126);
  }
  int code = 0;
  for (;;) {
    int status;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0 && errno == EINTR) continue;
    if (pid < 0) break;
    if (pid == workload) {
      code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      break;
    }
  }
  ::sync();
  ::_exit(code);  // PID 1 ending takes every other guest process with it
}

// The host side of the guest's vsock: what libkrun's muxer does for
// krun_add_vsock_port2(listen=false) mappings, for connections the guest opens.
class VsockSupervisor {
 public:
  explicit VsockSupervisor(const Context& c) : ctx_(c) {}

  void handle(int listener) {
    seccomp_notif req{};
    if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) return;
    seccomp_notif_resp resp{};
    resp.id = req.id;
    if (req.data.nr == SYS_socket) {
      on_socket(listener, req, resp);
    } else if (req.data.nr == SYS_connect) {
      on_connect(listener, req, resp);
    } else {
      resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    }
    if (resp.id) ::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }

 private:
  void on_socket(int listener, const seccomp_notif& req, seccomp_notif_resp& resp) {
    int type = int(req.data.args[1]);
    if ((type & 0xf) != SOCK_STREAM) {
      resp.error = -ESOCKTNOSUPPORT;
      return;
    }
    int s = ::socket(AF_UNIX, SOCK_STREAM | ((type & SOCK_NONBLOCK) ? SOCK_NONBLOCK : 0), 0);
    if (s < 0) {
      resp.error = -errno;
      return;
    }
    struct stat st {};
    ::fstat(s, &st);
    ours_.insert(st.st_ino);
    seccomp_notif_addfd add{};
    add.id = req.id;
    add.flags = SECCOMP_ADDFD_FLAG_SEND;
    add.srcfd = uint32_t(s);
    add.newfd_flags = (type & SOCK_CLOEXEC) ? O_CLOEXEC : 0;
    ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &add);  // answers the syscall with the new fd number
    ::close(s);
    resp.id = 0;
  }

  void on_connect(int listener, const seccomp_notif& req, seccomp_notif_resp& resp) {
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    int pidfd = int(::syscall(SYS_pidfd_open, req.pid, 0));
    if (pidfd < 0) return;
    int fd = int(::syscall(SYS_pidfd_getfd, pidfd, int(req.data.args[0]), 0));
    sockaddr_vm addr{};
    bool is_vsock = false;
    if (fd >= 0) {
      struct stat st {};
      if (::fstat(fd, &st) == 0 && ours_.count(st.st_ino)) {
        is_vsock = true;
        std::string mem = "/proc/" + std::to_string(req.pid) + "/mem";
        int m = ::open(mem.c_str(), O_RDONLY | O_CLOEXEC);
        size_t len = std::min<uint64_t>(req.data.args[2], sizeof addr);
        bool read_ok = m >= 0 && ::pread(m, &addr, len, off_t(req.data.args[1])) == ssize_t(len) && len >= 8;
        if (m >= 0) ::close(m);
        if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) != 0) {
          resp.id = 0;
        } else if (!read_ok || addr.svm_family != AF_VSOCK) {
          resp.flags = 0;
          resp.error = -EINVAL;
        } else {
          resp.flags = 0;
          resp.error = connect_mapped(fd, addr);
        }
      }
      ::close(fd);
    }
    ::close(pidfd);
    (void)is_vsock;
  }

  int connect_mapped(int fd, const sockaddr_vm& addr) {
    if (addr.svm_cid != VMADDR_CID_HOST) return -ETIMEDOUT;  // packets to other CIDs are dropped
    for (const auto& p : ctx_.vsock_ports) {
      if (p.port != addr.svm_port) continue;
      if (p.listen) return -ECONNRESET;  // a listen-mode port answers the guest with RST
      sockaddr_un un{};
      un.sun_family = AF_UNIX;
      std::strncpy(un.sun_path, p.path.c_str(), sizeof un.sun_path - 1);
      int flags = ::fcntl(fd, F_GETFL);
      ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
      int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&un), sizeof un);
      int err = errno;
      ::fcntl(fd, F_SETFL, flags);
      return rc == 0 ? 0 : -(err == ENOENT ? ECONNRESET : err);
    }
    return -ETIMEDOUT;  // an unmapped port gets no reply; the guest's connect times out
  }

  const Context& ctx_;
  std::set<ino_t> ours_;
};

[[noreturn]] void run_guest(const Context& c) {
  GuestCommand cmd = guest_command(c);
  std::fflush(nullptr);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    std::perror("libkrun double: socketpair");
    ::_exit(1);
  }
  if (::unshare(CLONE_NEWPID) != 0) {
    std::perror("libkrun double: unshare(CLONE_NEWPID)");
    ::_exit(1);
  }
  pid_t init = ::fork();
  if (init < 0) {
    std::perror("libkrun double: fork");
    ::_exit(1);
  }
  if (init == 0) {
    ::close(sv[0]);
    guest_init(c, cmd, sv[1]);
  }
  ::close(sv[1]);
  int listener = recv_fd(sv[0]);
  ::close(sv[0]);
  int pidfd = int(::syscall(SYS_pidfd_open, init, 0));
  VsockSupervisor supervisor(c);
  for (;;) {
    pollfd fds[2] = {{pidfd, POLLIN, 0}, {listener, POLLIN, 0}};
    int n = ::poll(fds, listener >= 0 ? 2 : 1, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    if (fds[0].revents) break;
    if (listener >= 0 && (fds[1].revents & POLLIN)) supervisor.handle(listener);
    if (listener >= 0 && (fds[1].revents & (POLLHUP | POLLERR)) && !(fds[1].revents & POLLIN)) listener = -1;
  }
  int status = 0;
  while (::waitpid(init, &status, 0) < 0 && errno == EINTR) {
  }
  // libkrun: the guest's reported code, else the vCPU's; the VMM ends with _exit.
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  ::_exit(code);
}

}  // namespace

extern "C" {

// Not part of libkrun: tells krunbox it has loaded this double (doctor shows
// it, auto selection ignores it, and the /dev/kvm pre-flight check is waived).
__attribute__((visibility("default"))) const char* krunbox_libkrun_double(void) {
  return "libkrun C-API test double (no VM, no KVM)";
}

__attribute__((visibility("default"))) int32_t krun_set_log_level(uint32_t level) {
  int32_t ret = g_log_initialized ? -EINVAL : 0;  // libkrun: a second logger init panics
  if (level > 5) ret = -EINVAL;
  if (ret == 0) g_log_initialized = true;
  record("krun_set_log_level", {{"level", level}}, ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_create_ctx(void) {
  load_libkrunfw();
  int32_t id = int32_t(g_next_ctx++);
  g_contexts[uint32_t(id)] = Context{};
  record("krun_create_ctx", Json::object(), id);
  return id;
}

__attribute__((visibility("default"))) int32_t krun_free_ctx(uint32_t ctx_id) {
  int32_t ret = g_contexts.erase(ctx_id) ? 0 : -ENOENT;
  record("krun_free_ctx", {{"ctx", ctx_id}}, ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_set_vm_config(uint32_t ctx_id, uint8_t num_vcpus, uint32_t ram_mib) {
  Context* c = find_ctx(ctx_id);
  int32_t ret = !c ? -ENOENT : (num_vcpus == 0 || ram_mib == 0) ? -EINVAL : 0;
  if (ret == 0) c->vm_config = {num_vcpus, ram_mib};
  record("krun_set_vm_config", {{"ctx", ctx_id}, {"num_vcpus", num_vcpus}, {"ram_mib", ram_mib}}, ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_set_root(uint32_t ctx_id, const char* root_path) {
  Context* c = find_ctx(ctx_id);
  int32_t ret = !c ? -ENOENT : (!root_path || !valid_utf8(root_path) || !c->root.empty()) ? -EINVAL : 0;
  if (ret == 0) c->root = root_path;
  record("krun_set_root", {{"ctx", ctx_id}, {"root_path", json_str(root_path)}}, ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_set_workdir(uint32_t ctx_id, const char* workdir_path) {
  Context* c = find_ctx(ctx_id);
  int32_t ret = !c ? -ENOENT : (!workdir_path || !valid_utf8(workdir_path)) ? -EINVAL : 0;
  if (ret == 0) c->workdir = workdir_path;
  record("krun_set_workdir", {{"ctx", ctx_id}, {"workdir_path", json_str(workdir_path)}}, ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_set_exec(uint32_t ctx_id, const char* exec_path,
                                                             const char* const argv[], const char* const envp[]) {
  Context* c = find_ctx(ctx_id);
  std::vector<std::string> args, env;
  int32_t ret = !c ? -ENOENT : 0;
  if (ret == 0 && (!exec_path || !valid_utf8(exec_path) || !read_array(argv, args) || !read_array(envp, env)))
    ret = -EINVAL;
  if (ret == 0) {
    c->exec_set = true;
    c->exec_path = exec_path;
    c->argv = std::move(args);
    if (envp) c->envp = std::move(env);
    else c->envp.reset();
  }
  record("krun_set_exec",
         {{"ctx", ctx_id}, {"exec_path", json_str(exec_path)}, {"argv", json_array(argv)}, {"envp", json_array(envp)}},
         ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_set_env(uint32_t ctx_id, const char* const envp[]) {
  Context* c = find_ctx(ctx_id);
  std::vector<std::string> env;
  int32_t ret = !c ? -ENOENT : !read_array(envp, env) ? -EINVAL : 0;
  if (ret == 0) {
    if (envp) c->envp = std::move(env);
    else c->envp.reset();
  }
  record("krun_set_env", {{"ctx", ctx_id}, {"envp", json_array(envp)}}, ret);
  return ret;
}

// A NULL-terminated string list whose every entry `valid` accepts, stored in `dest`.
static int32_t set_checked_list(const char* call, const char* key, uint32_t ctx_id, const char* const list[],
                                bool (*valid)(const std::string&), std::vector<std::string> Context::*dest) {
  Context* c = find_ctx(ctx_id);
  std::vector<std::string> entries;
  int32_t ret = !c ? -ENOENT : (!list || !read_array(list, entries)) ? -EINVAL : 0;
  for (const auto& e : entries)
    if (!valid(e)) ret = -EINVAL;
  if (ret == 0) c->*dest = std::move(entries);
  record(call, {{"ctx", ctx_id}, {key, json_array(list)}}, ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_set_port_map(uint32_t ctx_id, const char* const port_map[]) {
  return set_checked_list("krun_set_port_map", "port_map", ctx_id, port_map, valid_port_entry, &Context::port_map);
}

__attribute__((visibility("default"))) int32_t krun_set_rlimits(uint32_t ctx_id, const char* const rlimits[]) {
  return set_checked_list("krun_set_rlimits", "rlimits", ctx_id, rlimits, valid_rlimit_entry, &Context::rlimits);
}

static int32_t add_vsock(const char* call, uint32_t ctx_id, uint32_t port, const char* path, bool listen) {
  Context* c = find_ctx(ctx_id);
  int32_t ret = !c ? -ENOENT : (!path || !valid_utf8(path)) ? -EINVAL : 0;
  if (ret == 0) {
    for (const auto& p : c->vsock_ports)
      if (p.port == port || p.path == path) ret = -EINVAL;
    if (ret == 0 && listen && ::access(path, F_OK) == 0) ret = -EEXIST;
  }
  if (ret == 0) c->vsock_ports.push_back({port, path, listen});
  record(call, {{"ctx", ctx_id}, {"port", port}, {"filepath", json_str(path)}, {"listen", listen}}, ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_add_vsock_port(uint32_t ctx_id, uint32_t port, const char* path) {
  return add_vsock("krun_add_vsock_port", ctx_id, port, path, false);
}

__attribute__((visibility("default"))) int32_t krun_add_vsock_port2(uint32_t ctx_id, uint32_t port, const char* path,
                                                                    bool listen) {
  return add_vsock("krun_add_vsock_port2", ctx_id, port, path, listen);
}

__attribute__((visibility("default"))) int32_t krun_set_console_output(uint32_t ctx_id, const char* c_filepath) {
  Context* c = find_ctx(ctx_id);
  int32_t ret = !c ? -ENOENT : (!c_filepath || !valid_utf8(c_filepath) || !c->console_output.empty()) ? -EINVAL : 0;
  if (ret == 0) {
    c->console_output = c_filepath;
    int fd = ::open(c_filepath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);  // created or truncated
    if (fd >= 0) ::close(fd);
  }
  record("krun_set_console_output", {{"ctx", ctx_id}, {"filepath", json_str(c_filepath)}}, ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_add_net_unixstream(uint32_t ctx_id, const char* c_path, int fd,
                                                                       uint8_t* const c_mac, uint32_t features,
                                                                       uint32_t flags) {
  constexpr uint32_t kNetFlagDhcpClient = 1u << 1;
  Context* c = find_ctx(ctx_id);
  int32_t ret = !c ? -ENOENT : 0;
  if (ret == 0 && ((c_path != nullptr) == (fd >= 0))) ret = -EINVAL;  // exactly one of path or fd
  if (ret == 0 && c_path && !valid_utf8(c_path)) ret = -EINVAL;
  if (ret == 0 && (flags & ~kNetFlagDhcpClient)) ret = -EINVAL;
  if (ret == 0) c->has_net = true;
  Json mac = nullptr;
  if (c_mac) {
    char buf[18];
    std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", c_mac[0], c_mac[1], c_mac[2], c_mac[3], c_mac[4],
                  c_mac[5]);
    mac = buf;
  }
  record("krun_add_net_unixstream",
         {{"ctx", ctx_id}, {"c_path", json_str(c_path)}, {"fd", fd}, {"mac", mac}, {"features", features}, {"flags", flags}},
         ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_disable_implicit_vsock(uint32_t ctx_id) {
  Context* c = find_ctx(ctx_id);
  int32_t ret = !c ? -ENOENT : 0;
  if (ret == 0) c->implicit_vsock = false;
  record("krun_disable_implicit_vsock", {{"ctx", ctx_id}}, ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_add_vsock(uint32_t ctx_id, uint32_t tsi_features) {
  constexpr uint32_t kTsiHijackInet = 1u << 0, kTsiHijackUnix = 1u << 1;
  Context* c = find_ctx(ctx_id);
  int32_t ret = !c ? -ENOENT : (c->implicit_vsock || c->vsock_added) ? -EEXIST : 0;
  if (ret == 0 && (tsi_features & ~(kTsiHijackInet | kTsiHijackUnix))) ret = -EINVAL;
  if (ret == 0) c->vsock_added = true;
  record("krun_add_vsock", {{"ctx", ctx_id}, {"tsi_features", tsi_features}}, ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_has_feature(uint64_t feature) {
  int32_t ret;
  switch (feature) {
    case 0:  // NET
      ret = 1;
      break;
    case 1: case 2: case 4: case 6: case 7: case 8: case 9: case 10: case 11:
      ret = 0;
      break;
    default:
      ret = -EINVAL;
  }
  record("krun_has_feature", {{"feature", feature}}, ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_get_max_vcpus(void) {
  int32_t ret = 16;
  if (const char* v = std::getenv("KRUN_DOUBLE_MAX_VCPUS"); v && *v) ret = std::atoi(v);
  record("krun_get_max_vcpus", Json::object(), ret);
  return ret;
}

__attribute__((visibility("default"))) int32_t krun_check_nested_virt(void) {
  record("krun_check_nested_virt", Json::object(), 0);
  return 0;
}

__attribute__((visibility("default"))) int32_t krun_start_enter(uint32_t ctx_id) {
  auto it = g_contexts.find(ctx_id);
  if (it == g_contexts.end()) {
    record("krun_start_enter", {{"ctx", ctx_id}}, -ENOENT);
    return -ENOENT;
  }
  Context c = std::move(it->second);
  g_contexts.erase(it);  // start_enter consumes the context, even on error
  int32_t ret = 0;
  if (!g_libkrunfw_loaded) {
    std::fprintf(stderr, "Couldn't find or load libkrunfw.so.5\n");
    ret = -ENOENT;
  } else if (c.root.empty()) {
    ret = -EINVAL;  // no root device: building the VM fails
  }
  record("krun_start_enter", {{"ctx", ctx_id}}, ret);
  if (ret != 0) return ret;
  check_cmdline(c);
  run_guest(c);
}

}  // extern "C"
