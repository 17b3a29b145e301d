// The container endpoints over the library's lifecycle: create, list,
// inspect, start, stop, restart, kill, pause, unpause, wait, logs, remove.
// A container is a krunbox sandbox: what is made here shows in `krunbox ps`.
#pragma once

#include <string>

#include "docker/query.h"
#include "docker/state.h"
#include "krunbox/error.h"
#include "sandbox/lifecycle.h"
#include "serve/http.h"

namespace krunbox::docker {

struct Call {
  DockerState& state;
  const serve::HttpRequest& req;
  const DockerQuery& query;
  Lifecycle lc;
};

// An id, id prefix or name (a leading '/' allowed) -> the full id; "No such
// container" otherwise.
Result<std::string> resolve_container(Lifecycle& lc, const std::string& key);
// "sha256:..." of the image a container names, "" when it is not in the store.
std::string image_id_of(const std::string& image);

Result<serve::HttpResponse> create_container(Call& c);
Result<serve::HttpResponse> list_containers(Call& c);
Result<serve::HttpResponse> inspect_container(Call& c, const std::string& key);
// verb: start, stop, restart, kill, pause, unpause, wait, resize.
Result<serve::HttpResponse> container_action(Call& c, const std::string& key, const std::string& verb);
Result<serve::HttpResponse> remove_container(Call& c, const std::string& key);
Result<serve::HttpResponse> container_logs(Call& c, const std::string& key);

bool is_container_action(const std::string& verb);

}  // namespace krunbox::docker
