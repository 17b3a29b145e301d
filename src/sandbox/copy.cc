#include "sandbox/copy.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>
#include <thread>

#include "base/fs.h"
#include "base/unique_fd.h"
#include "sandbox/archive.h"
#include "sandbox/files_client.h"

namespace krunbox {
namespace {

namespace fs = std::filesystem;

// The destination's directory, trailing slashes ignored ("out/" -> ".").
std::string parent_of(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return dirname_of(path);
}

struct ArchiveFree {
  void operator()(struct archive* a) const { archive_free(a); }
};

// Reads a tar from `fd` and writes it under `dir` on the host, refusing what
// would escape it.
Status extract_on_host(int fd, const std::string& dir) {
  std::unique_ptr<struct archive, ArchiveFree> in(archive_read_new());
  std::unique_ptr<struct archive, ArchiveFree> out(archive_write_disk_new());
  if (!in || !out) return Error(ErrorCode::kInternal, "libarchive: out of memory");
  archive_read_support_format_tar(in.get());
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                                ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                                                ARCHIVE_EXTRACT_UNLINK);
  if (archive_read_open_fd(in.get(), fd, 256u << 10) != ARCHIVE_OK)
    return Error(ErrorCode::kIo, std::string("reading the sandbox's archive: ") + archive_error_string(in.get()));
  for (;;) {
    archive_entry* e = nullptr;
    int r = archive_read_next_header(in.get(), &e);
    if (r == ARCHIVE_EOF) return {};
    if (r != ARCHIVE_OK)
      return Error(ErrorCode::kIo, std::string("reading the sandbox's archive: ") + archive_error_string(in.get()));
    // The names are joined to `dir` here (libarchive writes relative to the
    // process's cwd otherwise), so they are checked here too.
    const char* raw = archive_entry_pathname(e);
    auto name = clean_archive_entry_name(raw ? raw : "");
    if (!name)
      return Error(ErrorCode::kProtocol, "the sandbox's archive holds the name " + std::string(raw ? raw : "") +
                                             ", which climbs out of the destination");
    std::string full = name->empty() ? dir : join_path(dir, *name);
    archive_entry_set_pathname(e, full.c_str());
    if (archive_write_header(out.get(), e) != ARCHIVE_OK)
      return Error(ErrorCode::kIo, "writing " + full + ": " + archive_error_string(out.get()));
    const void* buf;
    size_t size;
    la_int64_t offset;
    while ((r = archive_read_data_block(in.get(), &buf, &size, &offset)) == ARCHIVE_OK)
      if (archive_write_data_block(out.get(), buf, size, offset) != ARCHIVE_OK)
        return Error(ErrorCode::kIo, "writing " + full + ": " + archive_error_string(out.get()));
    if (r != ARCHIVE_EOF)
      return Error(ErrorCode::kIo, std::string("reading the sandbox's archive: ") + archive_error_string(in.get()));
    if (archive_write_finish_entry(out.get()) != ARCHIVE_OK)
      return Error(ErrorCode::kIo, "writing " + full + ": " + archive_error_string(out.get()));
  }
}

Status put_tree(Lifecycle& lc, const std::string& id, const fs::path& host, const std::string& guest, size_t depth) {
  if (depth > kMaxArchiveDepth)
    return Error(ErrorCode::kLimitExceeded, "the tree is deeper than " + std::to_string(kMaxArchiveDepth) + " levels");
  struct stat st;
  if (::lstat(host.c_str(), &st) != 0) return Error::from_errno("reading " + host.string());
  if (S_ISDIR(st.st_mode)) {
    KRUNBOX_TRY(make_dir(lc, id, guest, {.mode = st.st_mode & 07777, .parents = true}));
    std::error_code ec;
    std::vector<fs::path> children;
    for (fs::directory_iterator it(host, ec), end; !ec && it != end; it.increment(ec)) children.push_back(it->path());
    if (ec) return Error(ErrorCode::kIo, "listing " + host.string() + ": " + ec.message());
    std::sort(children.begin(), children.end());
    for (const auto& c : children) KRUNBOX_TRY(put_tree(lc, id, c, join_path(guest, c.filename().string()), depth + 1));
    return {};
  }
  if (S_ISREG(st.st_mode)) {
    UniqueFd fd(::open(host.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return Error::from_errno("opening " + host.string());
    return put_file_from_fd(lc, id, guest, fd.get(), {.mode = st.st_mode & 07777, .make_parents = false});
  }
  return Error(ErrorCode::kUnsupported, host.string() + " is " +
                                            (S_ISLNK(st.st_mode) ? "a symlink" : "not a file or directory") +
                                            ", which a copy into a sandbox does not make yet");
}

}  // namespace

Status copy_from_sandbox(Lifecycle& lc, const std::string& id, const std::string& guest_path,
                         const std::string& host_path) {
  auto run = [&]() -> Status {
    std::string dir = host_path, top = basename_of(guest_path);
    if (!is_directory(host_path)) {
      dir = parent_of(host_path);
      top = basename_of(host_path);
      if (!is_directory(dir))
        return Error(ErrorCode::kNotFound, "the destination's directory " + dir + " does not exist");
    }
    if (top == "/") top = ".";
    // The sandbox's tar goes through a socket pair (sends that cannot raise
    // SIGPIPE in a library user's process) into the host's extraction.
    int p[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) return Error::from_errno("socketpair");
    UniqueFd rd(p[0]), wr(p[1]);
    Status wrote;
    std::thread writer([&] {
      wrote = write_archive(
          lc, id, guest_path,
          [&](std::string_view d) -> Status {
            while (!d.empty()) {
              ssize_t n = ::send(wr.get(), d.data(), d.size(), MSG_NOSIGNAL);
              if (n < 0 && errno == EINTR) continue;
              if (n < 0) return Error::from_errno("passing the archive on");
              d.remove_prefix(static_cast<size_t>(n));
            }
            return {};
          },
          top);
      wr.reset();
    });
    Status extracted = extract_on_host(rd.get(), dir);
    rd.reset();  // a writer still writing gets EPIPE and stops
    writer.join();
    // An extraction that stopped makes the writer fail too; its reason is the one to give.
    KRUNBOX_TRY(std::move(extracted));
    return wrote;
  };
  return run().wrap("copying " + guest_path + " from sandbox " + id.substr(0, 12) + " to " + host_path);
}

Status copy_into_sandbox(Lifecycle& lc, const std::string& id, const std::string& host_path,
                         const std::string& guest_path) {
  auto run = [&]() -> Status {
    struct stat st;
    if (::lstat(host_path.c_str(), &st) != 0) return Error::from_errno("reading " + host_path);
    std::string target = guest_path;
    auto dest = stat_file(lc, id, guest_path);
    if (dest && dest->type == FileStat::Type::kDirectory) {
      target = join_path(guest_path, basename_of(host_path));
    } else if (!dest && dest.error().code() != ErrorCode::kNotFound) {
      return std::move(dest).error();
    }
    return put_tree(lc, id, host_path, target, 0);
  };
  return run().wrap("copying " + host_path + " into sandbox " + id.substr(0, 12) + " at " + guest_path);
}

}  // namespace krunbox
