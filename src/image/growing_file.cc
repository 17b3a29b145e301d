#include "image/growing_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

namespace krunbox::image {

constexpr uint64_t kWakeBytes = 128 << 10;

class GrowingFile::Reader : public ByteSource {
 public:
  explicit Reader(std::shared_ptr<GrowingFile> file) : file_(std::move(file)) {
    std::lock_guard<std::mutex> g(file_->mu_);
    generation_ = file_->generation_;
  }

  Result<size_t> read(char* buf, size_t cap) override {
    GrowingFile& f = *file_;
    size_t n = 0;
    {
      std::unique_lock<std::mutex> g(f.mu_);
      // Waking for every chunk the download writes would cost a context
      // switch each; the decoders read 256 KiB at a time anyway.
      uint64_t want = std::min<uint64_t>(cap, kWakeBytes);
      f.cv_.wait(g, [&] { return f.written_ >= offset_ + want || f.outcome_ || f.generation_ != generation_; });
      KRUNBOX_TRY(check(g));
      if (f.written_ <= offset_) return 0;  // finished, and everything was read
      n = static_cast<size_t>(std::min<uint64_t>(cap, f.written_ - offset_));
    }
    ssize_t got;
    do {
      got = ::pread(f.fd_.get(), buf, n, static_cast<off_t>(offset_));
    } while (got < 0 && errno == EINTR);
    if (got < 0) return Error::from_errno("read " + f.name_ + " while it downloads");
    // A restart may have truncated the file under the pread: the bytes are
    // only good if no restart happened since the check above.
    {
      std::unique_lock<std::mutex> g(f.mu_);
      KRUNBOX_TRY(check(g));
    }
    if (got == 0) return Error(ErrorCode::kIllegalState, f.name_ + " is shorter than its writer reported");
    offset_ += static_cast<uint64_t>(got);
    return static_cast<size_t>(got);
  }

 private:
  Status check(std::unique_lock<std::mutex>&) const {
    const GrowingFile& f = *file_;
    if (f.generation_ != generation_)
      return Error(ErrorCode::kCancelled, "the download of " + f.name_ + " started over; what was read of it is void");
    if (f.outcome_ && !f.outcome_->ok()) return f.outcome_->error();
    return {};
  }

  std::shared_ptr<GrowingFile> file_;
  unsigned generation_ = 0;
  uint64_t offset_ = 0;
};

Result<std::shared_ptr<GrowingFile>> GrowingFile::open(int fd, std::string name) {
  UniqueFd dup(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!dup) return Error::from_errno("duplicate the descriptor of " + name);
  return std::shared_ptr<GrowingFile>(new GrowingFile(std::move(dup), std::move(name)));
}

void GrowingFile::appended(uint64_t total_bytes) {
  {
    std::lock_guard<std::mutex> g(mu_);
    written_ = total_bytes;
  }
  cv_.notify_all();
}

void GrowingFile::restarting() {
  {
    std::lock_guard<std::mutex> g(mu_);
    ++generation_;
    written_ = 0;
  }
  cv_.notify_all();
}

void GrowingFile::finished(const Status& outcome) {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!outcome_) outcome_ = outcome;
  }
  cv_.notify_all();
}

Status GrowingFile::wait_finished() {
  std::unique_lock<std::mutex> g(mu_);
  cv_.wait(g, [&] { return outcome_.has_value(); });
  return *outcome_;
}

bool GrowingFile::has_restarted() const {
  std::lock_guard<std::mutex> g(mu_);
  return generation_ != 0;
}

std::unique_ptr<ByteSource> GrowingFile::reader() {
  return std::make_unique<Reader>(shared_from_this());
}

}  // namespace krunbox::image
