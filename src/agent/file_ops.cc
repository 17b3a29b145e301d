// Directory operations: list (streamed like get), mkdir, move, remove.
#include "agent/file_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

#include "agent/sending_op.h"
#include "agent/server.h"
#include "base/fs.h"
#include "base/unique_fd.h"

namespace krunbox::agent {

using proto::FrameType;

proto::FileStat file_stat_at(int dir_fd, const char* name, const struct stat& st) {
  proto::FileStat f;
  f.type = S_ISREG(st.st_mode) ? "file" : S_ISDIR(st.st_mode) ? "dir" : S_ISLNK(st.st_mode) ? "symlink" : "other";
  f.mode = st.st_mode & 07777;
  f.size = static_cast<uint64_t>(st.st_size);
  f.uid = st.st_uid;
  f.gid = st.st_gid;
  f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (S_ISLNK(st.st_mode)) {
    char buf[proto::kMaxPath];
    ssize_t n = ::readlinkat(dir_fd, name, buf, sizeof buf);
    if (n > 0) f.target.assign(buf, static_cast<size_t>(n));
  }
  return f;
}

namespace {

// The names in directory `fd` without "." and "..", sorted: the first
// `limit` of them in that order, so a listing cut short is a prefix of the
// whole one. Memory stays within twice `limit` however big the directory.
Result<std::vector<std::string>> read_names(int fd, const std::string& shown, size_t limit) {
  std::vector<std::string> names;
  // fdopendir owns the fd it gets, so it gets its own.
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(::fcntl(fd, F_DUPFD_CLOEXEC, 0)), ::closedir);
  if (!dir) return Error::from_errno("opendir " + shown);
  auto keep_first = [&] {
    if (names.size() <= limit) return;
    std::nth_element(names.begin(), names.begin() + static_cast<ptrdiff_t>(limit), names.end());
    names.resize(limit);
  };
  errno = 0;
  while (dirent* e = ::readdir(dir.get())) {
    std::string_view n(e->d_name);
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
    if (names.size() / 2 >= limit) keep_first();
  }
  if (errno != 0) return Error::from_errno("reading directory " + shown);
  keep_first();
  std::sort(names.begin(), names.end());
  return names;
}

// Removes trailing slashes ("/a/b/" names "/a/b"); "/" stays "/".
std::string trim_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// "/a/b" -> {"/a", "b"}; "/b" -> {"/", "b"}.
std::pair<std::string, std::string> split_last(const std::string& path) {
  size_t slash = path.rfind('/');
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

UniqueFd open_dir(const std::string& path) {
  return UniqueFd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
}

class Walker {
 public:
  explicit Walker(const ListLimits& limits) : limits_(limits) {}

  // Lists directory `fd`, shown as `shown` in errors, its entries named `prefix`/name.
  Status walk(int fd, const std::string& prefix, const std::string& shown, uint32_t levels) {
    KRUNBOX_ASSIGN_OR_RETURN(auto names, read_names(fd, shown, limits_.max_entries - out_.entries + 1));
    for (const auto& n : names) {
      struct stat st {};
      if (::fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed while we listed
        return Error::from_errno("stat " + join_path(shown, n));
      }
      proto::DirEntry e{prefix.empty() ? n : prefix + "/" + n, file_stat_at(fd, n.c_str(), st)};
      if (!add(e)) return {};
      if (!S_ISDIR(st.st_mode) || levels <= 1) continue;
      // O_NOFOLLOW: a directory swapped for a symlink since the fstatat is not entered.
      UniqueFd sub(::openat(fd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) continue;  // listed, but its contents are not readable to us
      KRUNBOX_TRY(walk(sub.get(), e.name, join_path(shown, n), levels - 1));
      if (out_.truncated) return {};
    }
    return {};
  }

  Listing take() && { return std::move(out_); }

 private:
  bool add(const proto::DirEntry& e) {
    std::string line = proto::encode_dir_entry(e);
    if (out_.entries >= limits_.max_entries || out_.body.size() + line.size() > limits_.max_bytes) {
      out_.truncated = true;
      return false;
    }
    out_.body += line;
    ++out_.entries;
    return true;
  }

  ListLimits limits_;
  Listing out_;
};

// Streams a finished listing on stream 1 within the host's window, like a get.
class ListOp : public SendingOp {
 public:
  ListOp(Server& s, Connection* c, uint32_t id, std::string body)
      : SendingOp(s, c, id, "list"), body_(std::move(body)) {}

  void pump() override {
    while (conn_ && !dead_ && !conn_->congested()) {
      if (sent_ == body_.size()) {
        conn_->send(FrameType::kEof, id_, proto::kStdout, {});
        finish();
        return;
      }
      if (window_ == 0) return;
      size_t n = std::min<uint64_t>({window_, kReadChunk, body_.size() - sent_});
      conn_->send(FrameType::kData, id_, proto::kStdout, std::string_view(body_).substr(sent_, n));
      sent_ += n;
      window_ -= n;
    }
  }

 private:
  std::string body_;
  size_t sent_ = 0;
};

// Gives `name` in `parent` the request's owner and then its mode (a chown
// clears set-id bits, so the mode comes last). Made 0700 first, so nobody
// else can get in before it has them.
Status create_dir_at(int parent, const std::string& name, const std::string& shown, const proto::MkdirRequest& r) {
  if (::mkdirat(parent, name.c_str(), 0700) != 0) return Error::from_errno("mkdir " + shown);
  UniqueFd d(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  Status result;
  if (!d || ::fstat(d.get(), &st) != 0) {
    result = Error::from_errno("open " + shown);
  } else if ((st.st_uid != r.uid || st.st_gid != r.gid) && ::fchown(d.get(), r.uid, r.gid) != 0) {
    result = Error::from_errno("chown " + shown);
  } else if (::fchmod(d.get(), r.mode) != 0) {
    result = Error::from_errno("chmod " + shown);
  }
  // A directory that did not get its owner and mode is not left behind.
  if (!result.ok()) ::unlinkat(parent, name.c_str(), AT_REMOVEDIR);
  return result;
}

// mkdir -p: one component at a time from "/", each opened relative to the last.
Status make_parents(const std::string& path, const proto::MkdirRequest& r) {
  UniqueFd cur = open_dir("/");
  if (!cur) return Error::from_errno("open /");
  std::string shown;
  size_t pos = 1;
  while (pos < path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string::npos) slash = path.size();
    std::string part = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (part.empty()) continue;
    shown += "/" + part;
    // An existing component may be a symlink to a directory, as with mkdir -p.
    UniqueFd next(::openat(cur.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!next && errno == ENOTDIR)
      return Error(ErrorCode::kAlreadyExists, "mkdir " + shown + ": exists and is not a directory", EEXIST);
    if (!next && errno != ENOENT) return Error::from_errno("open " + shown);
    if (!next) {
      // Someone else may create it meanwhile; then it is simply there.
      if (auto st = create_dir_at(cur.get(), part, shown, r); !st.ok() && st.error().sys_errno() != EEXIST) return st;
      next.reset(::openat(cur.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!next) return Error::from_errno("open " + shown);
    }
    cur = std::move(next);
  }
  return {};
}

// rm -r below an open parent, by names relative to directory fds.
class Remover {
 public:
  Remover(dev_t dev, const struct stat& root) : dev_(dev), root_(root) {}

  Status tree(int parent, const std::string& name, const std::string& shown, int level) {
    if (level >= kMaxRemoveDepth)
      return Error(ErrorCode::kLimitExceeded,
                   "remove " + shown + ": more than " + std::to_string(kMaxRemoveDepth) + " levels deep");
    UniqueFd d(::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d) return Error::from_errno("open " + shown);
    struct stat st {};
    if (::fstat(d.get(), &st) != 0) return Error::from_errno("stat " + shown);
    // A bind mount of "/" inside the tree would otherwise take the whole root with it.
    if (st.st_dev == root_.st_dev && st.st_ino == root_.st_ino)
      return Error(ErrorCode::kInvalidArgument, "remove " + shown + ": refusing to remove the root directory");
    // Another file system mounted in the tree (a tmpfs, /proc, a volume) is not
    // the caller's to empty; rmdir would refuse its mount point anyway.
    if (st.st_dev != dev_)
      return Error(ErrorCode::kIllegalState, "remove " + shown + ": a mount point; remove does not cross into it",
                   EBUSY);
    KRUNBOX_ASSIGN_OR_RETURN(auto names, read_names(d.get(), shown, SIZE_MAX));
    for (const auto& n : names) {
      std::string child = join_path(shown, n);
      struct stat cst {};
      if (::fstatat(d.get(), n.c_str(), &cst, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        return Error::from_errno("stat " + child);
      }
      if (S_ISDIR(cst.st_mode)) {
        KRUNBOX_TRY(tree(d.get(), n, child, level + 1));
      } else if (::unlinkat(d.get(), n.c_str(), 0) != 0 && errno != ENOENT) {
        return Error::from_errno("unlink " + child);
      }
    }
    d.reset();
    if (::unlinkat(parent, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
      return Error::from_errno("rmdir " + shown);
    return {};
  }

 private:
  dev_t dev_;
  struct stat root_;
};

}  // namespace

Result<Listing> list_tree(const std::string& path, uint32_t depth, const ListLimits& limits) {
  if (depth < 1 || depth > proto::kMaxListDepth)
    return Error(ErrorCode::kInvalidArgument, "list " + path + ": depth " + std::to_string(depth) + " is not in 1.." +
                                                  std::to_string(proto::kMaxListDepth));
  UniqueFd fd = open_dir(path);
  if (!fd) {
    int err = errno;
    struct stat st {};
    if (err == ENOTDIR && ::stat(path.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
      return Error(ErrorCode::kInvalidArgument, "list " + path + ": not a directory", ENOTDIR);
    return Error::from_errno("open " + path, err);
  }
  Walker w(limits);
  KRUNBOX_TRY(w.walk(fd.get(), "", path, depth));
  return std::move(w).take();
}

Status make_directory(const proto::MkdirRequest& r) {
  std::string path = trim_slashes(r.path);
  if (path == "/") {
    if (r.parents) return {};
    return Error(ErrorCode::kAlreadyExists, "mkdir /: exists", EEXIST);
  }
  auto [parent, base] = split_last(path);
  if (base == "." || base == "..") {
    if (r.parents && is_directory(path)) return {};
    return Error(ErrorCode::kInvalidArgument, "mkdir " + r.path + ": does not name a new directory");
  }
  if (r.parents) return make_parents(path, r);
  UniqueFd p = open_dir(parent);
  if (!p) return Error::from_errno("open " + parent);
  return create_dir_at(p.get(), base, path, r);
}

Status move_path(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) == 0) return {};
  int err = errno;
  std::string what = "rename " + from + " to " + to;
  switch (err) {
    case EXDEV:
      // Also what an overlay root (the qemu backend) says for a directory of
      // its read-only image. Copying a tree is left to the caller, who knows
      // what it may lose (hard links, xattrs) and whether that is acceptable.
      return Error(ErrorCode::kUnsupported, what + ": crosses file systems, which move does not copy across", err);
    case ENOTEMPTY:
    case EEXIST: return Error(ErrorCode::kAlreadyExists, what + ": the target is a directory that is not empty", err);
    case EISDIR:
    case ENOTDIR: return Error(ErrorCode::kInvalidArgument, what + ": a directory and a non-directory", err);
    default: return Error::from_errno(what, err);
  }
}

Status remove_path(const std::string& raw, bool recursive) {
  std::string path = trim_slashes(raw);
  if (path == "/") return Error(ErrorCode::kInvalidArgument, "remove " + raw + ": refusing to remove /");
  auto [parent, base] = split_last(path);
  if (base == "." || base == "..")
    return Error(ErrorCode::kInvalidArgument, "remove " + raw + ": refusing to remove '.' or '..'");
  UniqueFd p = open_dir(parent);
  if (!p) return Error::from_errno("open " + parent);
  struct stat st {};
  if (::fstatat(p.get(), base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return Error::from_errno("stat " + path);
  if (!S_ISDIR(st.st_mode)) {
    if (::unlinkat(p.get(), base.c_str(), 0) != 0) return Error::from_errno("unlink " + path);
    return {};
  }
  if (!recursive) {
    if (::unlinkat(p.get(), base.c_str(), AT_REMOVEDIR) == 0) return {};
    int err = errno;
    if (err == ENOTEMPTY || err == EEXIST)
      return Error(ErrorCode::kIllegalState, "rmdir " + path + ": not empty (remove it recursively)", err);
    return Error::from_errno("rmdir " + path, err);
  }
  // A mount point's contents are not the caller's to empty either (its rmdir
  // would fail only after they were gone).
  struct stat parent_st {};
  if (::fstat(p.get(), &parent_st) != 0) return Error::from_errno("stat " + parent);
  if (parent_st.st_dev != st.st_dev)
    return Error(ErrorCode::kIllegalState, "remove " + path + ": a mount point; remove does not cross into it", EBUSY);
  struct stat root {};
  if (::stat("/", &root) != 0) return Error::from_errno("stat /");
  return Remover(st.st_dev, root).tree(p.get(), base, path, 0);
}

void start_list(Server& server, Connection& conn, uint32_t channel, const proto::ListRequest& req) {
  auto listing = list_tree(req.path, req.depth);
  if (!listing.ok()) return conn.send_response(channel, listing.error());
  conn.send_response(channel,
                     proto::to_json(proto::ListStarted{listing->entries, listing->body.size(), listing->truncated}));
  Op* raw = server.adopt(std::make_unique<ListOp>(server, &conn, channel, std::move(listing->body)));
  conn.add_channel(channel, raw);
  raw->pump();
}

}  // namespace krunbox::agent
