// A sandbox as Docker's clients read a container: the inspect document
// (GET /containers/{id}/json) and the list entry (GET /containers/json).
#pragma once

#include <cstdint>
#include <string>

#include "base/json.h"
#include "sandbox/lifecycle.h"

namespace krunbox::docker {

// Docker's state word: created, running, paused, restarting, exited.
std::string docker_state(const SandboxView& view);
// "Up 5 seconds", "Exited (3) 2 minutes ago", "Created", as docker ps shows it.
std::string docker_status_text(const SandboxView& view, int64_t now);
// The main process's exit code as Docker reports it (0 until it ends; 125
// when the sandbox crashed under it).
int docker_exit_code(const SandboxView& view);
// "/name" (the short id when it has no name).
std::string docker_name(const SandboxView& view);
// RFC 3339 with nanoseconds in UTC; Docker's zero time for 0.
std::string rfc3339(int64_t unix_seconds);
// Go's time.Duration-like words Docker uses: "5 seconds", "About a minute".
std::string human_duration(int64_t seconds);

// `image_id`: "sha256:..." of the image in the store, "" when unknown.
Json container_inspect(const SandboxView& view, const std::string& image_id, const std::string& log_path, int64_t now);
Json container_summary(const SandboxView& view, const std::string& image_id, int64_t now);

}  // namespace krunbox::docker
