// File operations: streamed atomic put, streamed get, and stat (the
// directory operations are in file_ops.cc).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "agent/file_ops.h"
#include "agent/sending_op.h"
#include "agent/server.h"
#include "base/fs.h"
#include "base/log.h"

namespace krunbox::agent {

using proto::FrameType;

namespace {

class PutOp : public Op {
 public:
  PutOp(Server& s, Connection* c, uint32_t id, proto::PutRequest req) : Op(s, c, id), req_(std::move(req)) {}
  ~PutOp() override { discard(); }

  Status open() {
    std::string dir = dirname_of(req_.path);
    if (req_.make_parents) KRUNBOX_TRY_CTX(make_dirs(dir), "creating " + dir);
    std::string base = req_.path.substr(req_.path.rfind('/') + 1);
    if (base.empty() || base == "." || base == "..")
      return Error(ErrorCode::kInvalidArgument, "put: '" + req_.path + "' does not name a file");
    tmp_ = join_path(dir, "." + base + ".krunbox-XXXXXX");
    fd_.reset(::mkostemp(tmp_.data(), O_CLOEXEC));
    if (!fd_) {
      int err = errno;
      tmp_.clear();
      return Error::from_errno("creating a temporary file in " + dir, err);
    }
    return {};
  }

  Status on_data(uint8_t stream, std::string payload) override {
    if (stream != proto::kStdin) return Error(ErrorCode::kProtocol, "put DATA on an output stream");
    if (got_eof_) return Error(ErrorCode::kProtocol, "put DATA after EOF");
    if (payload.size() > allowed_) return Error(ErrorCode::kProtocol, "put DATA beyond the window");
    allowed_ -= payload.size();
    if (auto st = write_all(fd_.get(), payload.data(), payload.size()); !st.ok()) {
      fail(std::move(st).error().wrap("writing " + tmp_));
      return {};
    }
    size_ += payload.size();
    unacked_ += static_cast<uint32_t>(payload.size());
    if (unacked_ >= kAckBatch) {
      allowed_ += unacked_;
      conn_->send(FrameType::kWindow, id_, proto::kStdin, proto::encode_window(unacked_));
      unacked_ = 0;
    }
    return {};
  }

  Status on_eof(uint8_t stream) override {
    if (stream != proto::kStdin) return Error(ErrorCode::kProtocol, "put EOF on an output stream");
    got_eof_ = true;
    auto st = commit();
    if (!st.ok()) {
      fail(std::move(st).error());
      return {};
    }
    conn_->send_response(id_, proto::to_json(proto::PutDone{size_}));
    finish();
    return {};
  }

  Status on_window(uint8_t, uint32_t) override {
    return Error(ErrorCode::kProtocol, "WINDOW on a put, which only the host sends data on");
  }
  void on_cancel() override {
    discard();
    conn_->send_response(id_, Error(ErrorCode::kCancelled, "put " + req_.path + " cancelled by the host"));
    finish();
  }
  void detach() override {
    conn_ = nullptr;
    discard();
    dead_ = true;
  }

 private:
  Status commit() {
    if (::fsync(fd_.get()) != 0) return Error::from_errno("fsync " + tmp_);
    if (::fchmod(fd_.get(), req_.mode) != 0) return Error::from_errno("chmod " + tmp_);
    if (::fchown(fd_.get(), req_.uid, req_.gid) != 0) return Error::from_errno("chown " + tmp_);
    if (::rename(tmp_.c_str(), req_.path.c_str()) != 0) return Error::from_errno("rename to " + req_.path);
    tmp_.clear();
    fd_.reset();
    std::string dir = dirname_of(req_.path);
    UniqueFd d(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (d) ::fsync(d.get());
    return {};
  }

  void discard() {
    fd_.reset();
    if (!tmp_.empty()) {
      ::unlink(tmp_.c_str());
      tmp_.clear();
    }
  }

  void fail(Error e) {
    discard();
    conn_->send_response(id_, e.wrap("put " + req_.path));
    finish();
  }

  proto::PutRequest req_;
  std::string tmp_;
  UniqueFd fd_;
  uint64_t size_ = 0;
  uint64_t allowed_ = proto::kInitialWindow;
  uint32_t unacked_ = 0;
  bool got_eof_ = false;
};

class GetOp : public SendingOp {
 public:
  GetOp(Server& s, Connection* c, uint32_t id, UniqueFd fd) : SendingOp(s, c, id, "get"), fd_(std::move(fd)) {}

  void pump() override {
    while (conn_ && !dead_ && window_ > 0 && !conn_->congested()) {
      size_t want = std::min<uint64_t>(window_, kReadChunk);
      std::string frame = new_data_frame(want);
      ssize_t n = ::read(fd_.get(), frame.data() + proto::kHeaderSize, want);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        conn_->send(FrameType::kCancel, id_, 0, proto::encode_cancel(std::string("read: ") + std::strerror(errno)));
        finish();
        return;
      }
      if (n == 0) {
        conn_->send(FrameType::kEof, id_, proto::kStdout, {});
        finish();
        return;
      }
      seal_data_frame(frame, id_, proto::kStdout, static_cast<size_t>(n));
      window_ -= static_cast<size_t>(n);
      conn_->send_frame(std::move(frame));
    }
  }

 private:
  UniqueFd fd_;
};

}  // namespace

void start_put(Server& server, Connection& conn, uint32_t channel, const proto::PutRequest& req) {
  auto op = std::make_unique<PutOp>(server, &conn, channel, req);
  if (auto st = op->open(); !st.ok()) return conn.send_response(channel, std::move(st).error().wrap("put " + req.path));
  Op* raw = server.adopt(std::move(op));
  conn.add_channel(channel, raw);
}

void start_get(Server& server, Connection& conn, uint32_t channel, const proto::GetRequest& req) {
  UniqueFd fd(::open(req.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return conn.send_response(channel, Error::from_errno("open " + req.path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return conn.send_response(channel, Error::from_errno("stat " + req.path));
  if (!S_ISREG(st.st_mode))
    return conn.send_response(channel, Error(ErrorCode::kInvalidArgument, req.path + " is not a regular file"));
  conn.send_response(channel, proto::to_json(proto::GetStarted{static_cast<uint64_t>(st.st_size), st.st_mode & 07777}));
  Op* raw = server.adopt(std::make_unique<GetOp>(server, &conn, channel, std::move(fd)));
  conn.add_channel(channel, raw);
  raw->pump();
}

Result<proto::FileStat> stat_path(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return Error::from_errno("stat " + path);
  return file_stat_at(AT_FDCWD, path.c_str(), st);
}

}  // namespace krunbox::agent
