#include "image/byte_source.h"

#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#ifdef KRUNBOX_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace krunbox::image {
namespace {

constexpr size_t kInBuf = 256 << 10;

class FdSource : public ByteSource {
 public:
  explicit FdSource(int fd) : fd_(fd) {}
  Result<size_t> read(char* buf, size_t cap) override {
    for (;;) {
      ssize_t n = ::read(fd_, buf, cap);
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return Error::from_errno("read layer data");
    }
  }

 private:
  int fd_;
};

class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::string_view data) : data_(data) {}
  Result<size_t> read(char* buf, size_t cap) override {
    size_t n = std::min(cap, data_.size());
    std::memcpy(buf, data_.data(), n);
    data_.remove_prefix(n);
    return n;
  }

 private:
  std::string_view data_;
};

// Keeps bytes that were read to sniff the format and replays them first.
class PrefixedSource : public ByteSource {
 public:
  PrefixedSource(std::string prefix, std::unique_ptr<ByteSource> inner) : prefix_(std::move(prefix)), inner_(std::move(inner)) {}
  Result<size_t> read(char* buf, size_t cap) override {
    if (pos_ < prefix_.size()) {
      size_t n = std::min(cap, prefix_.size() - pos_);
      std::memcpy(buf, prefix_.data() + pos_, n);
      pos_ += n;
      return n;
    }
    return inner_->read(buf, cap);
  }

 private:
  std::string prefix_;
  size_t pos_ = 0;
  std::unique_ptr<ByteSource> inner_;
};

// Common shape of the decoders: an input buffer refilled from `inner`, an
// output counter checked against the bomb limit.
class DecoderBase : public ByteSource {
 protected:
  DecoderBase(std::unique_ptr<ByteSource> inner, uint64_t max_output, const char* name)
      : inner_(std::move(inner)), max_output_(max_output), name_(name), in_(kInBuf) {}

  Result<bool> refill() {
    KRUNBOX_ASSIGN_OR_RETURN(size_t n, inner_->read(in_.data(), in_.size()));
    in_pos_ = 0;
    in_len_ = n;
    return n > 0;
  }
  Status count(size_t n) {
    produced_ += n;
    if (produced_ > max_output_)
      return Error(ErrorCode::kLimitExceeded, std::string(name_) + " layer decompresses to more than " +
                                                  std::to_string(max_output_) + " bytes (the uncompressed layer limit)");
    return {};
  }
  Error truncated() const {
    return Error(ErrorCode::kCorrupt, std::string(name_) + " stream is truncated: the layer blob ends mid-stream");
  }

  std::unique_ptr<ByteSource> inner_;
  uint64_t max_output_;
  const char* name_;
  std::vector<char> in_;
  size_t in_pos_ = 0, in_len_ = 0;
  uint64_t produced_ = 0;
  bool eof_ = false;
};

class ZlibSource : public DecoderBase {
 public:
  ZlibSource(std::unique_ptr<ByteSource> inner, uint64_t max_output) : DecoderBase(std::move(inner), max_output, "gzip") {
    std::memset(&zs_, 0, sizeof zs_);
    ok_ = inflateInit2(&zs_, 15 + 16) == Z_OK;
  }
  ~ZlibSource() override {
    if (ok_) inflateEnd(&zs_);
  }
  Result<size_t> read(char* buf, size_t cap) override {
    if (!ok_) return Error(ErrorCode::kInternal, "zlib inflateInit2 failed");
    if (eof_ || cap == 0) return size_t{0};
    zs_.next_out = reinterpret_cast<Bytef*>(buf);
    zs_.avail_out = static_cast<uInt>(std::min<size_t>(cap, 1u << 30));
    while (zs_.avail_out > 0) {
      if (in_pos_ == in_len_) {
        if (zs_.avail_out < cap) break;  // return what we have before blocking on input
        KRUNBOX_ASSIGN_OR_RETURN(bool more, refill());
        if (!more) {
          if (member_done_) { eof_ = true; break; }
          return truncated();
        }
      }
      zs_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
      zs_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
      uInt in_before = zs_.avail_in, out_before = zs_.avail_out;
      int rc = inflate(&zs_, Z_NO_FLUSH);
      in_pos_ = in_len_ - zs_.avail_in;
      if (rc == Z_STREAM_END) {
        // Concatenated gzip members form one stream (pigz, appends).
        member_done_ = true;
        inflateReset(&zs_);
        continue;
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        return Error(ErrorCode::kCorrupt, std::string("gzip data is corrupt: ") + (zs_.msg ? zs_.msg : "inflate error"));
      if (zs_.avail_in == in_before && zs_.avail_out == out_before)
        return Error(ErrorCode::kCorrupt, "gzip data is corrupt: inflate made no progress");
      if (zs_.avail_in < in_before) member_done_ = false;
    }
    size_t n = cap - zs_.avail_out;
    KRUNBOX_TRY(count(n));
    return n;
  }

 private:
  z_stream zs_;
  bool ok_ = false;
  bool member_done_ = false;
};

#ifdef KRUNBOX_HAVE_ISAL
class IsalSource : public DecoderBase {
 public:
  IsalSource(std::unique_ptr<ByteSource> inner, uint64_t max_output) : DecoderBase(std::move(inner), max_output, "gzip") {
    isal_inflate_init(&st_);
    st_.crc_flag = ISAL_GZIP;
  }
  Result<size_t> read(char* buf, size_t cap) override {
    if (eof_ || cap == 0) return size_t{0};
    st_.next_out = reinterpret_cast<uint8_t*>(buf);
    st_.avail_out = static_cast<uint32_t>(std::min<size_t>(cap, 1u << 30));
    while (st_.avail_out > 0) {
      if (st_.block_state == ISAL_BLOCK_FINISH) {
        // One member done; another may follow (concatenated gzip).
        member_done_ = true;
        if (in_pos_ == in_len_) {
          if (st_.avail_out < cap) break;
          KRUNBOX_ASSIGN_OR_RETURN(bool more, refill());
          if (!more) { eof_ = true; break; }
        }
        isal_inflate_reset(&st_);
        st_.crc_flag = ISAL_GZIP;
        member_done_ = false;
      }
      if (in_pos_ == in_len_) {
        if (st_.avail_out < cap) break;
        KRUNBOX_ASSIGN_OR_RETURN(bool more, refill());
        if (!more) return truncated();
      }
      st_.next_in = reinterpret_cast<uint8_t*>(in_.data() + in_pos_);
      st_.avail_in = static_cast<uint32_t>(in_len_ - in_pos_);
      int rc = isal_inflate(&st_);
      in_pos_ = in_len_ - st_.avail_in;
      if (rc != ISAL_DECOMP_OK) return Error(ErrorCode::kCorrupt, "gzip data is corrupt (isa-l inflate error " + std::to_string(rc) + ")");
    }
    size_t n = cap - st_.avail_out;
    KRUNBOX_TRY(count(n));
    return n;
  }

 private:
  inflate_state st_;
  bool member_done_ = false;
};
#endif

class ZstdSource : public DecoderBase {
 public:
  ZstdSource(std::unique_ptr<ByteSource> inner, uint64_t max_output)
      : DecoderBase(std::move(inner), max_output, "zstd"), ds_(ZSTD_createDStream()) {
    ZSTD_initDStream(ds_);
  }
  ~ZstdSource() override { ZSTD_freeDStream(ds_); }
  Result<size_t> read(char* buf, size_t cap) override {
    if (eof_ || cap == 0) return size_t{0};
    ZSTD_outBuffer out{buf, cap, 0};
    while (out.pos < out.size) {
      if (in_pos_ == in_len_) {
        if (out.pos > 0) break;
        KRUNBOX_ASSIGN_OR_RETURN(bool more, refill());
        if (!more) {
          if (frame_done_) { eof_ = true; break; }
          return truncated();
        }
      }
      ZSTD_inBuffer in{in_.data(), in_len_, in_pos_};
      size_t rc = ZSTD_decompressStream(ds_, &out, &in);
      in_pos_ = in.pos;
      if (ZSTD_isError(rc)) return Error(ErrorCode::kCorrupt, std::string("zstd data is corrupt: ") + ZSTD_getErrorName(rc));
      frame_done_ = rc == 0;
    }
    KRUNBOX_TRY(count(out.pos));
    return out.pos;
  }

 private:
  ZSTD_DStream* ds_;
  bool frame_done_ = false;
};

class LimitSource : public ByteSource {
 public:
  LimitSource(std::unique_ptr<ByteSource> inner, uint64_t max) : inner_(std::move(inner)), max_(max) {}
  Result<size_t> read(char* buf, size_t cap) override {
    KRUNBOX_ASSIGN_OR_RETURN(size_t n, inner_->read(buf, cap));
    total_ += n;
    if (total_ > max_)
      return Error(ErrorCode::kLimitExceeded, "layer is larger than the uncompressed layer limit of " + std::to_string(max_) + " bytes");
    return n;
  }

 private:
  std::unique_ptr<ByteSource> inner_;
  uint64_t max_;
  uint64_t total_ = 0;
};

class HashingSource : public ByteSource {
 public:
  HashingSource(std::unique_ptr<ByteSource> inner, Sha256* hash) : inner_(std::move(inner)), hash_(hash) {}
  Result<size_t> read(char* buf, size_t cap) override {
    KRUNBOX_ASSIGN_OR_RETURN(size_t n, inner_->read(buf, cap));
    hash_->update(buf, n);
    return n;
  }

 private:
  std::unique_ptr<ByteSource> inner_;
  Sha256* hash_;
};

// Buffers circulate between the two threads and are never freed mid-stream:
// fresh megabyte allocations would be fresh mmaps, and their page faults
// cost more than the copying.
class ReadAheadSource : public ByteSource {
 public:
  ReadAheadSource(std::unique_ptr<ByteSource> inner, Sha256* hash, size_t chunk, size_t depth)
      : inner_(std::move(inner)), hash_(hash), chunk_(chunk) {
    for (size_t i = 0; i < depth + 1; ++i) free_.emplace_back(std::vector<char>(chunk_));
    worker_ = std::thread([this] { run(); });
  }
  ~ReadAheadSource() override {
    {
      std::lock_guard lk(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }
  Result<size_t> read(char* buf, size_t cap) override {
    std::unique_lock lk(mu_);
    cv_.wait(lk, [&] { return !full_.empty() || done_; });
    if (full_.empty()) {
      if (error_) return *error_;
      return size_t{0};
    }
    Chunk& front = full_.front();
    size_t n = std::min(cap, front.size - front_pos_);
    std::memcpy(buf, front.data.data() + front_pos_, n);
    front_pos_ += n;
    if (front_pos_ == front.size) {
      free_.push_back(std::move(front.data));
      full_.pop_front();
      front_pos_ = 0;
      cv_.notify_all();
    }
    return n;
  }

 private:
  struct Chunk {
    std::vector<char> data;
    size_t size;
  };

  void run() {
    for (;;) {
      std::vector<char> buf;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return !free_.empty() || stop_; });
        if (stop_) return;
        buf = std::move(free_.front());
        free_.pop_front();
      }
      size_t filled = 0;
      std::optional<Error> err;
      while (filled < chunk_) {
        auto r = inner_->read(buf.data() + filled, chunk_ - filled);
        if (!r.ok()) {
          err = std::move(r).error();
          break;
        }
        if (*r == 0) break;
        filled += *r;
      }
      if (hash_ && filled) hash_->update(buf.data(), filled);
      std::lock_guard lk(mu_);
      if (filled) full_.push_back({std::move(buf), filled});
      if (err || filled < chunk_) {
        error_ = std::move(err);
        done_ = true;
      }
      cv_.notify_all();
      if (done_) return;
    }
  }

  std::unique_ptr<ByteSource> inner_;
  Sha256* hash_;
  size_t chunk_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<char>> free_;
  std::deque<Chunk> full_;
  size_t front_pos_ = 0;
  bool done_ = false, stop_ = false;
  std::optional<Error> error_;
  std::thread worker_;
};

}  // namespace

std::unique_ptr<ByteSource> fd_source(int fd) { return std::make_unique<FdSource>(fd); }
std::unique_ptr<ByteSource> memory_source(std::string_view data) { return std::make_unique<MemorySource>(data); }
std::unique_ptr<ByteSource> hashing_source(std::unique_ptr<ByteSource> inner, Sha256* hash) {
  return std::make_unique<HashingSource>(std::move(inner), hash);
}
std::unique_ptr<ByteSource> read_ahead_source(std::unique_ptr<ByteSource> inner, Sha256* hash, size_t chunk, size_t depth) {
  return std::make_unique<ReadAheadSource>(std::move(inner), hash, chunk, depth);
}

std::string_view to_string(Inflater inflater) {
  switch (inflater) {
    case Inflater::kAuto: return "auto";
    case Inflater::kZlib: return "zlib";
    case Inflater::kIsal: return "isal";
  }
  return "?";
}

bool inflater_available(Inflater inflater) {
#ifdef KRUNBOX_HAVE_ISAL
  return true;
#else
  return inflater != Inflater::kIsal;
#endif
}

Result<std::unique_ptr<ByteSource>> decompressing_source(std::unique_ptr<ByteSource> inner, uint64_t max_output,
                                                         Inflater inflater) {
  std::string magic;
  magic.resize(4);
  size_t got = 0;
  while (got < magic.size()) {
    KRUNBOX_ASSIGN_OR_RETURN(size_t n, inner->read(magic.data() + got, magic.size() - got));
    if (n == 0) break;
    got += n;
  }
  magic.resize(got);
  auto src = std::make_unique<PrefixedSource>(magic, std::move(inner));
  auto u8 = [&](size_t i) { return static_cast<unsigned char>(magic[i]); };
  if (got >= 2 && u8(0) == 0x1f && u8(1) == 0x8b) {
    if (inflater == Inflater::kIsal && !inflater_available(Inflater::kIsal))
      return Error(ErrorCode::kUnavailable, "the isa-l inflater is not built into this krunbox");
#ifdef KRUNBOX_HAVE_ISAL
    if (inflater != Inflater::kZlib) return std::unique_ptr<ByteSource>(std::make_unique<IsalSource>(std::move(src), max_output));
#endif
    return std::unique_ptr<ByteSource>(std::make_unique<ZlibSource>(std::move(src), max_output));
  }
  if (got >= 4 && u8(0) == 0x28 && u8(1) == 0xb5 && u8(2) == 0x2f && u8(3) == 0xfd)
    return std::unique_ptr<ByteSource>(std::make_unique<ZstdSource>(std::move(src), max_output));
  return std::unique_ptr<ByteSource>(std::make_unique<LimitSource>(std::move(src), max_output));
}

}  // namespace krunbox::image
