#include "backend/qemu/qemu_checkpoint.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "base/fs.h"
#include "base/unique_fd.h"

namespace krunbox {
namespace {

// The name the passed fd has inside QEMU, for the "fd:" migration URI.
constexpr const char* kStateFdName = "krunbox-checkpoint";

Error mismatch(const std::string& what, const std::string& saved, const std::string& now) {
  return Error(ErrorCode::kUnsupported, "the checkpoint was made with " + what + " " + saved + ", this host has " +
                                            now + "; a checkpoint restores only where it was made with the same " +
                                            what + " (make a new checkpoint here)");
}

Status pass_state_fd(QmpClient& qmp, int fd) {
  KRUNBOX_TRY_CTX(qmp.execute_with_fd("getfd", Json{{"fdname", kStateFdName}}, fd), "passing the state file to QEMU");
  return {};
}

}  // namespace

Json to_json(const QemuCheckpointFacts& f) {
  return Json{{"qemu_version", f.qemu_version},
              {"kernel", f.kernel},
              {"initramfs", f.initramfs},
              {"kernel_version", f.kernel_version},
              {"kvm", f.kvm},
              {"tsc_khz", f.tsc_khz},
              {"vcpus", f.vcpus},
              {"memory_mib", f.memory_mib},
              {"has_root_image", f.has_root_image}};
}

Result<QemuCheckpointFacts> parse_checkpoint_facts(const Json& j) {
  if (!j.is_object()) return Error(ErrorCode::kInvalidArgument, "engine.json is not a JSON object");
  QemuCheckpointFacts f;
  try {
    f.qemu_version = j.at("qemu_version").get<std::string>();
    f.kernel = j.at("kernel").get<std::string>();
    f.initramfs = j.at("initramfs").get<std::string>();
    f.kernel_version = j.value("kernel_version", std::string());
    f.kvm = j.at("kvm").get<bool>();
    f.tsc_khz = j.value("tsc_khz", uint64_t{0});
    f.vcpus = j.at("vcpus").get<uint32_t>();
    f.memory_mib = j.at("memory_mib").get<uint32_t>();
    f.has_root_image = j.at("has_root_image").get<bool>();
  } catch (const Json::exception& e) {
    return Error(ErrorCode::kInvalidArgument, std::string("engine.json: ") + e.what());
  }
  if (f.vcpus == 0 || f.memory_mib == 0)
    return Error(ErrorCode::kInvalidArgument, "engine.json: vcpus and memory_mib must be positive");
  return f;
}

Status check_restorable(const QemuCheckpointFacts& saved, const QemuCheckpointFacts& now) {
  if (saved.qemu_version != now.qemu_version) return mismatch("QEMU", saved.qemu_version, now.qemu_version);
  if (saved.kernel != now.kernel)
    return mismatch("guest kernel", saved.kernel_version + " (" + saved.kernel + ")",
                    now.kernel_version + " (" + now.kernel + ")");
  if (saved.initramfs != now.initramfs)
    return mismatch("guest initramfs (it holds the agent)", saved.initramfs, now.initramfs);
  return {};
}

Result<std::string> file_identity(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Error::from_errno("stat " + path);
  return std::to_string(st.st_size) + ":" +
         std::to_string(int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec);
}

Result<std::string> qemu_version(QmpClient& qmp) {
  KRUNBOX_ASSIGN_OR_RETURN(Json v, qmp.execute("query-version"));
  if (!v.is_object() || !v.contains("qemu") || !v["qemu"].is_object())
    return Error(ErrorCode::kProtocol, "QEMU's query-version answer has no version");
  const Json& q = v["qemu"];
  return std::to_string(q.value("major", 0)) + "." + std::to_string(q.value("minor", 0)) + "." +
         std::to_string(q.value("micro", 0)) + v.value("package", std::string());
}

Status save_vm_state(QmpClient& qmp, const std::string& memory_path, std::chrono::milliseconds timeout) {
  UniqueFd fd(::open(memory_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return Error::from_errno("creating " + memory_path);
  auto saved = [&]() -> Status {
    KRUNBOX_TRY(pass_state_fd(qmp, fd.get()));
    // QEMU's default bandwidth cap (32 MiB/s) is for live migration over a
    // network; into a file of a stopped VM it would only slow the save.
    KRUNBOX_TRY_CTX(qmp.execute("migrate-set-parameters", Json{{"max-bandwidth", int64_t{1} << 40}}),
                    "lifting the migration bandwidth cap");
    KRUNBOX_TRY_CTX(qmp.execute("migrate", Json{{"uri", std::string("fd:") + kStateFdName}}), "saving the VM state");
    KRUNBOX_TRY_CTX(qmp.await_migration(timeout), "saving the VM state");
    if (::fsync(fd.get()) != 0) return Error::from_errno("fsync " + memory_path);
    return {};
  }();
  if (!saved.ok()) (void)::unlink(memory_path.c_str());
  return saved;
}

Status load_vm_state(QmpClient& qmp, const std::string& memory_path, std::chrono::milliseconds timeout) {
  UniqueFd fd(::open(memory_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno("opening " + memory_path);
  KRUNBOX_TRY(pass_state_fd(qmp, fd.get()));
  KRUNBOX_TRY_CTX(qmp.execute("migrate-incoming", Json{{"uri", std::string("fd:") + kStateFdName}}),
                  "loading the VM state");
  // query-migrate reports the incoming side's status too; the run state
  // leaving "inmigrate" is the other sign that the load is over (a failed
  // load ends QEMU, which the next QMP call reports).
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto pause = std::chrono::milliseconds(2);; pause = std::min(pause * 2, std::chrono::milliseconds(50))) {
    KRUNBOX_ASSIGN_OR_RETURN(Json info, qmp.execute("query-migrate"));
    std::string status = info.is_object() ? info.value("status", std::string()) : std::string();
    if (status == "completed") return {};
    if (status == "failed" || status == "cancelled")
      return Error(ErrorCode::kIo, "loading the VM state from " + memory_path + " " + status + ": " +
                                       info.value("error-desc", std::string("QEMU gave no reason")));
    KRUNBOX_ASSIGN_OR_RETURN(Json run, qmp.execute("query-status"));
    std::string state = run.is_object() ? run.value("status", std::string()) : std::string();
    if (!state.empty() && state != "inmigrate" && state != "prelaunch") return {};
    if (std::chrono::steady_clock::now() >= deadline)
      return Error(ErrorCode::kTimeout, "loading the VM state from " + memory_path + " took over " +
                                            std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(pause);
  }
}

Status link_or_copy(const std::string& from, const std::string& to) {
  if (::link(from.c_str(), to.c_str()) == 0) return {};
  if (errno != EXDEV && errno != EPERM && errno != EMLINK) return Error::from_errno("link " + from + " to " + to);
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return Error::from_errno("opening " + from);
  UniqueFd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!out) return Error::from_errno("creating " + to);
  for (;;) {
    ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1u << 30, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = Error::from_errno("copying " + from + " to " + to);
      (void)::unlink(to.c_str());
      return e;
    }
    if (n == 0) break;
  }
  if (::fsync(out.get()) != 0) return Error::from_errno("fsync " + to);
  return {};
}

}  // namespace krunbox
