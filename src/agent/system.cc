#include "agent/system.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/module.h>
#include <linux/random.h>
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "agent/config.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/unique_fd.h"

namespace krunbox::agent {
namespace {

// The inode of the initial PID namespace (PROC_PID_INIT_INO in the kernel).
constexpr ino_t kInitPidNsInode = 0xEFFFFFFCu;

bool fs_is(const char* path, long magic) {
  struct statfs s;
  return ::statfs(path, &s) == 0 && static_cast<long>(s.f_type) == magic;
}

bool is_mountpoint(const char* path) {
  struct stat self, parent;
  std::string up = std::string(path) + "/..";
  return ::stat(path, &self) == 0 && ::stat(up.c_str(), &parent) == 0 && self.st_dev != parent.st_dev;
}

void try_mount(const char* source, const char* target, const char* type, unsigned long flags, const char* data) {
  ::mkdir(target, 0755);
  if (::mount(source, target, type, flags, data) != 0)
    KB_WARN("mount {} on {}: {}", type, target, std::strerror(errno));
}

void make_dev_nodes() {
  struct Node {
    const char* name;
    unsigned major, minor;
  } nodes[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
               {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
  for (const auto& n : nodes)
    if (::mknod(n.name, S_IFCHR | 0666, makedev(n.major, n.minor)) != 0 && errno != EEXIST)
      KB_WARN("mknod {}: {}", n.name, std::strerror(errno));
  const char* links[][2] = {{"/proc/self/fd", "/dev/fd"},
                            {"/proc/self/fd/0", "/dev/stdin"},
                            {"/proc/self/fd/1", "/dev/stdout"},
                            {"/proc/self/fd/2", "/dev/stderr"},
                            {"pts/ptmx", "/dev/ptmx"}};
  for (const auto& l : links) ::symlink(l[0], l[1]);
}

}  // namespace

bool in_initial_pid_namespace() {
  struct stat st;
  if (::stat("/proc/self/ns/pid", &st) != 0) return true;  // no /proc: no container either
  return st.st_ino == kInitPidNsInode;
}

bool ensure_stdio() {
  bool complete = true;
  for (int fd = 0; fd < 3; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0) continue;
    complete = false;
    int n = ::open("/dev/null", O_RDWR);
    if (n < 0) {
      // Without /dev yet (an initramfs), a pipe end keeps the slot taken.
      int p[2];
      if (::pipe(p) == 0) n = p[0] == fd ? p[0] : p[1];
    }
    if (n >= 0 && n != fd) {
      ::dup2(n, fd);
      ::close(n);
    }
  }
  return complete;
}

void attach_console() {
  int c = ::open("/dev/console", O_RDWR | O_NOCTTY);
  if (c < 0) return;
  for (int fd = 0; fd < 3; ++fd) ::dup2(c, fd);
  if (c > 2) ::close(c);
}

void mount_basics() {
  if (!fs_is("/proc", PROC_SUPER_MAGIC)) try_mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  if (!fs_is("/sys", SYSFS_MAGIC)) try_mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
  struct stat st;
  bool dev_ready = ::stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode);
  if (!dev_ready) {
    if (in_initial_pid_namespace()) {
      try_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
    } else {
      // devtmpfs is the host's device set; a container gets only the standard nodes.
      try_mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=0755,size=65536k");
      make_dev_nodes();
    }
  }
  if (!fs_is("/dev/pts", DEVPTS_SUPER_MAGIC)) {
    try_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    // devtmpfs has its own ptmx node tied to the initial devpts instance; ours must use pts/ptmx.
    struct stat p;
    if (::lstat("/dev/ptmx", &p) == 0 && !S_ISLNK(p.st_mode)) {
      if (::mount("/dev/pts/ptmx", "/dev/ptmx", nullptr, MS_BIND, nullptr) != 0)
        KB_WARN("bind /dev/pts/ptmx: {}", std::strerror(errno));
    } else {
      ::symlink("pts/ptmx", "/dev/ptmx");
    }
  }
  if (!is_mountpoint("/dev/shm")) try_mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
}

Status set_hostname(const std::string& name) {
  if (::sethostname(name.data(), name.size()) != 0) return Error::from_errno("sethostname " + name);
  return {};
}

Status reseed(const proto::ReseedRequest& request) {
  UniqueFd fd(::open("/dev/urandom", O_WRONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno("open /dev/urandom");
  // RNDADDENTROPY credits the bytes (a plain write would only mix them in),
  // and RNDRESEEDCRNG makes the generator use them now rather than at its
  // next scheduled reseed, which may be minutes away.
  std::string buf(sizeof(rand_pool_info) + request.entropy.size(), '\0');
  auto* info = reinterpret_cast<rand_pool_info*>(buf.data());
  info->entropy_count = static_cast<int>(request.entropy.size() * 8);
  info->buf_size = static_cast<int>(request.entropy.size());
  std::memcpy(buf.data() + sizeof(rand_pool_info), request.entropy.data(), request.entropy.size());
  if (::ioctl(fd.get(), RNDADDENTROPY, info) != 0) return Error::from_errno("adding entropy (RNDADDENTROPY)");
  if (::ioctl(fd.get(), RNDRESEEDCRNG) != 0) return Error::from_errno("reseeding the kernel's generator (RNDRESEEDCRNG)");
  if (request.realtime_ns > 0) {
    timespec ts{static_cast<time_t>(request.realtime_ns / 1000000000), static_cast<long>(request.realtime_ns % 1000000000)};
    if (::clock_settime(CLOCK_REALTIME, &ts) != 0) return Error::from_errno("setting the clock");
  }
  if (!request.hostname.empty()) KRUNBOX_TRY(set_hostname(request.hostname));
  return {};
}

Status bring_up_loopback() {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return Error::from_errno("socket for lo");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) return Error::from_errno("SIOCGIFFLAGS lo");
  if (ifr.ifr_flags & IFF_UP) return {};
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  // The kernel gives lo 127.0.0.1/8 by itself when it comes up.
  if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) return Error::from_errno("bringing up lo");
  return {};
}

Status load_modules(const std::vector<std::string>& entries) {
  for (const auto& entry : entries) {
    auto [path, params] = parse_module_entry(entry);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return Error::from_errno("open module " + path);
    int flags = 0;
    for (const char* ext : {".xz", ".zst", ".gz"})
      if (path.ends_with(ext)) flags |= MODULE_INIT_COMPRESSED_FILE;
    if (::syscall(SYS_finit_module, fd.get(), params.c_str(), flags) != 0 && errno != EEXIST)
      return Error::from_errno("loading module " + path + (params.empty() ? "" : " with '" + params + "'"));
    KB_DEBUG("loaded module {}", entry);
  }
  return {};
}

proto::InfoReply gather_info(const std::string& agent_version, bool pid1) {
  proto::InfoReply r;
  utsname u{};
  if (::uname(&u) == 0) r.kernel = u.release;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0) r.hostname = host;
  long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  r.cpus = cpus > 0 ? static_cast<uint32_t>(cpus) : 1;
  struct sysinfo si {};
  if (::sysinfo(&si) == 0) {
    r.mem_total = static_cast<uint64_t>(si.totalram) * si.mem_unit;
    r.mem_available = static_cast<uint64_t>(si.freeram) * si.mem_unit;
  }
  if (auto mi = read_file("/proc/meminfo", 1u << 16); mi.ok()) {
    auto pos = mi->find("MemAvailable:");
    if (pos != std::string::npos) r.mem_available = std::strtoull(mi->c_str() + pos + 13, nullptr, 10) * 1024;
  }
  r.agent_version = agent_version;
  r.pid1 = pid1;
  return r;
}

void signal_all(int sig, bool pid1) {
  if (pid1) {
    // kill(-1) from PID 1 reaches every other process in its namespace, not itself.
    ::kill(-1, sig);
    return;
  }
  auto tasks = list_dir("/proc/self/task");
  if (!tasks.ok()) return;
  for (const auto& task : *tasks) {
    auto kids = read_file("/proc/self/task/" + task + "/children", 1u << 20);
    if (!kids.ok()) continue;
    const char* p = kids->c_str();
    char* end;
    while (long pid = std::strtol(p, &end, 10)) {
      if (end == p) break;
      ::kill(-static_cast<pid_t>(pid), sig);  // its process group (a session leader's)
      ::kill(static_cast<pid_t>(pid), sig);
      p = end;
    }
  }
}

void finish(proto::ShutdownAction action, bool pid1) {
  // Only a VM's init owns its filesystems; in a container sync() would flush
  // the whole host, and put already fsyncs what it writes.
  if (pid1 && in_initial_pid_namespace()) ::sync();
  if (action == proto::ShutdownAction::kDefault)
    action = pid1 && in_initial_pid_namespace() ? proto::ShutdownAction::kPowerOff : proto::ShutdownAction::kExit;
  if (action == proto::ShutdownAction::kPowerOff || action == proto::ShutdownAction::kReboot) {
    ::reboot(action == proto::ShutdownAction::kReboot ? RB_AUTOBOOT : RB_POWER_OFF);
    KB_ERROR("reboot: {}; exiting instead", std::strerror(errno));
  }
  ::_exit(0);
}

void fatal(const std::string& why, bool pid1) {
  std::string line = "krunbox-agent: fatal: " + why + "\n";
  (void)write_all(STDERR_FILENO, line.data(), line.size());
  if (pid1) {
    UniqueFd console(::open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC));
    if (console) (void)write_all(console.get(), line.data(), line.size());
    finish(proto::ShutdownAction::kDefault, true);
  }
  ::_exit(1);
}

}  // namespace krunbox::agent
