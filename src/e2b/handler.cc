#include "e2b/handler.h"

#include "e2b/connect.h"
#include "e2b/entry.h"
#include "e2b/files_endpoint.h"
#include "e2b/filesystem_service.h"
#include "e2b/rpc_stream.h"
#include "e2b/sandboxes.h"
#include "sandbox/lifecycle.h"
#include "serve/responses.h"

namespace krunbox::e2b {
namespace {

using serve::HttpRequest;
using serve::HttpResponse;

constexpr size_t kMaxJsonBody = 1u << 20;

bool rpc_path(std::string_view path, std::string_view service) {
  return path.size() > service.size() + 2 && path[0] == '/' && path.substr(1, service.size()) == service &&
         path[service.size() + 1] == '/';
}

// The control plane's key: X-API-Key, or a bearer token (the SDK's
// accessToken option).
std::string_view api_key_of(const HttpRequest& req) {
  std::string_view key = req.header("X-API-Key");
  if (!key.empty()) return key;
  std::string_view auth = req.header("Authorization");
  if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) return auth.substr(7);
  return {};
}

// 502 is what E2B's edge answers for a sandbox that is not there; the SDK
// reads it as "the sandbox timed out or was killed".
HttpResponse no_sandbox(const std::string& sandbox) {
  HttpResponse r = envd_error(502, "The sandbox " + sandbox + " was not found (it ended or never existed)");
  r.headers.emplace_back("X-Krunbox-Reason", "sandbox-not-found");
  return r;
}

}  // namespace

std::string sandbox_of_request(const HttpRequest& req) {
  std::string_view id = req.header("E2b-Sandbox-Id");
  if (!id.empty()) return std::string(id);
  // "<port>-<id>.<domain>": the first label, after its port.
  std::string_view host = req.header("Host");
  size_t dot = host.find('.');
  if (dot == std::string_view::npos) return "";
  std::string_view label = host.substr(0, dot);
  size_t dash = label.find('-');
  if (dash == std::string_view::npos || dash == 0) return "";
  for (char c : label.substr(0, dash))
    if (c < '0' || c > '9') return "";
  std::string_view candidate = label.substr(dash + 1);
  return is_e2b_id(candidate) ? std::string(candidate) : "";
}

constexpr std::string_view kStreamInput = "/process.Process/StreamInput";

size_t E2bHandler::body_limit(std::string_view method, std::string_view path) const {
  if (streams_body(method, path)) return kMaxUploadBytes;
  return kMaxJsonBody;
}

bool E2bHandler::streams_body(std::string_view method, std::string_view path) const {
  return method == "POST" && (path == "/files" || path == kStreamInput);
}

HttpResponse E2bHandler::handle(const HttpRequest& req) {
  std::string sandbox = sandbox_of_request(req);
  if (!sandbox.empty()) return envd(req, sandbox);
  if (req.path == "/health" && req.method == "GET") return serve::json_response(200, {{"status", "ok"}});
  std::string_view key = api_key_of(req);
  if (key.empty() || !keys_.api_key_ok(key)) {
    HttpResponse r = api_error(401, key.empty() ? "missing API key: send X-API-Key: e2b_..." : "Invalid API key");
    return r;
  }
  return control_plane(req, options_, keys_);
}

HttpResponse E2bHandler::envd(const HttpRequest& req, const std::string& sandbox) {
  Lifecycle lc;
  auto view = find_sandbox(lc, sandbox);
  if (!view || !is_live(*view)) return no_sandbox(sandbox);
  if (req.path == "/health") {
    if (view->status.state != SandboxState::kRunning) return no_sandbox(sandbox);
    HttpResponse r;
    r.status = 204;
    r.content_type.clear();
    return r;
  }
  bool process = rpc_path(req.path, "process.Process");
  bool filesystem = rpc_path(req.path, "filesystem.Filesystem");
  std::string_view token = req.header("X-Access-Token");
  if (token.empty() || !keys_.access_token_ok(view->id, token)) {
    std::string why = token.empty() ? "unauthorized access, please provide a valid access token (X-Access-Token)"
                                    : "the access token is not this sandbox's";
    // Connect's shape on its paths, so the SDK sees "unauthenticated".
    if (process || filesystem) return unary_error({Code::kUnauthenticated, why});
    return envd_error(401, why);
  }
  if (auto st = require_running(*view, sandbox); !st.ok()) {
    if (view->status.state == SandboxState::kPaused) return envd_error(502, "sandbox " + sandbox + " is paused");
    return no_sandbox(sandbox);
  }
  std::string user = user_of_authorization(req.header("Authorization"));
  if (req.path == "/files") return files_endpoint(req, view->id, user);
  if (!process && !filesystem) return envd_error(404, "there is no envd endpoint " + req.path);
  bool streaming = is_streaming_json(req.header("Content-Type"));
  if (req.method != "POST") {
    HttpResponse r = unary_error({Code::kUnimplemented, "Connect calls are POSTs"});
    r.status = 405;
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (req.path == kStreamInput) {
    if (!streaming)
      return unary_error({Code::kInvalidArgument, "StreamInput is a client stream: send application/connect+json"});
    return processes_.stream_input(view->id, req);
  }
  auto call = parse_rpc_request(req.path, req.header("Content-Type"), req.body);
  if (!call) {
    RpcError e = RpcError::of(call.error());
    return streaming ? stream_error(e) : unary_error(e);
  }
  if (process) return processes_.call(call->method, call->message, view->id, user, req);
  if (call->method == "WatchDir") {
    if (!streaming)
      return unary_error({Code::kInvalidArgument, "WatchDir is a server stream: send application/connect+json"});
    return watch_dir(call->message, view->id, user, req);
  }
  if (call->method == "CreateWatcher" || call->method == "GetWatcherEvents" || call->method == "RemoveWatcher") {
    if (streaming)
      return stream_error({Code::kInvalidArgument, call->method + " is a unary call: send application/json"});
    auto r = watchers_.call(call->method, call->message, view->id, user);
    return r ? unary_response(*r) : unary_error(RpcError::of(r.error()));
  }
  return filesystem_call(call->method, call->message, view->id, user, streaming);
}

}  // namespace krunbox::e2b
