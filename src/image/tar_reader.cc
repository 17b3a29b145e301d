#include "image/tar_reader.h"

#include <algorithm>
#include <cstring>

namespace krunbox::image {
namespace {

constexpr size_t kBlock = 512;
constexpr size_t kBufSize = 256 << 10;
// Sizes past this cannot be real and would overflow arithmetic later.
constexpr uint64_t kMaxSaneSize = uint64_t{1} << 62;

enum : unsigned { kPaxPath = 1, kPaxLink = 2, kPaxSize = 4, kPaxUid = 8, kPaxGid = 16, kPaxMtime = 32 };

std::string field(const char* h, size_t off, size_t len) {
  const char* p = h + off;
  size_t n = strnlen(p, len);
  return std::string(p, n);
}

// Octal with optional leading spaces and a trailing space/NUL, or GNU base-256.
Result<int64_t> parse_number(const char* h, size_t off, size_t len, const char* name, bool allow_negative) {
  const auto* p = reinterpret_cast<const unsigned char*>(h + off);
  if (p[0] & 0x80) {
    bool negative = p[0] == 0xff;
    if (negative && !allow_negative)
      return Error(ErrorCode::kCorrupt, std::string("tar header field ") + name + " is negative");
    uint64_t v = negative ? ~uint64_t{0} : 0;
    for (size_t i = 0; i < len; ++i) {
      unsigned char b = i == 0 ? static_cast<unsigned char>(p[0] & (negative ? 0xff : 0x7f)) : p[i];
      if (!negative && (v >> 55) != 0)
        return Error(ErrorCode::kCorrupt, std::string("tar header field ") + name + " is too large");
      v = (v << 8) | b;
    }
    auto sv = static_cast<int64_t>(v);
    if (!negative && sv < 0) return Error(ErrorCode::kCorrupt, std::string("tar header field ") + name + " is too large");
    return sv;
  }
  size_t i = 0;
  while (i < len && p[i] == ' ') ++i;
  uint64_t v = 0;
  bool any = false;
  for (; i < len; ++i) {
    if (p[i] == 0 || p[i] == ' ') break;
    if (p[i] < '0' || p[i] > '7')
      return Error(ErrorCode::kCorrupt, std::string("tar header field ") + name + " is not an octal number");
    if (v >> 60) return Error(ErrorCode::kCorrupt, std::string("tar header field ") + name + " is too large");
    v = v * 8 + (p[i] - '0');
    any = true;
  }
  for (; i < len; ++i)
    if (p[i] != 0 && p[i] != ' ')
      return Error(ErrorCode::kCorrupt, std::string("tar header field ") + name + " has junk after its number");
  (void)any;
  return static_cast<int64_t>(v);
}

bool checksum_ok(const char* h) {
  auto stored = parse_number(h, 148, 8, "chksum", false);
  if (!stored.ok()) return false;
  uint64_t unsigned_sum = 0;
  int64_t signed_sum = 0;
  for (size_t i = 0; i < kBlock; ++i) {
    unsigned char c = (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    unsigned_sum += c;
    signed_sum += static_cast<signed char>(c);
  }
  return static_cast<int64_t>(unsigned_sum) == *stored || signed_sum == *stored;
}

Result<uint64_t> parse_decimal(std::string_view s, const char* key) {
  if (s.empty() || s.size() > 19) return Error(ErrorCode::kCorrupt, std::string("pax header ") + key + " is not a number");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return Error(ErrorCode::kCorrupt, std::string("pax header ") + key + " is not a number");
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

Status check_name(const std::string& name, const char* what, uint32_t max_len) {
  if (name.find('\0') != std::string::npos)
    return Error(ErrorCode::kInvalidArgument, std::string("tar entry ") + what + " \"" +
                                                   std::string(name.c_str()).substr(0, 200) + "...\" contains a NUL byte");
  if (name.size() > max_len)
    return Error(ErrorCode::kLimitExceeded, std::string("tar entry ") + what + " \"" + name.substr(0, 100) + "...\" is " +
                                                 std::to_string(name.size()) + " bytes, over the limit of " +
                                                 std::to_string(max_len) + " (PATH_MAX)");
  return {};
}

}  // namespace

std::string_view to_string(EntryType type) {
  switch (type) {
    case EntryType::kFile: return "file";
    case EntryType::kDir: return "directory";
    case EntryType::kSymlink: return "symlink";
    case EntryType::kHardlink: return "hardlink";
    case EntryType::kCharDev: return "character device";
    case EntryType::kBlockDev: return "block device";
    case EntryType::kFifo: return "fifo";
  }
  return "?";
}

TarReader::TarReader(ByteSource& source, TarLimits limits) : src_(source), limits_(limits), buf_(kBufSize) {}

Result<size_t> TarReader::fill(size_t want) {
  if (len_ - pos_ >= want) return len_ - pos_;
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, len_ - pos_);
    len_ -= pos_;
    pos_ = 0;
  }
  while (len_ < want) {
    KRUNBOX_ASSIGN_OR_RETURN(size_t n, src_.read(buf_.data() + len_, buf_.size() - len_));
    if (n == 0) break;
    len_ += n;
  }
  return len_ - pos_;
}

Status TarReader::skip(uint64_t n, bool eof_ok) {
  while (n > 0) {
    if (pos_ == len_) {
      KRUNBOX_ASSIGN_OR_RETURN(size_t avail, fill(1));
      if (avail == 0) {
        if (eof_ok) return {};
        return Error(ErrorCode::kCorrupt, "tar archive is truncated inside the data of entry \"" + last_path_.substr(0, 200) + "\"");
      }
    }
    size_t step = static_cast<size_t>(std::min<uint64_t>(n, len_ - pos_));
    pos_ += step;
    n -= step;
  }
  return {};
}

Result<std::string> TarReader::read_blob(uint64_t size, uint64_t limit, const char* what) {
  if (size > limit)
    return Error(ErrorCode::kLimitExceeded, std::string("tar ") + what + " after entry \"" + last_path_.substr(0, 200) +
                                                "\" is " + std::to_string(size) + " bytes, over the limit of " + std::to_string(limit));
  std::string out;
  out.reserve(size);
  while (out.size() < size) {
    KRUNBOX_ASSIGN_OR_RETURN(size_t avail, fill(1));
    if (avail == 0)
      return Error(ErrorCode::kCorrupt, std::string("tar archive is truncated inside a ") + what);
    size_t step = static_cast<size_t>(std::min<uint64_t>(size - out.size(), avail));
    out.append(buf_.data() + pos_, step);
    pos_ += step;
  }
  KRUNBOX_TRY(skip((kBlock - size % kBlock) % kBlock, false));
  return out;
}

Status TarReader::parse_pax(std::string_view data, TarEntry& e, unsigned& set) {
  uint64_t xattr_bytes = 0;
  while (!data.empty()) {
    size_t sp = data.find(' ');
    if (sp == std::string_view::npos || sp == 0) return Error(ErrorCode::kCorrupt, "pax header record has no length");
    KRUNBOX_ASSIGN_OR_RETURN(uint64_t len, parse_decimal(data.substr(0, sp), "record length"));
    if (len <= sp + 1 || len > data.size() || data[len - 1] != '\n')
      return Error(ErrorCode::kCorrupt, "pax header record length is wrong");
    std::string_view kv = data.substr(sp + 1, len - sp - 2);
    data.remove_prefix(len);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) return Error(ErrorCode::kCorrupt, "pax header record has no '='");
    std::string_view key = kv.substr(0, eq), value = kv.substr(eq + 1);
    if (key == "path") {
      e.path = std::string(value);
      set |= kPaxPath;
    } else if (key == "linkpath") {
      e.link = std::string(value);
      set |= kPaxLink;
    } else if (key == "size") {
      KRUNBOX_ASSIGN_OR_RETURN(e.size, parse_decimal(value, "size"));
      if (e.size > kMaxSaneSize) return Error(ErrorCode::kCorrupt, "pax header size is too large");
      set |= kPaxSize;
    } else if (key == "uid" || key == "gid") {
      KRUNBOX_ASSIGN_OR_RETURN(uint64_t id, parse_decimal(value, key == "uid" ? "uid" : "gid"));
      if (id > 0xffffffffu) return Error(ErrorCode::kCorrupt, "pax header " + std::string(key) + " is out of range");
      (key == "uid" ? e.uid : e.gid) = static_cast<int64_t>(id);
      set |= key == "uid" ? kPaxUid : kPaxGid;
    } else if (key == "mtime") {
      std::string_view whole = value, frac;
      bool neg = !whole.empty() && whole[0] == '-';
      if (neg) whole.remove_prefix(1);
      if (auto dot = whole.find('.'); dot != std::string_view::npos) {
        frac = whole.substr(dot + 1);
        whole = whole.substr(0, dot);
      }
      KRUNBOX_ASSIGN_OR_RETURN(uint64_t sec, parse_decimal(whole, "mtime"));
      e.mtime_sec = neg ? -static_cast<int64_t>(sec) : static_cast<int64_t>(sec);
      uint32_t ns = 0;
      for (size_t i = 0; i < 9; ++i) {
        char c = i < frac.size() ? frac[i] : '0';
        if (c < '0' || c > '9') return Error(ErrorCode::kCorrupt, "pax header mtime is not a number");
        ns = ns * 10 + static_cast<uint32_t>(c - '0');
      }
      e.mtime_nsec = neg ? 0 : ns;
      set |= kPaxMtime;
    } else if (key.starts_with("SCHILY.xattr.")) {
      std::string name(key.substr(13));
      if (name.empty() || name.find('\0') != std::string::npos)
        return Error(ErrorCode::kCorrupt, "pax header has an empty or malformed xattr name");
      xattr_bytes += name.size() + value.size();
      if (xattr_bytes > limits_.max_xattr_bytes)
        return Error(ErrorCode::kLimitExceeded, "tar entry xattrs exceed the limit of " + std::to_string(limits_.max_xattr_bytes) + " bytes");
      e.xattrs.emplace_back(std::move(name), std::string(value));
    } else if (key.starts_with("GNU.sparse.")) {
      return Error(ErrorCode::kUnsupported, "sparse files (pax GNU.sparse) are not supported in layers");
    }
  }
  return {};
}

Result<bool> TarReader::next(TarEntry& entry) {
  if (at_end_) return false;
  KRUNBOX_TRY(skip(remaining_, false));
  remaining_ = 0;
  KRUNBOX_TRY(skip(padding_, true));
  padding_ = 0;

  TarEntry e;
  std::string long_name, long_link;
  bool have_long_name = false, have_long_link = false;
  unsigned pax = 0;
  uint64_t pax_size_value = 0;
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(size_t avail, fill(kBlock));
    if (avail == 0) {
      if (have_long_name || have_long_link || pax != 0)
        return Error(ErrorCode::kCorrupt, "tar archive ends after an extended header with no entry");
      at_end_ = true;  // no end-of-archive blocks: accepted
      return false;
    }
    if (avail < kBlock)
      return Error(ErrorCode::kCorrupt, "tar archive is truncated inside a header after entry \"" + last_path_.substr(0, 200) + "\"");
    const char* h = buf_.data() + pos_;
    pos_ += kBlock;
    if (std::all_of(h, h + kBlock, [](char c) { return c == 0; })) {
      at_end_ = true;
      return false;
    }
    if (!checksum_ok(h))
      return Error(ErrorCode::kCorrupt, "tar header checksum mismatch after entry \"" + last_path_.substr(0, 200) +
                                            "\" (not a tar archive, or corrupt)");
    char type = h[156];
    KRUNBOX_ASSIGN_OR_RETURN(int64_t size, parse_number(h, 124, 12, "size", false));
    if (static_cast<uint64_t>(size) > kMaxSaneSize) return Error(ErrorCode::kCorrupt, "tar header size is too large");
    auto usize = static_cast<uint64_t>(size);
    if (type == 'x' || type == 'g') {
      KRUNBOX_ASSIGN_OR_RETURN(std::string data, read_blob(usize, limits_.max_pax_header_size, "pax header"));
      if (type == 'x') {
        KRUNBOX_TRY(parse_pax(data, e, pax));
        pax_size_value = e.size;
      }
      continue;
    }
    if (type == 'L' || type == 'K') {
      KRUNBOX_ASSIGN_OR_RETURN(std::string data, read_blob(usize, limits_.max_path_len + 1, "GNU long name"));
      while (!data.empty() && data.back() == '\0') data.pop_back();
      (type == 'L' ? long_name : long_link) = std::move(data);
      (type == 'L' ? have_long_name : have_long_link) = true;
      continue;
    }

    std::string magic = field(h, 257, 6);
    std::string name = field(h, 0, 100);
    if (magic == "ustar" && std::memcmp(h + 257, "ustar\0", 6) == 0) {
      std::string prefix = field(h, 345, 155);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    if (!(pax & kPaxPath)) e.path = have_long_name ? long_name : name;
    if (!(pax & kPaxLink)) e.link = have_long_link ? long_link : field(h, 157, 100);
    KRUNBOX_ASSIGN_OR_RETURN(int64_t mode, parse_number(h, 100, 8, "mode", false));
    e.mode = static_cast<uint32_t>(mode) & 07777;
    // Ids and mtime from pax records win over the header's.
    KRUNBOX_ASSIGN_OR_RETURN(int64_t uid, parse_number(h, 108, 8, "uid", false));
    KRUNBOX_ASSIGN_OR_RETURN(int64_t gid, parse_number(h, 116, 8, "gid", false));
    KRUNBOX_ASSIGN_OR_RETURN(int64_t mtime, parse_number(h, 136, 12, "mtime", true));
    if (!(pax & kPaxUid)) e.uid = uid;
    if (!(pax & kPaxGid)) e.gid = gid;
    if (!(pax & kPaxMtime)) e.mtime_sec = mtime;
    if (e.uid < 0 || e.uid > 0xffffffffLL || e.gid < 0 || e.gid > 0xffffffffLL)
      return Error(ErrorCode::kCorrupt, "tar entry \"" + e.path.substr(0, 200) + "\" has an out-of-range uid/gid");
    uint64_t data_size = (pax & kPaxSize) ? pax_size_value : usize;
    switch (type) {
      case '0': case '\0': case '7': e.type = EntryType::kFile; break;
      case '1': e.type = EntryType::kHardlink; break;
      case '2': e.type = EntryType::kSymlink; break;
      case '3': e.type = EntryType::kCharDev; break;
      case '4': e.type = EntryType::kBlockDev; break;
      case '5': e.type = EntryType::kDir; break;
      case '6': e.type = EntryType::kFifo; break;
      case 'S':
        return Error(ErrorCode::kUnsupported, "tar entry \"" + e.path.substr(0, 200) + "\" is a GNU sparse file, which layers may not use");
      default:
        return Error(ErrorCode::kUnsupported, "tar entry \"" + e.path.substr(0, 200) + "\" has unsupported type '" +
                                                  (type >= 32 && type < 127 ? std::string(1, type) : "\\x" + std::to_string(static_cast<unsigned char>(type))) + "'");
    }
    // Pre-POSIX archives mark directories with a trailing slash only.
    if (type == '\0' && !e.path.empty() && e.path.back() == '/') e.type = EntryType::kDir;
    if (e.type == EntryType::kCharDev || e.type == EntryType::kBlockDev) {
      KRUNBOX_ASSIGN_OR_RETURN(int64_t maj, parse_number(h, 329, 8, "devmajor", false));
      KRUNBOX_ASSIGN_OR_RETURN(int64_t min, parse_number(h, 337, 8, "devminor", false));
      if (maj > 0xfff || min > 0xfffff) return Error(ErrorCode::kCorrupt, "tar entry \"" + e.path.substr(0, 200) + "\" has an invalid device number");
      e.dev_major = static_cast<uint32_t>(maj);
      e.dev_minor = static_cast<uint32_t>(min);
    }
    KRUNBOX_TRY(check_name(e.path, "name", limits_.max_path_len));
    KRUNBOX_TRY(check_name(e.link, "link target", limits_.max_path_len));
    if (e.path.empty()) return Error(ErrorCode::kCorrupt, "tar entry after \"" + last_path_.substr(0, 200) + "\" has an empty name");
    if (e.type == EntryType::kFile) {
      e.size = data_size;
    } else {
      e.size = 0;
      if ((e.type == EntryType::kSymlink || e.type == EntryType::kHardlink) && e.link.empty())
        return Error(ErrorCode::kCorrupt, "tar entry \"" + e.path.substr(0, 200) + "\" is a link with an empty target");
    }
    // Any data a non-file entry declares is skipped, never interpreted.
    remaining_ = data_size;
    padding_ = (kBlock - data_size % kBlock) % kBlock;
    last_path_ = e.path;
    ++entries_;
    entry = std::move(e);
    if (entry.type != EntryType::kFile) {
      KRUNBOX_TRY(skip(remaining_, false));
      remaining_ = 0;
    }
    return true;
  }
}

Result<std::string_view> TarReader::data_chunk(size_t max) {
  if (remaining_ == 0 || max == 0) return std::string_view();
  if (pos_ == len_) {
    KRUNBOX_ASSIGN_OR_RETURN(size_t avail, fill(1));
    if (avail == 0)
      return Error(ErrorCode::kCorrupt, "tar archive is truncated inside the data of entry \"" + last_path_.substr(0, 200) +
                                            "\" (" + std::to_string(remaining_) + " bytes missing)");
  }
  size_t n = static_cast<size_t>(std::min<uint64_t>({remaining_, len_ - pos_, max}));
  std::string_view out(buf_.data() + pos_, n);
  pos_ += n;
  remaining_ -= n;
  return out;
}

Status TarReader::drain() {
  pos_ = len_ = 0;
  for (;;) {
    KRUNBOX_ASSIGN_OR_RETURN(size_t n, src_.read(buf_.data(), buf_.size()));
    if (n == 0) return {};
  }
}

}  // namespace krunbox::image
