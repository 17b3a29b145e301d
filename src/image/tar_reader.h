// A streaming tar reader: ustar, POSIX pax (path, linkpath, size, ids,
// mtime, SCHILY.xattr.*) and GNU long names and links. It reads each byte
// once, never seeks, validates every header checksum and field, and accepts
// an archive that simply stops after its last entry (no end-of-archive
// blocks, no final padding), as layers written by umoci 0.4 do.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "image/byte_source.h"
#include "krunbox/error.h"

namespace krunbox::image {

enum class EntryType { kFile, kDir, kSymlink, kHardlink, kCharDev, kBlockDev, kFifo };
std::string_view to_string(EntryType type);

struct TarEntry {
  std::string path;  // as written in the archive, after pax/GNU overrides
  std::string link;  // symlink or hardlink target
  EntryType type = EntryType::kFile;
  uint32_t mode = 0;  // permission bits with setuid/setgid/sticky (07777)
  int64_t uid = 0;
  int64_t gid = 0;
  uint64_t size = 0;  // data bytes; 0 for everything but files
  int64_t mtime_sec = 0;
  uint32_t mtime_nsec = 0;
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

struct TarLimits {
  uint32_t max_path_len = 4096;
  uint64_t max_pax_header_size = 1 << 20;
  uint64_t max_xattr_bytes = 64 << 10;
};

class TarReader {
 public:
  TarReader(ByteSource& source, TarLimits limits);

  // Reads the next entry's header(s). Returns false at the end of the
  // archive. Unread data of the previous entry is skipped first.
  Result<bool> next(TarEntry& entry);

  // The next piece of the current entry's data, pointing into the reader's
  // buffer and valid until the next call; empty at the end of the data.
  Result<std::string_view> data_chunk(size_t max = SIZE_MAX);
  uint64_t data_remaining() const { return remaining_; }

  // Reads whatever follows the end of the archive, so a caller hashing the
  // stream sees every byte (the layer's diff ID covers them).
  Status drain();

  // Headers read so far (for error messages).
  uint64_t entries() const { return entries_; }

 private:
  Result<size_t> fill(size_t want);  // ensures `want` buffered bytes; returns how many are
  Status skip(uint64_t n, bool eof_ok);
  Result<std::string> read_blob(uint64_t size, uint64_t limit, const char* what);
  Status parse_pax(std::string_view data, TarEntry& e, unsigned& set);

  ByteSource& src_;
  TarLimits limits_;
  std::vector<char> buf_;
  size_t pos_ = 0, len_ = 0;
  uint64_t remaining_ = 0;  // data bytes of the current entry not yet read
  uint64_t padding_ = 0;    // padding after them
  uint64_t entries_ = 0;
  std::string last_path_;   // for errors that happen between entries
  bool at_end_ = false;
};

}  // namespace krunbox::image
