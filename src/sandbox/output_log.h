// The main process's output, kept by the monitor in a size-rotated file:
// output.log grows to max_bytes, then becomes output.log.1 (replacing the
// previous one), so at most 2 x max_bytes are kept per sandbox.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/unique_fd.h"
#include "krunbox/error.h"

namespace krunbox {

inline constexpr size_t kDefaultLogBytes = 8u << 20;

class RotatingLog {
 public:
  static Result<std::unique_ptr<RotatingLog>> open(std::string path, size_t max_bytes = kDefaultLogBytes);
  // Thread-safe; a write error is remembered and reported once by the next call.
  Status write(std::string_view data);

 private:
  RotatingLog(std::string path, size_t max_bytes) : path_(std::move(path)), max_bytes_(max_bytes) {}
  Status reopen();
  Status rotate();

  std::mutex mu_;
  std::string path_;
  size_t max_bytes_;
  size_t size_ = 0;
  UniqueFd fd_;
};

// The last `lines` lines of the log (both files); all of it if lines < 0.
Result<std::string> read_log_tail(const std::string& path, long lines);

// Follows the log from byte `offset` of the current file, calling `sink` with
// new bytes, across rotations, until `keep_going` returns false (checked every
// 100 ms, after a last read).
Status follow_log(const std::string& path, const std::function<void(std::string_view)>& sink,
                  const std::function<bool()>& keep_going);

}  // namespace krunbox
