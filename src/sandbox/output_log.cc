#include "sandbox/output_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <functional>
#include <thread>

#include "base/fs.h"

namespace krunbox {

Result<std::unique_ptr<RotatingLog>> RotatingLog::open(std::string path, size_t max_bytes) {
  std::unique_ptr<RotatingLog> log(new RotatingLog(std::move(path), max_bytes ? max_bytes : kDefaultLogBytes));
  KRUNBOX_TRY(log->reopen());
  return log;
}

Status RotatingLog::reopen() {
  fd_ = UniqueFd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!fd_) return Error::from_errno("opening log " + path_);
  struct stat st{};
  if (::fstat(fd_.get(), &st) != 0) return Error::from_errno("stat of log " + path_);
  size_ = static_cast<size_t>(st.st_size);
  return {};
}

Status RotatingLog::rotate() {
  if (::rename(path_.c_str(), (path_ + ".1").c_str()) != 0) return Error::from_errno("rotating log " + path_);
  return reopen();
}

Status RotatingLog::write(std::string_view data) {
  std::lock_guard lock(mu_);
  while (!data.empty()) {
    if (size_ >= max_bytes_) KRUNBOX_TRY(rotate());
    size_t room = max_bytes_ - size_;
    std::string_view part = data.substr(0, room);
    KRUNBOX_TRY_CTX(write_all(fd_.get(), part.data(), part.size()), "writing log " + path_);
    size_ += part.size();
    data.remove_prefix(part.size());
  }
  return {};
}

Result<std::string> read_log_tail(const std::string& path, long lines) {
  std::string all;
  for (const auto& p : {path + ".1", path}) {
    if (!path_exists(p)) continue;
    KRUNBOX_ASSIGN_OR_RETURN(std::string part, read_file(p, 1u << 30));
    all += part;
  }
  if (lines < 0) return all;
  size_t pos = all.size();
  if (pos > 0 && all[pos - 1] == '\n') --pos;  // the final newline ends the last line
  for (long n = 0; n < lines; ++n) {
    size_t nl = pos == 0 ? std::string::npos : all.rfind('\n', pos - 1);
    if (nl == std::string::npos) return all;
    pos = nl;
    if (n + 1 == lines) return all.substr(nl + 1);
  }
  return lines == 0 ? std::string() : all;
}

Status follow_log(const std::string& path, const std::function<void(std::string_view)>& sink,
                  const std::function<bool()>& keep_going) {
  UniqueFd fd;
  ino_t inode = 0;
  char buf[65536];
  for (;;) {
    bool more = keep_going();
    if (!fd) {
      fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      struct stat st{};
      if (fd && ::fstat(fd.get(), &st) == 0) {
        inode = st.st_ino;
        ::lseek(fd.get(), 0, SEEK_END);
      }
    }
    if (fd) {
      for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        sink(std::string_view(buf, static_cast<size_t>(n)));
      }
      // Rotated: the old file is drained; continue with the new one from its start.
      struct stat st{};
      if (::stat(path.c_str(), &st) == 0 && st.st_ino != inode) {
        fd = UniqueFd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (fd) inode = st.st_ino;
        continue;
      }
    }
    if (!more) return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace krunbox
