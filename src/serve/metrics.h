// What `GET /metrics` reports, in Prometheus's text format: the sandboxes by
// state (read from their records at scrape time, so true after a restart),
// and this server's own counters since it started: requests by status,
// and how long execs and creates took. Thread-safe.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "sandbox/lifecycle.h"

namespace krunbox::serve {

class Histogram {
 public:
  // Upper bounds in seconds, the last one +Inf.
  static constexpr std::array<double, 13> kBounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                     0.25,  0.5,    1,     2.5,  10,    60};
  void observe(std::chrono::duration<double> d);
  // `name`_bucket/_sum/_count lines, after its HELP and TYPE lines.
  std::string text(const std::string& name, const std::string& help) const;
  // Only the sample lines, each with `labels` (`backend="qemu"`) added.
  std::string samples(const std::string& name, const std::string& labels) const;

 private:
  mutable std::mutex mu_;
  std::array<uint64_t, kBounds.size() + 1> counts_{};
  double sum_ = 0;
  uint64_t count_ = 0;
};

class ApiMetrics {
 public:
  enum class Kind { kOther, kExec, kCreate };
  void record(Kind kind, int status, std::chrono::duration<double> took);
  // A sandbox's start through the API, from the request to running, by
  // the backend it runs on: the boot time users meet.
  void record_start(const std::string& backend, std::chrono::duration<double> took);
  void record_background_exec();
  // The whole scrape, with the sandboxes counted from `lifecycle`.
  std::string text(Lifecycle& lifecycle) const;

 private:
  mutable std::mutex mu_;
  std::map<int, uint64_t> requests_;  // by HTTP status
  Histogram exec_;
  Histogram create_;
  std::map<std::string, Histogram> starts_;  // by backend; under mu_ (each is thread-safe itself)
  std::atomic<uint64_t> background_execs_{0};
};

}  // namespace krunbox::serve
