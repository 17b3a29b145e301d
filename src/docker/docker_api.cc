#include "docker/docker_api.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <thread>

#include "base/json.h"
#include "base/paths.h"
#include "docker/archive.h"
#include "docker/container_json.h"
#include "docker/containers.h"
#include "docker/errors.h"
#include "docker/events.h"
#include "docker/exec.h"
#include "docker/images.h"
#include "docker/query.h"
#include "image/image_store.h"
#include "sandbox/image_root.h"
#include "serve/api_workload.h"
#include "serve/request_parse.h"
#include "serve/responses.h"

namespace krunbox::docker {
namespace {

using serve::HttpRequest;
using serve::HttpResponse;

std::string arch() {
  struct utsname u{};
  if (::uname(&u) != 0) return "amd64";
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  return m;
}

std::string kernel() {
  struct utsname u{};
  return ::uname(&u) == 0 ? u.release : "";
}

void ping_headers(HttpResponse& r) {
  r.headers.emplace_back("API-Version", kApiVersion);
  r.headers.emplace_back("OSType", "linux");
  r.headers.emplace_back("Docker-Experimental", "false");
  r.headers.emplace_back("Cache-Control", "no-cache, no-store, must-revalidate");
  r.headers.emplace_back("Pragma", "no-cache");
}

HttpResponse version_doc(const std::string& version) {
  Json details = {{"ApiVersion", kApiVersion}, {"MinAPIVersion", kMinApiVersion}, {"Os", "linux"}, {"Arch", arch()},
                  {"KernelVersion", kernel()}, {"GitCommit", ""}};
  return serve::json_response(
      200, {{"Platform", {{"Name", "krunbox " + version}}},
            {"Components", {{{"Name", "Engine"}, {"Version", version}, {"Details", details}}}},
            {"Version", version},
            {"ApiVersion", kApiVersion},
            {"MinAPIVersion", kMinApiVersion},
            {"GitCommit", ""},
            {"GoVersion", ""},
            {"Os", "linux"},
            {"Arch", arch()},
            {"KernelVersion", kernel()},
            {"BuildTime", ""}});
}

Result<HttpResponse> info_doc(const std::string& version) {
  Lifecycle lc;
  KRUNBOX_ASSIGN_OR_RETURN(auto views, lc.list());
  size_t running = 0, paused = 0, stopped = 0;
  for (const auto& v : views) {
    auto s = v.status.state;
    if (s == SandboxState::kRunning || s == SandboxState::kStarting) ++running;
    else if (s == SandboxState::kPaused) ++paused;
    else ++stopped;
  }
  size_t images = 0;
  if (auto store = open_image_store(); store)
    if (auto list = (*store)->list(); list) images = list->size();
  char host[256] = {};
  (void)::gethostname(host, sizeof host - 1);
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return serve::json_response(
      200, {{"ID", ""},
            {"Containers", views.size()},
            {"ContainersRunning", running},
            {"ContainersPaused", paused},
            {"ContainersStopped", stopped},
            {"Images", images},
            {"Driver", "krunbox"},
            {"DriverStatus", Json::array()},
            {"Plugins", {{"Volume", Json::array()}, {"Network", Json::array()}, {"Log", {"json-file"}}}},
            {"MemoryLimit", true},
            {"SwapLimit", false},
            {"CpuCfsPeriod", true},
            {"CpuCfsQuota", true},
            {"PidsLimit", true},
            {"IPv4Forwarding", false},
            {"Debug", false},
            {"NFd", 0},
            {"NGoroutines", 0},
            {"SystemTime", rfc3339(unix_now())},
            {"LoggingDriver", "json-file"},
            {"CgroupDriver", "none"},
            {"CgroupVersion", "2"},
            {"NEventsListener", 0},
            {"KernelVersion", kernel()},
            {"OperatingSystem", "krunbox " + version},
            {"OSType", "linux"},
            {"Architecture", arch()},
            {"NCPU", std::thread::hardware_concurrency()},
            {"MemTotal", static_cast<int64_t>(pages) * page},
            {"IndexServerAddress", "https://index.docker.io/v1/"},
            {"DockerRootDir", data_root()},
            {"Name", host},
            {"Labels", Json::array()},
            {"ExperimentalBuild", false},
            {"ServerVersion", version},
            {"Runtimes", Json::object()},
            {"DefaultRuntime", "krunbox"},
            {"Swarm", {{"LocalNodeState", "inactive"}, {"ControlAvailable", false}, {"NodeID", ""}, {"NodeAddr", ""}}},
            {"LiveRestoreEnabled", true},
            {"Isolation", ""},
            {"SecurityOptions", Json::array()},
            {"Warnings", Json::array()}});
}

struct Route {
  std::string name;  // "" none, "!" wrong method
  std::string arg;   // the container, exec or image named in the path
  std::string allow;
};

// The one table of routes.
Route match(std::string_view method, const std::vector<std::string>& s) {
  auto is = [&](const char* m) { return method == m; };
  auto want = [&](std::initializer_list<const char*> methods, const std::string& name, std::string arg = "") {
    std::string allow;
    for (const char* m : methods) {
      allow += (allow.empty() ? "" : ", ") + std::string(m);
      if (is(m) || (std::string_view(m) == "GET" && is("HEAD") && name == "ping")) return Route{name, arg, allow};
    }
    return Route{"!", "", allow};
  };
  size_t n = s.size();
  if (n == 0) return {};
  if (n == 1 && s[0] == "_ping") return want({"GET", "HEAD"}, "ping");
  if (n == 1 && s[0] == "version") return want({"GET"}, "version");
  if (n == 1 && s[0] == "info") return want({"GET"}, "info");
  if (n == 1 && s[0] == "events") return want({"GET"}, "events");
  if (s[0] == "containers") {
    if (n == 2 && s[1] == "create") return want({"POST"}, "create");
    if (n == 2 && s[1] == "json") return want({"GET"}, "list");
    if (n == 2) return want({"DELETE"}, "remove", s[1]);
    if (n != 3) return {};
    const std::string& verb = s[2];
    if (verb == "json") return want({"GET"}, "inspect", s[1]);
    if (verb == "logs") return want({"GET"}, "logs", s[1]);
    if (verb == "attach") return want({"POST"}, "attach", s[1]);
    if (verb == "exec") return want({"POST"}, "exec-create", s[1]);
    if (verb == "archive") return want({"HEAD", "GET", "PUT"}, "archive", s[1]);
    if (is_container_action(verb)) return want({"POST"}, verb, s[1]);
    return {};
  }
  if (s[0] == "exec" && n == 3) {
    if (s[2] == "start") return want({"POST"}, "exec-start", s[1]);
    if (s[2] == "json") return want({"GET"}, "exec-inspect", s[1]);
    if (s[2] == "resize") return want({"POST"}, "exec-resize", s[1]);
    return {};
  }
  if (s[0] == "images") {
    if (n == 2 && s[1] == "json") return want({"GET"}, "images");
    if (n == 2 && s[1] == "create") return want({"POST"}, "pull");
    if (n == 2 && s[1] == "load") return want({"POST"}, "load");
    // Names hold '/': everything between "images" and "json" is the name.
    std::string name;
    size_t last = s.back() == "json" && n > 2 ? n - 1 : n;
    for (size_t i = 1; i < last; ++i) name += (name.empty() ? "" : "/") + s[i];
    if (last == n - 1) return want({"GET"}, "image-inspect", name);
    return want({"DELETE"}, "image-remove", name);
  }
  return {};
}

Result<HttpResponse> dispatch(const Route& r, Call& c, const std::string& version) {
  const std::string& n = r.name;
  if (n == "ping") {
    HttpResponse p;
    p.content_type = "text/plain; charset=utf-8";
    if (c.req.method != "HEAD") p.body = "OK";
    ping_headers(p);
    return p;
  }
  if (n == "version") return version_doc(version);
  if (n == "info") return info_doc(version);
  if (n == "events") return events_endpoint(c.state.events, c.query);
  if (n == "create") return create_container(c);
  if (n == "list") return list_containers(c);
  if (n == "remove") return remove_container(c, r.arg);
  if (n == "inspect") return inspect_container(c, r.arg);
  if (n == "logs") return container_logs(c, r.arg);
  if (n == "attach") return attach_container(c, r.arg);
  if (n == "exec-create") return create_exec(c, r.arg);
  if (n == "archive") return archive_endpoint(c, r.arg);
  if (n == "exec-start") return start_exec(c, r.arg);
  if (n == "exec-inspect") return inspect_exec(c, r.arg);
  if (n == "exec-resize") return resize_exec(c, r.arg);
  if (n == "images") return list_images(c);
  if (n == "pull") return pull_image(c);
  if (n == "load") return load_image(c);
  if (n == "image-inspect") return inspect_image(c, r.arg);
  if (n == "image-remove") return remove_image(c, r.arg);
  return container_action(c, r.arg, n);
}

}  // namespace

std::string route_name(std::string_view method, std::string_view path) {
  auto p = parse_docker_path(path);
  if (!p) return "";
  return match(method, p->segments).name;
}

bool DockerApi::streams_body(std::string_view method, std::string_view path) const {
  return (method == "PUT" && path.ends_with("/archive")) || (method == "POST" && path.ends_with("/images/load"));
}

size_t DockerApi::body_limit(std::string_view method, std::string_view path) const {
  if (streams_body(method, path)) return serve::kUnlimitedBody;
  return serve::kMaxJsonBody;
}

HttpResponse DockerApi::handle(const HttpRequest& request) {
  auto path = parse_docker_path(request.path);
  if (!path) return docker_error(path.error());
  Route route = match(request.method, path->segments);
  if (route.name.empty()) return docker_error(404, "page not found");
  if (route.name == "!") {
    HttpResponse r = docker_error(405, request.method + " is not allowed on " + request.path.substr(0, 256));
    r.headers.emplace_back("Allow", route.allow);
    return r;
  }
  auto query = DockerQuery::parse(request.query);
  if (!query) return docker_error(query.error());
  Call call{state_, request, *query, Lifecycle()};
  auto r = dispatch(route, call, version_);
  HttpResponse out = r ? std::move(*r) : docker_error(r.error());
  if (route.name == "ping") return out;
  out.headers.emplace_back("API-Version", kApiVersion);
  return out;
}

}  // namespace krunbox::docker
