#include "native_test_util.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "backend/native/cgroups.h"
#include "backend/native/run_state.h"
#include "base/fs.h"
#include "base/test_util.h"
#include "base/paths.h"
#include "base/unique_fd.h"

namespace krunbox::native_test {
namespace {

std::string link_of(const std::string& path) {
  char buf[256];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

// True when the ELF file has a program interpreter (is dynamically linked).
bool is_dynamic_elf(const std::string& path) {
  // Program headers sit right after the ELF header; a static binary's size
  // is no reason to read it all.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  std::string head(64 * 1024, '\0');
  ssize_t n = ::read(fd.get(), head.data(), head.size());
  if (n <= 0) return false;
  head.resize(static_cast<size_t>(n));
  const std::string* bytes = &head;
  if (bytes->size() < sizeof(Elf64_Ehdr)) return false;
  Elf64_Ehdr eh;
  std::memcpy(&eh, bytes->data(), sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64) return false;
  for (size_t i = 0; i < eh.e_phnum; ++i) {
    size_t off = eh.e_phoff + i * sizeof(Elf64_Phdr);
    if (off + sizeof(Elf64_Phdr) > bytes->size()) return false;
    Elf64_Phdr ph;
    std::memcpy(&ph, bytes->data() + off, sizeof ph);
    if (ph.p_type == PT_INTERP) return true;
  }
  return false;
}

std::string compute_skip_reason();

}  // namespace

std::string skip_reason() {
  static const std::string reason = [] { return compute_skip_reason(); }();
  return reason;
}

namespace {
std::string compute_skip_reason() {
  if (::geteuid() != 0) return "needs root (the native backend's suite runs as root in CI)";
  if (!is_directory(bundled_rootfs_dir()))
    return "bundled busybox rootfs missing at " + bundled_rootfs_dir() + "; run scripts/setup.sh";
  auto agent = find_helper("krunbox-agent");
  if (!agent.ok()) return agent.error().what();
  // The sanitizer build links the agent dynamically; the busybox root has no
  // C library for it. The suite runs in the regular (static agent) build.
  if (is_dynamic_elf(*agent)) return *agent + " is dynamically linked (sanitizer build); the sandbox root has no libc for it";
  return "";
}
}  // namespace

SandboxSpecBuilder base_spec() {
  SandboxSpecBuilder b;
  b.rootfs(bundled_rootfs_dir());
  return b;
}

proto::ExecOutput run_in(Sandbox& sandbox, std::vector<std::string> argv, std::string stdin_data) {
  proto::ExecRequest req;
  req.argv = std::move(argv);
  req.stdin_open = !stdin_data.empty();
  auto out = sandbox.agent()->run(req, stdin_data);
  if (!out.ok()) {
    proto::ExecOutput failed;
    failed.status = ExitStatus::exited(-1);
    failed.err = "exec failed: " + out.error().what();
    return failed;
  }
  return *out;
}

HostSnapshot snapshot_host(const std::string& run_root) {
  HostSnapshot s;
  s.mounts = read_file("/proc/mounts").value_or("");
  // Other suites may run their own namespaced processes on the same host, so
  // only ours count: in a krunbox/<id> cgroup, or the agent as this backend
  // starts it (argv[0] "krunbox-agent" with "--shutdown-action exit").
  std::string own = link_of("/proc/self/ns/pid");
  for (const auto& name : krunbox::testing::dir_entries("/proc")) {
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string ns = link_of("/proc/" + name + "/ns/pid");
    if (ns.empty() || ns == own) continue;
    std::string cgroup = read_file("/proc/" + name + "/cgroup", 64 * 1024).value_or("");
    std::string cmdline = read_file("/proc/" + name + "/cmdline", 64 * 1024).value_or("");
    bool in_our_group = cgroup.find(std::string(":/") + native::kCgroupParent + "/") != std::string::npos;
    bool our_agent = cmdline.rfind(std::string("krunbox-agent\0", 14), 0) == 0 &&
                     cmdline.find(std::string("--shutdown-action\0exit", 22)) != std::string::npos;
    if (in_our_group || our_agent) s.sandbox_processes.insert(name + " " + ns);
  }
  s.run_entries = krunbox::testing::dir_entries(native::sandboxes_dir(run_root));
  for (const auto& id : native::list_cgroup_sandbox_ids("/sys/fs/cgroup")) s.cgroups.insert(id);
  return s;
}

}  // namespace krunbox::native_test
