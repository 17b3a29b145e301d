// Docker's execs and attach over the library: an exec is a kept background
// command (kept_exec.h), started when it is created and attached to by
// /exec/{id}/start, so its id (the container's and the monitor's ids in
// one) survives a restart of the server. Attach streams the main process's
// output from its log. Both take the connection over (101, Upgrade: tcp)
// and frame output with stdcopy unless there is a TTY.
#pragma once

#include <string>

#include "docker/containers.h"
#include "krunbox/error.h"
#include "serve/http.h"

namespace krunbox::docker {

// The Docker exec id of kept exec `exec_id` (16 hex) in sandbox `id`
// (64 hex): the sandbox's first 48 digits, then the kept exec's.
std::string docker_exec_id(const std::string& id, const std::string& exec_id);
struct ExecRef {
  std::string sandbox_prefix;  // 48 hex digits
  std::string exec_id;         // 16
};
Result<ExecRef> parse_docker_exec_id(const std::string& docker_id);

Result<serve::HttpResponse> create_exec(Call& c, const std::string& key);
Result<serve::HttpResponse> start_exec(Call& c, const std::string& exec_id);
Result<serve::HttpResponse> inspect_exec(Call& c, const std::string& exec_id);
Result<serve::HttpResponse> resize_exec(Call& c, const std::string& exec_id);
Result<serve::HttpResponse> attach_container(Call& c, const std::string& key);

}  // namespace krunbox::docker
