// The REST API under /v1 (docs/api.md): routes each request to the library's
// provisioning and lifecycle. Stateless: every call reads the sandboxes'
// records and asks their monitors, so a restarted server sees what is true
// (its only state is GET /metrics's counters).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "serve/http.h"
#include "serve/metrics.h"

namespace krunbox::serve {

class Api : public Handler {
 public:
  explicit Api(std::string version) : version_(std::move(version)), metrics_(std::make_shared<ApiMetrics>()) {}
  size_t body_limit(std::string_view method, std::string_view path) const override;
  bool streams_body(std::string_view method, std::string_view path) const override;
  HttpResponse handle(const HttpRequest& request) override;

 private:
  std::string version_;
  // Shared with streamed responses, which end after handle() returns.
  std::shared_ptr<ApiMetrics> metrics_;
};

}  // namespace krunbox::serve
