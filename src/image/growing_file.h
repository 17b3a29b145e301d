// A file one thread appends to while another reads it from the start, like
// `tail -f` with an end: the pull writes a layer blob as it downloads and
// the extractor follows it, so extraction overlaps the download instead of
// waiting for it.
//
// The reader sees bytes only once the writer has reported them written, and
// ends only when the writer reports success. If the writer starts over (a
// server without Range support) or fails, the reader gets an error; bytes
// it already passed on must then be discarded by its consumer, which the
// snapshot store does (nothing is published before confirm()).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "base/unique_fd.h"
#include "image/byte_source.h"
#include "krunbox/error.h"

namespace krunbox::image {

class GrowingFile : public std::enable_shared_from_this<GrowingFile> {
 public:
  // `fd` must be readable with pread; it is duplicated, the caller keeps its
  // own. `name` is used in error messages.
  static Result<std::shared_ptr<GrowingFile>> open(int fd, std::string name);

  // Writer side.
  void appended(uint64_t total_bytes);   // the file now holds this many bytes
  void restarting();                     // called before the file is truncated to start over
  void finished(const Status& outcome);  // complete and verified (ok), or failed

  // Blocks until finished() and returns its outcome.
  Status wait_finished();
  bool has_restarted() const;

  // A reader from offset 0. Its read() blocks until bytes arrive; it fails
  // with kCancelled once the writer restarted and with the writer's error
  // once it failed.
  std::unique_ptr<ByteSource> reader();

 private:
  GrowingFile(UniqueFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
  class Reader;

  UniqueFd fd_;
  std::string name_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t written_ = 0;
  unsigned generation_ = 0;
  std::optional<Status> outcome_;
};

}  // namespace krunbox::image
