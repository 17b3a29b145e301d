// The Docker Engine API slice (docs/docker-api.md) behind `krunbox serve
// --docker-socket`: the routes, with or without a "/v1.NN" prefix, over the
// container, exec, archive and image endpoints. Errors are Docker's
// {"message": "..."}.
#pragma once

#include <string>
#include <string_view>

#include "docker/state.h"
#include "serve/http.h"

namespace krunbox::docker {

class DockerApi : public serve::Handler {
 public:
  explicit DockerApi(std::string version) : version_(std::move(version)) {}
  size_t body_limit(std::string_view method, std::string_view path) const override;
  // docker cp's uploads stream into the sandbox, of any size.
  bool streams_body(std::string_view method, std::string_view path) const override;
  serve::HttpResponse handle(const serve::HttpRequest& request) override;
  // Starts following the sandboxes' records for GET /events, so `since`
  // can replay what happened before a client asked.
  void record_events() { state_.events.start(); }

 private:
  std::string version_;
  DockerState state_;
};

// The route a request takes, without running it: for tests and the fuzzer.
// "" when there is none (404), "!" when the method is wrong (405).
std::string route_name(std::string_view method, std::string_view path);

}  // namespace krunbox::docker
