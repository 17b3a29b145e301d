#include "e2b/control_plane.h"

#include <chrono>
#include <optional>
#include <vector>

#include "base/json.h"
#include "e2b/entry.h"
#include "e2b/multipart.h"
#include "e2b/sandboxes.h"
#include "sandbox/lifecycle.h"
#include "sandbox/provision.h"
#include "serve/errors.h"
#include "serve/responses.h"

namespace krunbox::e2b {
namespace {

using serve::HttpRequest;
using serve::HttpResponse;

constexpr std::chrono::seconds kDefaultTimeout{300};

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  size_t at = 1;
  while (at <= path.size() && path.size() > 1) {
    size_t slash = path.find('/', at);
    out.emplace_back(path.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at));
    if (slash == std::string_view::npos) break;
    at = slash + 1;
  }
  return out;
}

std::string time_of(int64_t unix_s) { return unix_s > 0 ? rfc3339(unix_s * 1000000000) : rfc3339(0); }

Json string_map(const std::map<std::string, std::string>& m) {
  Json j = Json::object();
  for (const auto& [k, v] : m) j[k] = v;
  return j;
}

Json listed(const SandboxView& v) {
  std::string tmpl = v.config.labels.at(kTemplateLabel);
  int64_t end = v.status.deadline ? v.status.deadline : v.status.started_at;
  return {{"templateID", tmpl},
          {"alias", tmpl},
          {"sandboxID", e2b_id_of(v.id)},
          {"clientID", "krunbox"},
          {"startedAt", time_of(v.status.started_at)},
          {"endAt", time_of(end)},
          {"cpuCount", v.config.spec.vcpus},
          {"memoryMB", v.config.spec.memory_mib},
          {"diskSizeMB", 0},
          {"metadata", string_map(metadata_of(v))},
          {"state", state_of(v)},
          {"envdVersion", kEnvdVersion}};
}

Json connection(const SandboxView& v, const E2bOptions& options, const Keys& keys) {
  Json j = {{"templateID", v.config.labels.at(kTemplateLabel)},
            {"sandboxID", e2b_id_of(v.id)},
            {"clientID", "krunbox"},
            {"envdVersion", kEnvdVersion},
            {"envdAccessToken", keys.access_token(v.id)},
            {"trafficAccessToken", nullptr},
            {"domain", options.domain.empty() ? Json(nullptr) : Json(options.domain)}};
  j["alias"] = j["templateID"];
  return j;
}

Result<Json> body_object(const std::string& body) {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) return Json::object();
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_json(body, "the request body"));
  if (!j.is_object()) return Error(ErrorCode::kInvalidArgument, "the request body must be a JSON object");
  return j;
}

Result<std::chrono::seconds> timeout_field(const Json& j, std::chrono::seconds fallback) {
  if (!j.contains("timeout") || j["timeout"].is_null()) return fallback;
  const Json& t = j["timeout"];
  if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > kMaxSandboxTimeout.count())
    return Error(ErrorCode::kInvalidArgument, "timeout must be a whole number of seconds from 0 to " +
                                                  std::to_string(kMaxSandboxTimeout.count()));
  return std::chrono::seconds(t.get<int64_t>());
}

Result<std::map<std::string, std::string>> string_map_field(const Json& j, const char* name) {
  std::map<std::string, std::string> out;
  if (!j.contains(name) || j[name].is_null()) return out;
  if (!j[name].is_object()) return Error(ErrorCode::kInvalidArgument, std::string(name) + " must be an object of strings");
  for (const auto& [k, v] : j[name].items()) {
    if (!v.is_string()) return Error(ErrorCode::kInvalidArgument, std::string(name) + "." + k + " must be a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

Result<HttpResponse> create(const HttpRequest& req, const E2bOptions& options, const Keys& keys) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, body_object(req.body));
  if (!j.contains("templateID") || !j["templateID"].is_string() || j["templateID"].get<std::string>().empty())
    return Error(ErrorCode::kInvalidArgument, "templateID must be a template name or an image reference");
  std::string tmpl = j["templateID"].get<std::string>();
  KRUNBOX_ASSIGN_OR_RETURN(auto ttl, timeout_field(j, kDefaultTimeout));
  KRUNBOX_ASSIGN_OR_RETURN(auto metadata, string_map_field(j, "metadata"));
  KRUNBOX_ASSIGN_OR_RETURN(auto env, string_map_field(j, "envVars"));
  if (j.value("autoPause", false) == true)
    return Error(ErrorCode::kUnsupported, "autoPause (pause instead of kill at the timeout) is not supported by krunbox");
  if (j.contains("volumeMounts") && j["volumeMounts"].is_array() && !j["volumeMounts"].empty())
    return Error(ErrorCode::kUnsupported, "volumeMounts are not supported by krunbox's E2B API");
  if (j.contains("mcp") && !j["mcp"].is_null())
    return Error(ErrorCode::kUnsupported, "MCP gateways are not supported by krunbox's E2B API");
  for (const auto& [k, v] : metadata)
    if (k.rfind("krunbox.e2b/", 0) == 0)
      return Error(ErrorCode::kInvalidArgument, "metadata keys starting with krunbox.e2b/ are reserved");

  CreateRequest r;
  r.backend = options.backend;
  r.ttl = ttl;
  r.labels = metadata;
  r.labels[kTemplateLabel] = tmpl;
  if (auto st = check_labels(r.labels); !st.ok())
    return Error(ErrorCode::kInvalidArgument, "metadata: " + st.error().message());
  ProvisionRequest& p = r.provision;
  p.image = image_of_template(options, tmpl);
  p.entrypoint = "";
  p.command = kKeepAliveCommand;
  for (const auto& [k, v] : env) p.env.push_back(k + "=" + v);
  if (j.contains("allow_internet_access") && j["allow_internet_access"] == false) p.base.network = NetworkMode::kNone;

  Lifecycle lc;
  auto id = create_sandbox(lc, std::move(r));
  if (!id) {
    if (id.error().code() == ErrorCode::kNotFound)
      return Error(ErrorCode::kNotFound, "template '" + tmpl + "' not found: " + id.error().message());
    return std::move(id).error();
  }
  if (auto st = lc.start(*id, {}); !st.ok()) {
    (void)lc.remove(*id, true);
    return std::move(st).error().wrap("starting the new sandbox (it was removed)");
  }
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView view, lc.view(*id));
  return serve::json_response(201, connection(view, options, keys));
}

// Live E2B sandboxes; the ones that ended are removed on the way.
Result<std::vector<SandboxView>> live_sandboxes(Lifecycle& lc) {
  KRUNBOX_ASSIGN_OR_RETURN(auto views, lc.list());
  std::vector<SandboxView> out;
  for (auto& v : views) {
    if (!v.config.labels.contains(kTemplateLabel)) continue;
    if (!is_live(v)) {
      if (v.status.state != SandboxState::kCreated) (void)lc.remove(v.id, true);
      continue;
    }
    out.push_back(std::move(v));
  }
  return out;
}

Result<HttpResponse> list(const HttpRequest& req) {
  KRUNBOX_ASSIGN_OR_RETURN(auto q, parse_query_params(req.query));
  std::map<std::string, std::string> wanted;
  if (auto it = q.find("metadata"); it != q.end()) {
    // "k=v&k2=v2", itself URL-encoded, each key and value encoded again.
    KRUNBOX_ASSIGN_OR_RETURN(auto pairs, parse_query_params(it->second));
    for (auto& [k, v] : pairs) wanted[k] = v;
  }
  std::vector<std::string> states;
  if (auto it = q.find("state"); it != q.end()) {
    std::string_view s = it->second;
    while (!s.empty()) {
      size_t comma = s.find(',');
      states.emplace_back(s.substr(0, comma));
      s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    }
  }
  Lifecycle lc;
  KRUNBOX_ASSIGN_OR_RETURN(auto views, live_sandboxes(lc));
  Json out = Json::array();
  for (const auto& v : views) {
    auto md = metadata_of(v);
    bool ok = true;
    for (const auto& [k, val] : wanted)
      if (auto it = md.find(k); it == md.end() || it->second != val) ok = false;
    if (!states.empty() && std::find(states.begin(), states.end(), state_of(v)) == states.end()) ok = false;
    if (ok) out.push_back(listed(v));
  }
  return serve::json_response(200, out);
}

Result<SandboxView> live(Lifecycle& lc, const std::string& e2b_id) {
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, find_sandbox(lc, e2b_id));
  if (!is_live(v)) {
    (void)lc.remove(v.id, true);
    return Error(ErrorCode::kNotFound, "sandbox " + e2b_id + " not found (it ended)");
  }
  return v;
}

Result<HttpResponse> one(const HttpRequest& req, const std::vector<std::string>& seg, const E2bOptions& options,
                         const Keys& keys) {
  Lifecycle lc;
  const std::string& sid = seg[1];
  const std::string& m = req.method;
  if (seg.size() == 2) {
    if (m == "DELETE") {
      KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, find_sandbox(lc, sid));
      KRUNBOX_TRY(lc.remove(v.id, /*force=*/true));
      return serve::no_content();
    }
    if (m == "GET") {
      KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, live(lc, sid));
      Json j = listed(v);
      Json c = connection(v, options, keys);
      j["envdAccessToken"] = c["envdAccessToken"];
      j["domain"] = c["domain"];
      return serve::json_response(200, j);
    }
    return api_error(405, m + " is not allowed on " + req.path);
  }
  const std::string& verb = seg[2];
  if (verb == "metrics" && m == "GET") {
    KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, live(lc, sid));
    (void)v;
    return serve::json_response(200, Json::array());
  }
  if (m != "POST") return api_error(405, m + " is not allowed on " + req.path);
  KRUNBOX_ASSIGN_OR_RETURN(Json body, body_object(req.body));
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, live(lc, sid));
  if (verb == "timeout") {
    if (!body.contains("timeout")) return Error(ErrorCode::kInvalidArgument, "timeout (seconds) is required");
    KRUNBOX_ASSIGN_OR_RETURN(auto ttl, timeout_field(body, kDefaultTimeout));
    KRUNBOX_TRY(lc.set_ttl(v.id, ttl));
    return serve::no_content();
  }
  if (verb == "refreshes") {
    std::chrono::seconds ttl{kDefaultTimeout};
    if (body.contains("duration") && body["duration"].is_number_integer())
      ttl = std::chrono::seconds(body["duration"].get<int64_t>());
    KRUNBOX_TRY(lc.set_ttl(v.id, ttl));
    return serve::no_content();
  }
  if (verb == "pause") {
    if (v.status.state == SandboxState::kPaused) return api_error(409, "sandbox " + sid + " is already paused");
    KRUNBOX_TRY(lc.pause(v.id));
    return serve::no_content();
  }
  if (verb == "resume" || verb == "connect") {
    bool was_paused = v.status.state == SandboxState::kPaused;
    if (verb == "resume" && !was_paused) return api_error(409, "sandbox " + sid + " is not paused");
    if (was_paused) {
      KRUNBOX_TRY(lc.resume(v.id));
    }
    if (body.contains("timeout")) {
      KRUNBOX_ASSIGN_OR_RETURN(auto ttl, timeout_field(body, kDefaultTimeout));
      KRUNBOX_TRY(lc.set_ttl(v.id, ttl));
    }
    KRUNBOX_ASSIGN_OR_RETURN(SandboxView now, lc.view(v.id));
    return serve::json_response(was_paused || verb == "resume" ? 201 : 200, connection(now, options, keys));
  }
  return api_error(404, "there is no endpoint " + req.path);
}

Result<HttpResponse> route(const HttpRequest& req, const E2bOptions& options, const Keys& keys) {
  auto seg = split_path(req.path);
  // /v2/sandboxes... is /sandboxes... with newer shapes, served alike.
  if (!seg.empty() && seg[0] == "v2") seg.erase(seg.begin());
  if (seg.empty() || seg[0] != "sandboxes") return api_error(404, "there is no endpoint " + req.path);
  if (seg.size() == 1) {
    if (req.method == "POST") return create(req, options, keys);
    if (req.method == "GET") return list(req);
    return api_error(405, req.method + " is not allowed on " + req.path);
  }
  if (seg.size() > 3 || seg[1].empty()) return api_error(404, "there is no endpoint " + req.path);
  return one(req, seg, options, keys);
}

}  // namespace

Result<std::map<std::string, std::string>> parse_templates(std::string_view text, const std::string& path) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_json(text, "the E2B template file " + path));
  if (!j.is_object())
    return Error(ErrorCode::kInvalidArgument,
                 "the E2B template file " + path + " must be a JSON object of template names to image references");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.items()) {
    if (k.empty() || !v.is_string() || v.get<std::string>().empty())
      return Error(ErrorCode::kInvalidArgument,
                   "template '" + k + "' in " + path + " must name an image reference (a non-empty string)");
    out[k] = v.get<std::string>();
  }
  return out;
}

std::string image_of_template(const E2bOptions& options, const std::string& template_id) {
  if (auto it = options.templates.find(template_id); it != options.templates.end()) return it->second;
  if (template_id == "base") return "busybox";
  return template_id;
}

HttpResponse api_error(int status, std::string message) {
  return serve::json_response(status, {{"code", status}, {"message", std::move(message)}});
}

HttpResponse api_error(const Error& error) { return api_error(serve::http_status(error.code()), error.message()); }

HttpResponse control_plane(const HttpRequest& request, const E2bOptions& options, const Keys& keys) {
  auto r = route(request, options, keys);
  return r ? std::move(*r) : api_error(r.error());
}

}  // namespace krunbox::e2b
