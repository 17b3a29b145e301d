#include "sandbox/output_ring.h"

#include <algorithm>

namespace krunbox {

void OutputRing::append(OutputStream stream, std::string_view data) {
  if (data.empty()) return;
  {
    std::lock_guard lock(mu_);
    if (data.size() > max_bytes_) {
      // Only the tail fits; the head counts as written and dropped.
      end_ += data.size() - max_bytes_;
      data.remove_prefix(data.size() - max_bytes_);
    }
    if (!chunks_.empty() && chunks_.back().stream == stream && chunks_.back().data.size() < 4096) {
      chunks_.back().data.append(data);
    } else {
      chunks_.push_back({stream, end_, std::string(data)});
    }
    end_ += data.size();
    kept_ += data.size();
    while (kept_ > max_bytes_) {
      OutputChunk& front = chunks_.front();
      size_t over = kept_ - max_bytes_;
      if (front.data.size() <= over) {
        kept_ -= front.data.size();
        chunks_.pop_front();
      } else {
        front.data.erase(0, over);
        front.offset += over;
        kept_ -= over;
      }
    }
  }
  cv_.notify_all();
}

void OutputRing::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

uint64_t OutputRing::end() const {
  std::lock_guard lock(mu_);
  return end_;
}

OutputRing::Read OutputRing::read(uint64_t offset, size_t max, std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  if (wait.count() > 0) cv_.wait_for(lock, wait, [&] { return closed_ || end_ > offset; });
  Read r;
  r.first_kept = chunks_.empty() ? end_ : chunks_.front().offset;
  // Before the kept window: from its start; past the end: at the end.
  uint64_t at = std::min(std::max(offset, r.first_kept), end_);
  for (const auto& c : chunks_) {
    if (max == 0) break;
    if (c.offset + c.data.size() <= at) continue;
    size_t skip = static_cast<size_t>(at - c.offset);
    size_t n = std::min(max, c.data.size() - skip);
    r.chunks.push_back({c.stream, at, c.data.substr(skip, n)});
    at += n;
    max -= n;
  }
  r.end = at;
  r.closed = closed_ && r.end >= end_;
  return r;
}

}  // namespace krunbox
