#include "serve/api.h"

#include <optional>
#include <vector>

#include "base/json.h"
#include "sandbox/lifecycle.h"
#include "sandbox/provision.h"
#include "sandbox/checkpointing.h"
#include "serve/api_events.h"
#include "serve/api_checkpoints.h"
#include "serve/api_images.h"
#include "serve/api_workload.h"
#include "serve/errors.h"
#include "serve/request_parse.h"
#include "serve/responses.h"
#include "serve/sandbox_doc.h"

namespace krunbox::serve {
namespace {

HttpResponse no_route(const HttpRequest& req) {
  return error_response(404, "no_route",
                        "there is no endpoint " + req.path + "; see docs/api.md for the API under /v1");
}

HttpResponse bad_method(const HttpRequest& req, std::string allow) {
  HttpResponse r =
      error_response(405, "method_not_allowed", req.method + " is not allowed on " + req.path + "; allowed: " + allow);
  r.headers.emplace_back("Allow", std::move(allow));
  return r;
}

// The path's segments after "/v1", each %-decoded; nullopt when the path is
// not under /v1 or has empty segments ("//", a trailing "/").
Result<std::optional<std::vector<std::string>>> split_path(std::string_view path) {
  constexpr std::string_view kPrefix = "/v1/";
  if (path.substr(0, kPrefix.size()) != kPrefix) return std::optional<std::vector<std::string>>();
  std::vector<std::string> out;
  std::string_view rest = path.substr(kPrefix.size());
  for (;;) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.empty()) return std::optional<std::vector<std::string>>();
    KRUNBOX_ASSIGN_OR_RETURN(std::string decoded, percent_decode(seg, "the path"));
    out.push_back(std::move(decoded));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

// A create body's from_checkpoint as the library's request.
RestoreRequest restore_request(const CreateBody& body) {
  RestoreRequest r;
  r.checkpoint = body.from_checkpoint;
  r.name = body.request.provision.base.name;
  r.labels = body.request.labels;
  r.restart = body.request.restart;
  r.ttl = body.request.ttl;
  r.idle_timeout = body.request.idle_timeout;
  return r;
}

// Sandbox endpoints, the id already checked.
class SandboxCalls {
 public:
  explicit SandboxCalls(ApiMetrics& metrics) : metrics_(metrics) {}

  Result<HttpResponse> create(const HttpRequest& req) {
    KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
    (void)query;
    KRUNBOX_ASSIGN_OR_RETURN(CreateBody body, parse_create_body(req.body));
    std::optional<std::chrono::duration<double>> start_took;
    auto id = body.from_checkpoint.empty() ? create_sandbox(lc_, std::move(body.request))
                                           : create_from_checkpoint(lc_, restore_request(body));
    if (!id) return std::move(id).error();
    if (body.start) {
      // The monitor holds the secrets since create; start needs them only for
      // a new monitor.
      auto started = std::chrono::steady_clock::now();
      if (auto st = lc_.start(*id, {}); !st.ok()) {
        (void)lc_.remove(*id, true);
        return std::move(st).error().wrap("starting the new sandbox " + id->substr(0, 12) + " (it was removed)");
      }
      start_took = std::chrono::steady_clock::now() - started;
    }
    KRUNBOX_ASSIGN_OR_RETURN(SandboxView view, lc_.view(*id));
    if (start_took) metrics_.record_start(view.config.backend, *start_took);
    HttpResponse r = json_response(201, sandbox_document(view));
    r.headers.emplace_back("Location", "/v1/sandboxes/" + *id);
    return r;
  }

  Result<HttpResponse> list(const HttpRequest& req) {
    KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {"label"}));
    KRUNBOX_ASSIGN_OR_RETURN(auto filters, parse_label_filters(query));
    KRUNBOX_ASSIGN_OR_RETURN(auto views, lc_.list());
    Json out = Json::array();
    for (const auto& v : views)
      if (matches_labels(v.config.labels, filters)) out.push_back(sandbox_document(v));
    return json_response(200, out);
  }

  Result<HttpResponse> get(const std::string& key, const HttpRequest& req) {
    KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
    (void)query;
    KRUNBOX_ASSIGN_OR_RETURN(std::string id, lc_.resolve(key));
    return document(id);
  }

  Result<HttpResponse> remove(const std::string& key, const HttpRequest& req) {
    KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, {}));
    (void)query;
    KRUNBOX_TRY(check_no_body(req.body));
    KRUNBOX_ASSIGN_OR_RETURN(std::string id, lc_.resolve(key));
    KRUNBOX_ASSIGN_OR_RETURN(auto swept, lc_.remove(id, /*force=*/true));
    (void)swept;
    return no_content();
  }

  Result<HttpResponse> action(const std::string& key, const std::string& verb, const HttpRequest& req) {
    std::vector<std::string_view> allowed;
    if (verb == "stop") allowed = {"timeout"};
    if (verb == "kill") allowed = {"signal"};
    if (verb == "pause") allowed = {"to_disk"};
    KRUNBOX_ASSIGN_OR_RETURN(auto query, parse_query(req.query, allowed));
    std::vector<Secret> secrets;
    std::chrono::seconds ttl{0};
    if (verb == "timeout") {
      KRUNBOX_ASSIGN_OR_RETURN(ttl, parse_timeout_body(req.body));
    } else if (verb == "start") {
      KRUNBOX_ASSIGN_OR_RETURN(secrets, parse_start_body(req.body));
    } else {
      KRUNBOX_TRY(check_no_body(req.body));
    }
    // All of the input is checked before the sandbox is looked up.
    KRUNBOX_ASSIGN_OR_RETURN(auto grace, parse_stop_timeout(query));
    KRUNBOX_ASSIGN_OR_RETURN(int sig, parse_kill_signal(query));
    bool to_disk = false;
    for (const auto& [name, value] : query) {
      if (name != "to_disk") continue;
      KRUNBOX_ASSIGN_OR_RETURN(to_disk, parse_bool_param(name, value));
    }
    auto id = lc_.resolve(key);
    if (!id) {
      wipe(secrets);
      return std::move(id).error();
    }
    if (verb == "start") {
      auto started = std::chrono::steady_clock::now();
      Status st = lc_.start(*id, secrets);
      wipe(secrets);
      KRUNBOX_TRY(std::move(st));
      if (auto cfg = lc_.store().load_config(*id); cfg.ok())
        metrics_.record_start(cfg->backend, std::chrono::steady_clock::now() - started);
    } else if (verb == "stop") {
      KRUNBOX_TRY(lc_.stop(*id, grace));
    } else if (verb == "kill") {
      KRUNBOX_TRY(lc_.kill(*id, sig));
    } else if (verb == "timeout") {
      KRUNBOX_TRY(lc_.set_ttl(*id, ttl));
    } else if (verb == "pause") {
      KRUNBOX_TRY(to_disk ? pause_to_disk(lc_, *id) : lc_.pause(*id));
    } else {
      KRUNBOX_TRY(lc_.resume(*id));
    }
    return document(*id);
  }

  // exec and files: the sandbox resolved, the rest the endpoint's.
  template <typename Endpoint>
  Result<HttpResponse> in_sandbox(const std::string& key, const HttpRequest& req, Endpoint endpoint) {
    KRUNBOX_ASSIGN_OR_RETURN(std::string id, lc_.resolve(key));
    return endpoint(lc_, id, req);
  }

 private:
  Result<HttpResponse> document(const std::string& id) {
    KRUNBOX_ASSIGN_OR_RETURN(SandboxView view, lc_.view(id));
    return json_response(200, sandbox_document(view));
  }

  ApiMetrics& metrics_;
  Lifecycle lc_;
};

bool is_action(const std::string& s) {
  return s == "start" || s == "stop" || s == "pause" || s == "resume" || s == "kill" || s == "timeout";
}

Result<HttpResponse> route(const HttpRequest& req, const std::string& version, ApiMetrics& metrics) {
  KRUNBOX_ASSIGN_OR_RETURN(auto segments, split_path(req.path));
  if (!segments || segments->empty()) return no_route(req);
  const auto& seg = *segments;
  const std::string& m = req.method;
  if (seg.size() == 1 && seg[0] == "version") {
    if (m != "GET") return bad_method(req, "GET");
    return json_response(200, {{"version", version}, {"api_version", "v1"}});
  }
  if (seg.size() == 1 && seg[0] == "health") {
    if (m != "GET") return bad_method(req, "GET");
    // Healthy means the records can be read: that is what every call needs.
    KRUNBOX_ASSIGN_OR_RETURN(auto ids, Lifecycle().store().list());
    return json_response(200, {{"status", "ok"}, {"sandboxes", ids.size()}});
  }
  if (seg[0] == "events" && seg.size() == 1) {
    if (m != "GET") return bad_method(req, "GET");
    return events_endpoint(req);
  }
  if (seg[0] == "images") {
    std::vector<std::string> rest(seg.begin() + 1, seg.end());
    if (rest.empty()) {
      if (m != "GET") return bad_method(req, "GET");
      return images_endpoint(rest, req);
    }
    // "pull" is also a name an image may have (GET and DELETE find it).
    bool pull = rest.size() == 1 && rest[0] == "pull";
    if (m != "GET" && m != "DELETE" && !(pull && m == "POST"))
      return bad_method(req, pull ? "GET, POST, DELETE" : "GET, DELETE");
    return images_endpoint(rest, req);
  }
  if (seg[0] == "checkpoints") {
    std::vector<std::string> rest(seg.begin() + 1, seg.end());
    if (rest.empty() && m != "GET") return bad_method(req, "GET");
    if (!rest.empty() && m != "GET" && m != "DELETE") return bad_method(req, "GET, DELETE");
    return checkpoints_endpoint(rest, req);
  }
  if (seg[0] != "sandboxes" || seg.size() > 5) return no_route(req);
  SandboxCalls calls(metrics);
  if (seg.size() == 1) {
    if (m == "GET") return calls.list(req);
    if (m == "POST") return calls.create(req);
    return bad_method(req, "GET, POST");
  }
  KRUNBOX_TRY(check_sandbox_key(seg[1]));
  if (seg.size() == 2) {
    if (m == "GET") return calls.get(seg[1], req);
    if (m == "DELETE") return calls.remove(seg[1], req);
    return bad_method(req, "GET, DELETE");
  }
  if (seg[2] == "execs") {
    std::vector<std::string> rest(seg.begin() + 3, seg.end());
    if (rest.size() == 2 && rest[1] != "output" && rest[1] != "attach" && rest[1] != "stdin" &&
        rest[1] != "close-stdin" && rest[1] != "signal" && rest[1] != "resize")
      return no_route(req);
    bool action = rest.size() == 2 && rest[1] != "output" && rest[1] != "attach";
    if (action && m != "POST") return bad_method(req, "POST");
    if (!action && m != "GET") return bad_method(req, "GET");
    return calls.in_sandbox(seg[1], req, [&rest](Lifecycle& lc, const std::string& id, const HttpRequest& r) {
      return execs_endpoint(lc, id, rest, r);
    });
  }
  if (seg.size() == 5) return no_route(req);
  if (seg.size() == 4) {
    if (seg[2] != "files") return no_route(req);
    if (seg[3] == "stat" || seg[3] == "list") {
      if (m != "GET") return bad_method(req, "GET");
      return calls.in_sandbox(seg[1], req, seg[3] == "stat" ? stat_endpoint : list_endpoint);
    }
    if (seg[3] == "mkdir" || seg[3] == "move") {
      if (m != "POST") return bad_method(req, "POST");
      return calls.in_sandbox(seg[1], req, seg[3] == "mkdir" ? mkdir_endpoint : move_endpoint);
    }
    return no_route(req);
  }
  if (seg[2] == "exec") {
    if (m != "POST") return bad_method(req, "POST");
    return calls.in_sandbox(seg[1], req, exec_endpoint);
  }
  if (seg[2] == "checkpoint") {
    if (m != "POST") return bad_method(req, "POST");
    return checkpoint_endpoint(seg[1], req);
  }
  if (seg[2] == "archive") {
    if (m != "GET" && m != "PUT") return bad_method(req, "GET, PUT");
    return calls.in_sandbox(seg[1], req, archive_endpoint);
  }
  if (seg[2] == "files") {
    if (m != "GET" && m != "PUT" && m != "DELETE") return bad_method(req, "GET, PUT, DELETE");
    return calls.in_sandbox(seg[1], req, files_endpoint);
  }
  if (!is_action(seg[2])) return no_route(req);
  if (m != "POST") return bad_method(req, "POST");
  return calls.action(seg[1], seg[2], req);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

size_t Api::body_limit(std::string_view method, std::string_view path) const {
  if (method == "POST" && (ends_with(path, "/exec") || ends_with(path, "/stdin"))) return kMaxExecBody;
  if (streams_body(method, path)) return kUnlimitedBody;
  return kMaxJsonBody;
}

bool Api::streams_body(std::string_view method, std::string_view path) const {
  return method == "PUT" && (ends_with(path, "/files") || ends_with(path, "/archive"));
}

HttpResponse Api::handle(const HttpRequest& request) {
  if (request.path == "/metrics") {
    if (request.method != "GET") return bad_method(request, "GET");
    HttpResponse m;
    m.content_type = "text/plain; version=0.0.4";
    Lifecycle lc;
    m.body = metrics_->text(lc);
    return m;
  }
  auto started = std::chrono::steady_clock::now();
  ApiMetrics::Kind kind = ApiMetrics::Kind::kOther;
  if (request.method == "POST" && request.path == "/v1/sandboxes") kind = ApiMetrics::Kind::kCreate;
  if (request.method == "POST" && ends_with(request.path, "/exec")) kind = ApiMetrics::Kind::kExec;
  auto r = route(request, version_, *metrics_);
  HttpResponse out = r ? std::move(*r) : error_response(r.error());
  if (kind == ApiMetrics::Kind::kExec && out.status == 201) {
    kind = ApiMetrics::Kind::kOther;
    metrics_->record_background_exec();
  }
  if (!out.stream) {
    metrics_->record(kind, out.status, std::chrono::steady_clock::now() - started);
    return out;
  }
  // A streamed answer is done when its stream is.
  out.stream = [inner = std::move(out.stream), metrics = metrics_, kind, status = out.status,
                started](const ChunkWriter& write) {
    inner(write);
    metrics->record(kind, status, std::chrono::steady_clock::now() - started);
  };
  return out;
}

}  // namespace krunbox::serve
