#include "base/dir_lease.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <string_view>

#include "base/fs.h"

namespace krunbox {
namespace {

constexpr const char* kLockName = "owner.lock";
constexpr const char* kTempMarker = ".lease-";

}  // namespace

Result<DirLease> DirLease::create(const std::string& path, mode_t mode) {
  std::string parent = dirname_of(path);
  std::string name = path.substr(path.rfind('/') + 1);
  if (name.empty() || name[0] == '.') return Error(ErrorCode::kInvalidArgument, "lease directory " + path + ": bad name");
  if (path_exists(path)) return Error(ErrorCode::kAlreadyExists, path + " already exists");
  std::string tmp = join_path(parent, "." + name + kTempMarker + std::to_string(::getpid()));
  if (::mkdir(tmp.c_str(), mode) != 0) return Error::from_errno("creating " + tmp);
  auto undo = [&tmp] {
    ::unlink(join_path(tmp, kLockName).c_str());
    ::rmdir(tmp.c_str());
  };
  // mkdir honours the umask; the caller asked for exactly `mode`.
  if (::chmod(tmp.c_str(), mode) != 0) {
    Error e = Error::from_errno("chmod " + tmp);
    undo();
    return e;
  }
  std::string lock_path = join_path(tmp, kLockName);
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    Error e = Error::from_errno("locking " + lock_path);
    undo();
    return e;
  }
  // rename(2) of a directory onto an existing empty directory succeeds, so
  // that case is refused above and, for a race, by RENAME_NOREPLACE here.
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    Error e = errno == EEXIST ? Error(ErrorCode::kAlreadyExists, path + " already exists")
                              : Error::from_errno("renaming " + tmp + " to " + path);
    undo();
    return e;
  }
  DirLease lease;
  lease.path_ = path;
  lease.lock_ = std::move(lock);
  return lease;
}

LeaseState lease_state(const std::string& path) {
  UniqueFd lock(::open(join_path(path, kLockName).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!lock) return LeaseState::kAbandoned;  // never leased, or half removed
  if (::flock(lock.get(), LOCK_SH | LOCK_NB) != 0) return errno == EWOULDBLOCK ? LeaseState::kHeld : LeaseState::kAbandoned;
  return LeaseState::kAbandoned;
}

LeaseState temp_lease_state(const std::string& path) {
  std::string name = path.substr(path.rfind('/') + 1);
  auto at = name.rfind(kTempMarker);
  if (at == std::string::npos) return lease_state(path);
  std::string digits = name.substr(at + std::string_view(kTempMarker).size());
  char* end = nullptr;
  long pid = std::strtol(digits.c_str(), &end, 10);
  if (!digits.empty() && *end == '\0' && pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM))
    return LeaseState::kHeld;
  return lease_state(path);
}

bool is_lease_temp_name(const std::string& name) {
  return !name.empty() && name[0] == '.' && name.find(kTempMarker) != std::string::npos;
}

}  // namespace krunbox
