// The output of a command that outlives its client (a kept exec): the last
// max_bytes of stdout and stderr, interleaved as they came, addressed by
// byte offset from the start, so a client that comes back can read what it
// missed and follow from there. Older bytes are dropped, never the command
// stalled: a command nobody reads must not block on a full pipe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace krunbox {

enum class OutputStream { kStdout, kStderr };

struct OutputChunk {
  OutputStream stream;
  uint64_t offset = 0;  // of its first byte, counted over both streams
  std::string data;
};

class OutputRing {
 public:
  explicit OutputRing(size_t max_bytes) : max_bytes_(max_bytes) {}

  void append(OutputStream stream, std::string_view data);
  // No more output comes; a follower waiting in read() returns.
  void close();

  struct Read {
    std::vector<OutputChunk> chunks;  // from max(offset, first kept byte), in order
    uint64_t first_kept = 0;          // bytes before it were dropped
    uint64_t end = 0;                 // the offset after the last byte given
    bool closed = false;              // and nothing comes after `end`
  };
  // What is kept from `offset` on, at most `max` bytes; waits up to
  // `wait` for something new when there is nothing yet and not closed.
  Read read(uint64_t offset, size_t max, std::chrono::milliseconds wait = std::chrono::milliseconds(0));

  uint64_t end() const;

 private:
  const size_t max_bytes_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<OutputChunk> chunks_;
  size_t kept_ = 0;
  uint64_t end_ = 0;
  bool closed_ = false;
};

}  // namespace krunbox
