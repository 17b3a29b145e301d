// Reading a container's output as Docker's logs and attach stream it: the
// main process's output.log (with its rotated .1), from its start or from
// its end at the time of asking, followed across rotations, with Docker's
// tail and optional timestamps.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "base/unique_fd.h"

namespace krunbox::docker {

// False: stop (the client went away).
using LogSink = std::function<bool(std::string_view)>;

class LogFollower {
 public:
  enum class From { kStart, kEnd };
  LogFollower(std::string path, From from);

  // What the log holds now (from the start: output.log.1 too), its last
  // `tail` lines only when tail >= 0; false if the sink said stop.
  bool read_existing(long tail, const LogSink& sink);
  // Whatever was written since, until `more` returns false (checked every
  // 50 ms, with a last read after it); false if the sink said stop.
  bool follow(const std::function<bool()>& more, const LogSink& sink);

 private:
  bool drain(const LogSink& sink);
  std::string path_;
  UniqueFd fd_;
  unsigned long inode_ = 0;
};

// The last `n` lines of `text` (a final line without its newline counts).
std::string_view tail_lines(std::string_view text, long n);

// Prefixes each line with the RFC 3339 time it was read, as `docker logs -t`
// shows (krunbox does not record when a line was written).
class LineStamper {
 public:
  std::string stamp(std::string_view data);

 private:
  bool at_line_start_ = true;
};

}  // namespace krunbox::docker
