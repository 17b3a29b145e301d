// The Docker API's parsers of what a client sends: paths, query strings,
// filters, signals, container configs, event filters and times, and the
// route table.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "docker/container_create.h"
#include "docker/docker_api.h"
#include "docker/events.h"
#include "docker/exec.h"
#include "docker/query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace krunbox::docker;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)parse_docker_path(in);
  for (auto m : {"GET", "POST", "DELETE", "HEAD", "PUT"}) (void)route_name(m, in);
  if (auto q = DockerQuery::parse(in); q.ok()) {
    (void)q->flag("all");
    (void)q->integer("t", -1, 3600);
  }
  (void)parse_filters(in);
  (void)parse_signal(in);
  (void)map_create(in, in.substr(0, 16));
  (void)parse_docker_exec_id(std::string(in));
  if (auto f = EventFilter::parse(in); f.ok())
    (void)f->matches({.type = "container", .action = "die", .id = std::string(in.substr(0, 64)), .attributes = {{"name", "x"}}});
  (void)parse_event_time(in);
  return 0;
}
