// The one Handler behind `krunbox serve --e2b`: E2B's control plane and
// every sandbox's envd on one listener. A request with an E2b-Sandbox-Id
// header (or a Host of PORT-ID.DOMAIN, as a wildcard-DNS reverse proxy
// forwards it) is for that sandbox's envd and needs its access token
// (X-Access-Token); any other is for the control plane and needs a known
// API key (X-API-Key).
#pragma once

#include <string>
#include <string_view>

#include "e2b/control_plane.h"
#include "e2b/keys.h"
#include "e2b/process_service.h"
#include "e2b/watch_dir.h"
#include "serve/http.h"

namespace krunbox::e2b {

// The sandbox an envd request is for, from its E2b-Sandbox-Id header or
// its Host ("49983-<id>.<domain>[:port]"); empty for a control-plane request.
std::string sandbox_of_request(const serve::HttpRequest& request);

class E2bHandler : public serve::Handler {
 public:
  E2bHandler(E2bOptions options, Keys keys) : options_(std::move(options)), keys_(std::move(keys)) {}
  size_t body_limit(std::string_view method, std::string_view path) const override;
  // Uploads and StreamInput's client stream reach their handlers as they come.
  bool streams_body(std::string_view method, std::string_view path) const override;
  serve::HttpResponse handle(const serve::HttpRequest& request) override;

 private:
  serve::HttpResponse envd(const serve::HttpRequest& request, const std::string& sandbox);

  E2bOptions options_;
  Keys keys_;
  ProcessService processes_;
  Watchers watchers_;
};

}  // namespace krunbox::e2b
