// Pull-style byte streams for layer data: a file, a decompressor over
// another stream, and a read-ahead stage that runs its input on a second
// thread so decompression and hashing overlap with writing files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "image/digest.h"
#include "krunbox/error.h"

namespace krunbox::image {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `cap` bytes; 0 only at the end of the stream.
  virtual Result<size_t> read(char* buf, size_t cap) = 0;
};

// Reads an fd (not owned) to its end.
std::unique_ptr<ByteSource> fd_source(int fd);
// Reads a memory buffer (not owned); for tests and fuzzing.
std::unique_ptr<ByteSource> memory_source(std::string_view data);

enum class Inflater { kAuto, kZlib, kIsal };
std::string_view to_string(Inflater inflater);
// The gzip inflaters compiled in ("isal" first when available).
bool inflater_available(Inflater inflater);

// Looks at the first bytes of `inner` and wraps it in a gzip or zstd
// decoder when they carry that format's magic, so a layer whose media type
// lies about its compression still extracts (as containerd and umoci do).
// The decoded output is cut off with kLimitExceeded past `max_output`, which
// bounds decompression bombs.
Result<std::unique_ptr<ByteSource>> decompressing_source(std::unique_ptr<ByteSource> inner, uint64_t max_output,
                                                         Inflater inflater = Inflater::kAuto);

// Runs `inner` on a helper thread, `chunk` bytes at a time with up to
// `depth` chunks buffered, hashing everything it yields into `hash` (may be
// null) on that thread too.
std::unique_ptr<ByteSource> read_ahead_source(std::unique_ptr<ByteSource> inner, Sha256* hash,
                                              size_t chunk = 1 << 20, size_t depth = 4);

// A source that hashes what passes through it, on the caller's thread.
std::unique_ptr<ByteSource> hashing_source(std::unique_ptr<ByteSource> inner, Sha256* hash);

}  // namespace krunbox::image
