#include "sandbox/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "base/fs.h"

namespace krunbox {
namespace {

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_free(a); }
};
using ArchivePtr = std::unique_ptr<struct archive, ArchiveFree>;
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

// A name from an archive or a guest, safe to put in a message.
std::string shown(std::string_view name) {
  std::string out;
  for (unsigned char c : name.substr(0, 200)) out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  if (name.size() > 200) out += "...";
  return out;
}

class Writer {
 public:
  Writer(Lifecycle& lc, const std::string& id, const ArchiveSink& sink) : lc_(lc), id_(id), sink_(sink) {}

  Status open() {
    a_.reset(archive_write_new());
    if (!a_) return Error(ErrorCode::kInternal, "libarchive: out of memory");
    archive_write_set_format_pax_restricted(a_.get());
    archive_write_set_bytes_in_last_block(a_.get(), 1);
    if (archive_write_open2(a_.get(), this, nullptr, &Writer::on_write, nullptr, nullptr) != ARCHIVE_OK)
      return failure("opening the archive");
    return {};
  }

  Status add(const std::string& guest_path, const std::string& name, const FileStat& st, size_t depth) {
    if (++entries_ > kMaxArchiveEntries)
      return Error(ErrorCode::kLimitExceeded, "the tree has more than " + std::to_string(kMaxArchiveEntries) +
                                                  " entries, the most one archive holds");
    if (depth > kMaxArchiveDepth)
      return Error(ErrorCode::kLimitExceeded,
                   "the tree is deeper than " + std::to_string(kMaxArchiveDepth) + " levels");
    if (st.type == FileStat::Type::kOther) return {};  // devices, fifos, sockets: nothing a copy can carry
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname_utf8(e.get(), name.c_str());
    archive_entry_set_perm(e.get(), st.mode & 07777);
    archive_entry_set_uid(e.get(), st.uid);
    archive_entry_set_gid(e.get(), st.gid);
    archive_entry_set_mtime(e.get(), st.mtime_ns / 1000000000, st.mtime_ns % 1000000000);
    if (st.type == FileStat::Type::kDirectory) {
      archive_entry_set_filetype(e.get(), AE_IFDIR);
    } else if (st.type == FileStat::Type::kSymlink) {
      archive_entry_set_filetype(e.get(), AE_IFLNK);
      archive_entry_set_symlink_utf8(e.get(), st.symlink_target.c_str());
    } else {
      archive_entry_set_filetype(e.get(), AE_IFREG);
      archive_entry_set_size(e.get(), static_cast<la_int64_t>(st.size));
    }
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) return failure("writing the entry " + shown(name));
    if (st.type == FileStat::Type::kFile) KRUNBOX_TRY(add_data(guest_path, st.size));
    if (st.type != FileStat::Type::kDirectory) return {};
    KRUNBOX_ASSIGN_OR_RETURN(DirListing listing, list_dir(lc_, id_, guest_path, 1));
    if (listing.truncated)
      return Error(ErrorCode::kLimitExceeded, shown(guest_path) + " holds more entries than one listing gives (10000)");
    for (const auto& child : listing.entries)
      KRUNBOX_TRY(add(join_path(guest_path, child.name), name + "/" + child.name, child.stat, depth + 1));
    return {};
  }

  Status close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return failure("ending the archive");
    return {};
  }

 private:
  // Exactly `size` bytes go in: a file that grew is cut, one that shrank is
  // padded with zeros, so the archive stays well formed.
  Status add_data(const std::string& guest_path, uint64_t size) {
    uint64_t left = size;
    auto got = get_file_stream(lc_, id_, guest_path, [&](std::string_view d) -> Status {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, d.size()));
      if (n && archive_write_data(a_.get(), d.data(), n) < 0) return failure("writing " + shown(guest_path));
      left -= n;
      return {};
    });
    if (!got) return std::move(got).error();
    static const std::vector<char> zeros(65536, 0);
    while (left > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, zeros.size()));
      if (archive_write_data(a_.get(), zeros.data(), n) < 0) return failure("writing " + shown(guest_path));
      left -= n;
    }
    return {};
  }

  Error failure(const std::string& what) {
    if (sink_error_) return *sink_error_;
    const char* msg = archive_error_string(a_.get());
    return Error(ErrorCode::kInternal, what + ": " + (msg ? msg : "libarchive failed"));
  }

  static la_ssize_t on_write(struct archive*, void* self, const void* buf, size_t len) {
    auto* w = static_cast<Writer*>(self);
    Status st = w->sink_(std::string_view(static_cast<const char*>(buf), len));
    if (!st.ok()) {
      w->sink_error_ = std::move(st).error();
      return -1;
    }
    return static_cast<la_ssize_t>(len);
  }

  Lifecycle& lc_;
  const std::string& id_;
  const ArchiveSink& sink_;
  ArchivePtr a_;
  size_t entries_ = 0;
  std::optional<Error> sink_error_;
};

struct ReadState {
  const ArchiveSource* source = nullptr;
  std::vector<char> buf = std::vector<char>(256u << 10);
  std::optional<Error> error;
};

la_ssize_t on_read(struct archive*, void* self, const void** out) {
  auto* s = static_cast<ReadState*>(self);
  auto n = (*s->source)(s->buf.data(), s->buf.size());
  if (!n) {
    s->error = std::move(n).error();
    return -1;
  }
  *out = s->buf.data();
  return static_cast<la_ssize_t>(*n);
}

}  // namespace

std::optional<std::string> clean_archive_entry_name(std::string_view name) {
  std::string out;
  size_t i = 0;
  if (!name.empty() && name[0] == '/') return std::nullopt;
  while (i <= name.size()) {
    size_t j = name.find('/', i);
    if (j == std::string_view::npos) j = name.size();
    std::string_view part = name.substr(i, j - i);
    if (part == "..") return std::nullopt;
    if (!part.empty() && part != ".") out += (out.empty() ? "" : "/") + std::string(part);
    i = j + 1;
  }
  if (out.find('\0') != std::string::npos) return std::nullopt;
  return out;
}

Status write_archive(Lifecycle& lc, const std::string& id, const std::string& guest_path, const ArchiveSink& sink,
                     const std::string& top_name) {
  auto run = [&]() -> Status {
    KRUNBOX_ASSIGN_OR_RETURN(FileStat top, stat_file(lc, id, guest_path));
    std::string name = top_name.empty() ? basename_of(guest_path) : top_name;
    if (name == "/") name = ".";
    Writer w(lc, id, sink);
    KRUNBOX_TRY(w.open());
    KRUNBOX_TRY(w.add(guest_path, name, top, 0));
    return w.close();
  };
  return run().wrap("archiving " + shown(guest_path) + " in sandbox " + id.substr(0, 12));
}

Result<ExtractCounts> extract_archive(Lifecycle& lc, const std::string& id, const std::string& guest_dir,
                                      const ArchiveSource& source) {
  auto run = [&]() -> Result<ExtractCounts> {
    KRUNBOX_ASSIGN_OR_RETURN(FileStat dir, stat_file(lc, id, guest_dir));
    if (dir.type != FileStat::Type::kDirectory)
      return Error(ErrorCode::kInvalidArgument, shown(guest_dir) + " is not a directory; an archive goes into one");
    ArchivePtr a(archive_read_new());
    if (!a) return Error(ErrorCode::kInternal, "libarchive: out of memory");
    archive_read_support_format_tar(a.get());
    archive_read_support_filter_gzip(a.get());
    ReadState state;
    state.source = &source;
    if (archive_read_open(a.get(), &state, nullptr, &on_read, nullptr) != ARCHIVE_OK) {
      if (state.error) return *state.error;
      return Error(ErrorCode::kInvalidArgument,
                   std::string("not a tar archive: ") + (archive_error_string(a.get()) ?: "unreadable"));
    }
    ExtractCounts counts;
    size_t entries = 0;
    for (;;) {
      archive_entry* e = nullptr;
      int r = archive_read_next_header(a.get(), &e);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
        if (state.error) return *state.error;
        return Error(ErrorCode::kInvalidArgument,
                     std::string("a damaged archive: ") + (archive_error_string(a.get()) ?: "unreadable"));
      }
      if (++entries > kMaxArchiveEntries)
        return Error(ErrorCode::kLimitExceeded,
                     "the archive has more than " + std::to_string(kMaxArchiveEntries) + " entries");
      const char* raw = archive_entry_pathname(e);
      std::string raw_name = raw ? raw : "";
      auto name = clean_archive_entry_name(raw_name);
      if (!name)
        return Error(ErrorCode::kInvalidArgument,
                     "the entry \"" + shown(raw_name) +
                         "\" is absolute or climbs out with \"..\"; nothing after it was extracted");
      if (name->empty()) continue;  // "./" itself: the target directory
      std::string target = join_path(guest_dir, *name);
      auto type = archive_entry_filetype(e);
      uint32_t mode = archive_entry_perm(e) & 07777;
      if (type == AE_IFDIR) {
        KRUNBOX_TRY(make_dir(lc, id, target, {.mode = mode, .parents = true}));
        ++counts.directories;
      } else if (type == AE_IFREG && !archive_entry_hardlink(e)) {
        Status wrote = put_file_stream(lc, id, target,
                                       [&](char* buf, size_t size) -> Result<size_t> {
                                         la_ssize_t n = archive_read_data(a.get(), buf, size);
                                         if (n < 0) {
                                           if (state.error) return *state.error;
                                           return Error(ErrorCode::kInvalidArgument,
                                                        "reading " + shown(*name) + " from the archive: " +
                                                            (archive_error_string(a.get()) ?: "damaged"));
                                         }
                                         counts.bytes += static_cast<uint64_t>(n);
                                         return static_cast<size_t>(n);
                                       },
                                       {.mode = mode, .make_parents = true});
        KRUNBOX_TRY(std::move(wrote));
        ++counts.files;
      } else {
        const char* what = type == AE_IFLNK            ? "a symlink"
                           : archive_entry_hardlink(e) ? "a hard link"
                                                       : "a device, fifo or socket";
        return Error(ErrorCode::kUnsupported,
                     "the entry \"" + shown(*name) + "\" is " + what +
                         ", which extraction into a sandbox does not make yet; those before it "
                         "were extracted");
      }
    }
    return counts;
  };
  return run().wrap("extracting an archive into " + shown(guest_dir) + " in sandbox " + id.substr(0, 12));
}

}  // namespace krunbox
