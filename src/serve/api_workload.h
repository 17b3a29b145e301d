// The endpoints that reach into a running sandbox (exec, files), apart from
// api.cc's lifecycle routes. Internal to the API.
#pragma once

#include <limits>
#include <string>
#include <vector>

#include "krunbox/error.h"
#include "sandbox/lifecycle.h"
#include "serve/exec_call.h"
#include "serve/http.h"

namespace krunbox::serve {

// POST .../exec; `id` resolved.
Result<HttpResponse> exec_endpoint(Lifecycle& lifecycle, const std::string& id, const HttpRequest& request);
// GET|PUT|DELETE .../files, GET .../files/stat|list, POST .../files/mkdir|move.
Result<HttpResponse> files_endpoint(Lifecycle& lifecycle, const std::string& id, const HttpRequest& request);
Result<HttpResponse> stat_endpoint(Lifecycle& lifecycle, const std::string& id, const HttpRequest& request);
Result<HttpResponse> list_endpoint(Lifecycle& lifecycle, const std::string& id, const HttpRequest& request);
Result<HttpResponse> mkdir_endpoint(Lifecycle& lifecycle, const std::string& id, const HttpRequest& request);
Result<HttpResponse> move_endpoint(Lifecycle& lifecycle, const std::string& id, const HttpRequest& request);
// GET|PUT .../archive?path=: a tar of a path out, or one extracted into a directory.
Result<HttpResponse> archive_endpoint(Lifecycle& lifecycle, const std::string& id, const HttpRequest& request);

// Background commands (api_execs.cc): POST .../exec with background:true,
// and GET .../execs, GET|POST .../execs/{exec_id}[/ACTION].
Result<HttpResponse> start_background_exec(Lifecycle& lifecycle, const std::string& id, ExecParams params);
Result<HttpResponse> execs_endpoint(Lifecycle& lifecycle, const std::string& id, const std::vector<std::string>& rest,
                                    const HttpRequest& request);

// PUT .../files and .../archive stream their bodies into the sandbox
// (HttpRequest::body_source), and GET streams the file out: no size limit
// but the sandbox's disk.
inline constexpr size_t kUnlimitedBody = std::numeric_limits<size_t>::max();

}  // namespace krunbox::serve
