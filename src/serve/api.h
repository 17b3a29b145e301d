// The REST API under /v1 (docs/api.md): routes each request to the library's
// provisioning and lifecycle. Stateless: every call reads the sandboxes'
// records and asks their monitors, so a restarted server sees what is true.
#pragma once

#include <string>
#include <string_view>

#include "serve/http.h"

namespace krunbox::serve {

class Api : public Handler {
 public:
  explicit Api(std::string version) : version_(std::move(version)) {}
  size_t body_limit(std::string_view method, std::string_view path) const override;
  HttpResponse handle(const HttpRequest& request) override;

 private:
  std::string version_;
};

}  // namespace krunbox::serve
