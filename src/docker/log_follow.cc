#include "docker/log_follow.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "base/fs.h"

namespace krunbox::docker {

LogFollower::LogFollower(std::string path, From from) : path_(std::move(path)) {
  fd_ = UniqueFd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st{};
  if (fd_ && ::fstat(fd_.get(), &st) == 0) {
    inode_ = st.st_ino;
    if (from == From::kEnd) ::lseek(fd_.get(), 0, SEEK_END);
  }
}

namespace {

bool read_rest(int fd, std::string& out) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0;
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

bool LogFollower::read_existing(long tail, const LogSink& sink) {
  std::string text;
  // The rotated file holds what came before the current one.
  if (UniqueFd old(::open((path_ + ".1").c_str(), O_RDONLY | O_CLOEXEC)); old) (void)read_rest(old.get(), text);
  if (fd_) (void)read_rest(fd_.get(), text);
  std::string_view shown = tail >= 0 ? tail_lines(text, tail) : std::string_view(text);
  return shown.empty() || sink(shown);
}

bool LogFollower::drain(const LogSink& sink) {
  for (;;) {
    if (!fd_) {
      // Not there yet: once it is, all of it is new.
      fd_ = UniqueFd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
      struct stat st{};
      if (!fd_ || ::fstat(fd_.get(), &st) != 0) return true;
      inode_ = st.st_ino;
    }
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(fd_.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (!sink(std::string_view(buf, static_cast<size_t>(n)))) return false;
    }
    // Rotated: the old file is drained; the new one is read from its start.
    struct stat st{};
    if (::stat(path_.c_str(), &st) == 0 && st.st_ino != inode_) {
      fd_.reset();
      continue;
    }
    return true;
  }
}

bool LogFollower::follow(const std::function<bool()>& more, const LogSink& sink) {
  // Woken by a write in the log's directory (the output, the sandbox's
  // state record), not on a timer; a poll every 500 ms covers the rest.
  UniqueFd changes(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (changes && ::inotify_add_watch(changes.get(), dirname_of(path_).c_str(),
                                     IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0)
    changes.reset();
  for (;;) {
    bool again = more();
    if (!drain(sink)) return false;
    if (!again) return true;
    if (!changes) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      continue;
    }
    pollfd p{changes.get(), POLLIN, 0};
    if (::poll(&p, 1, 500) > 0) {
      alignas(inotify_event) char buf[4096];
      while (::read(changes.get(), buf, sizeof buf) > 0) {
      }
    }
  }
}

std::string_view tail_lines(std::string_view text, long n) {
  if (n <= 0) return {};
  size_t end = text.size();
  // A final newline ends the last line rather than starting an empty one.
  size_t pos = end > 0 && text[end - 1] == '\n' ? end - 1 : end;
  long seen = 0;
  while (pos > 0) {
    size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string_view::npos) return text;
    if (++seen == n) return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

std::string LineStamper::stamp(std::string_view data) {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  long nanos = static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs).count());
  std::time_t tt = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char head[48], stamp[64];
  std::strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(stamp, sizeof stamp, "%s.%09ldZ ", head, nanos);
  std::string out;
  for (char c : data) {
    if (at_line_start_) out += stamp;
    out += c;
    at_line_start_ = c == '\n';
  }
  return out;
}

}  // namespace krunbox::docker
