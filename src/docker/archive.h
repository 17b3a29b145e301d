// HEAD, GET and PUT /containers/{id}/archive?path=: what docker cp moves,
// over the library's archives (sandbox/archive.h), with Docker's
// X-Docker-Container-Path-Stat header. The container must be running.
#pragma once

#include <cstdint>
#include <string>

#include "base/json.h"
#include "docker/containers.h"
#include "sandbox/files_client.h"
#include "serve/http.h"

namespace krunbox::docker {

// The stat as Docker sends it: {name, size, mode (Go's os.FileMode bits),
// mtime (RFC 3339), linkTarget}.
Json path_stat_json(const std::string& path, const FileStat& st);
uint32_t go_file_mode(const FileStat& st);

Result<serve::HttpResponse> archive_endpoint(Call& c, const std::string& key);

}  // namespace krunbox::docker
