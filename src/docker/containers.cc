#include "docker/containers.h"

#include <thread>

#include "base/json.h"
#include "docker/container_create.h"
#include "docker/container_json.h"
#include "docker/errors.h"
#include "docker/log_follow.h"
#include "docker/stdcopy.h"
#include "image/image_store.h"
#include "image/reference.h"
#include "sandbox/events.h"
#include "sandbox/image_root.h"
#include "sandbox/provision.h"
#include "serve/request_parse.h"
#include "serve/responses.h"

namespace krunbox::docker {
namespace {

using serve::HttpResponse;

Error bad(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

HttpResponse not_modified() {
  HttpResponse r;
  r.status = 304;
  r.content_type.clear();
  return r;
}

HttpResponse empty(int status) {
  HttpResponse r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  return r;
}

bool running(SandboxState s) { return s == SandboxState::kRunning || s == SandboxState::kStarting; }
bool ended(const SandboxView& v) {
  return (v.status.state == SandboxState::kStopped || v.status.state == SandboxState::kCrashed) && !v.status.restarting;
}

// The image as Docker's clients name it, checked against the store first
// so a missing one is Docker's 404 (the CLI then pulls and retries).
Status check_image_present(std::string& image) {
  auto ref = image::parse_reference(image);
  if (!ref) return bad("invalid reference format: " + image.substr(0, 128));
  // The bundled image loads itself on first use under its own name.
  if (ref->familiar() == std::string(kDefaultImage) + ":latest") {
    image = kDefaultImage;
    return {};
  }
  KRUNBOX_ASSIGN_OR_RETURN(auto store, open_image_store());
  auto found = store->find(image);
  if (!found) {
    if (found.error().code() == ErrorCode::kNotFound) return no_such_image(ref->familiar());
    return std::move(found).error();
  }
  return {};
}

bool matches(const SandboxView& v, const Filters& filters) {
  for (const auto& [name, values] : filters) {
    if (values.empty()) continue;
    bool any = false;
    for (const auto& want : values) {
      if (name == "label") {
        auto f = parse_label_filter(want);
        any = f.ok() && matches_labels(v.config.labels, {*f});
      } else if (name == "name") {
        // Docker matches names as a regular expression; krunbox as a substring.
        any = docker_name(v).find(want) != std::string::npos;
      } else if (name == "id") {
        any = v.id.rfind(want, 0) == 0;
      } else if (name == "status") {
        any = docker_state(v) == want;
      } else if (name == "ancestor") {
        any = v.config.image == want;
      }
      if (any) break;
    }
    if (!any) return false;
  }
  return true;
}

// Waits for Docker's wait condition and streams {"StatusCode": N}. What the
// sandbox is at the call is read before the headers go, so a start sent
// after the wait's answer began is seen as the next run.
Result<HttpResponse> wait_container(Call& c, const std::string& id) {
  std::string condition = c.query.get("condition").value_or("not-running");
  if (condition.empty()) condition = "not-running";
  if (condition != "not-running" && condition != "next-exit" && condition != "removed")
    return bad("invalid condition: \"" + condition.substr(0, 32) + "\" (not-running, next-exit, removed)");
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView first, c.lc.view(id));
  HttpResponse r;
  r.stream = [id, condition, first, state = &c.state](const serve::ChunkWriter& write) {
    Lifecycle lc;
    int64_t run0 = first.status.run;
    bool was_running = !ended(first) && first.status.state != SandboxState::kCreated;
    int code = docker_exit_code(first);
    std::string error;
    // Woken by the sandbox's record changing, not on a timer.
    auto watcher = SandboxWatcher::open(lc);
    for (;;) {
      auto v = lc.view(id);
      if (!v) {
        // Gone: removed (by AutoRemove, or by someone else).
        if (auto kept = state->removed_exit(id)) code = *kept;
        break;
      }
      code = docker_exit_code(*v);
      bool done = false;
      if (condition == "not-running") {
        done = ended(*v) || v->status.state == SandboxState::kCreated;
      } else if (condition == "next-exit") {
        done = ended(*v) && (was_running || v->status.run > run0);
      }
      if (done) {
        if (v->status.state == SandboxState::kCrashed) error = v->status.reason;
        break;
      }
      if (watcher) watcher->await_change(std::chrono::milliseconds(500));
      else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Json body = {{"StatusCode", code}, {"Error", error.empty() ? Json(nullptr) : Json{{"Message", error}}}};
    (void)write(serve::dump_json(body));
  };
  return r;
}

Result<HttpResponse> logs_stream(Call& c, const std::string& id) {
  bool out = c.query.flag("stdout"), err = c.query.flag("stderr");
  if (!out && !err) return bad("Bad parameters: you must choose at least one stream");
  if (c.query.get("since") || c.query.get("until")) {
    auto since = c.query.get("since").value_or("0"), until = c.query.get("until").value_or("0");
    if ((since != "0" && !since.empty()) || (until != "0" && !until.empty()))
      return bad("since and until are not supported: krunbox does not record when output was written");
  }
  long tail = -1;
  if (auto t = c.query.get("tail"); t && *t != "all" && !t->empty()) {
    KRUNBOX_ASSIGN_OR_RETURN(auto n, c.query.integer("tail", 0, 1 << 30));
    tail = static_cast<long>(*n);
  }
  bool follow = c.query.flag("follow"), timestamps = c.query.flag("timestamps");
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, c.lc.view(id));
  bool tty = v.config.spec.tty;
  // krunbox keeps the main process's output as one stream; it goes out as
  // stdout, or as stderr when only stderr is asked for (docs/docker-api.md).
  StdStream as = out ? StdStream::kStdout : StdStream::kStderr;
  std::string path = c.lc.store().log_path(id);
  HttpResponse r;
  r.content_type = tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
  r.stream = [id, path, tail, follow, timestamps, tty, as](const serve::ChunkWriter& write) {
    LineStamper stamper;
    auto sink = [&](std::string_view data) {
      std::string text = timestamps ? stamper.stamp(data) : std::string(data);
      return write(tty ? text : stdcopy_frame(as, text));
    };
    LogFollower f(path, LogFollower::From::kStart);
    if (!f.read_existing(tail, sink) || !follow) return;
    Lifecycle lc;
    (void)f.follow(
        [&] {
          auto view = lc.view(id);
          return view.ok() && !ended(*view) && view->status.state != SandboxState::kCreated;
        },
        sink);
  };
  return r;
}

}  // namespace

bool is_container_action(const std::string& verb) {
  return verb == "start" || verb == "stop" || verb == "restart" || verb == "kill" || verb == "pause" ||
         verb == "unpause" || verb == "wait" || verb == "resize";
}

Result<std::string> resolve_container(Lifecycle& lc, const std::string& key) {
  std::string k = !key.empty() && key[0] == '/' ? key.substr(1) : key;
  if (!serve::check_sandbox_key(k).ok()) return no_such_container(key.substr(0, 128));
  auto id = lc.resolve(k);
  if (!id) {
    if (id.error().code() == ErrorCode::kNotFound) return no_such_container(k);
    return std::move(id).error();
  }
  return id;
}

std::string image_id_of(const std::string& image) {
  auto store = open_image_store();
  if (!store) return "";
  auto rec = (*store)->find(image);
  return rec ? rec->digest.str() : "";
}

Result<HttpResponse> create_container(Call& c) {
  KRUNBOX_ASSIGN_OR_RETURN(ContainerCreate cc, map_create(c.req.body, c.query.get("name").value_or("")));
  if (auto p = c.query.get("platform"); p && !p->empty() && *p != "linux" && p->rfind("linux/", 0) != 0)
    return bad("platform " + p->substr(0, 32) + " is not supported");
  KRUNBOX_TRY(check_image_present(cc.request.provision.image));
  auto id = create_sandbox(c.lc, std::move(cc.request));
  if (!id) {
    if (id.error().code() == ErrorCode::kAlreadyExists)
      return Error(ErrorCode::kAlreadyExists, "Conflict. " + id.error().what());
    return std::move(id).error();
  }
  return serve::json_response(201, {{"Id", *id}, {"Warnings", Json::array()}});
}

Result<HttpResponse> list_containers(Call& c) {
  bool all = c.query.flag("all");
  KRUNBOX_ASSIGN_OR_RETURN(Filters filters, parse_filters(c.query.get("filters").value_or("")));
  KRUNBOX_ASSIGN_OR_RETURN(auto limit, c.query.integer("limit", -1, 1 << 30));
  KRUNBOX_ASSIGN_OR_RETURN(auto views, c.lc.list());
  // Newest first, as docker ps lists them.
  std::stable_sort(views.begin(), views.end(),
                   [](const SandboxView& a, const SandboxView& b) { return a.config.created_at > b.config.created_at; });
  int64_t now = unix_now();
  Json out = Json::array();
  for (const auto& v : views) {
    bool live = running(v.status.state) || v.status.state == SandboxState::kPaused || v.status.restarting;
    if (!all && !live && !filters.contains("status")) continue;
    if (!matches(v, filters)) continue;
    if (limit && *limit > 0 && static_cast<int64_t>(out.size()) >= *limit) break;
    out.push_back(container_summary(v, image_id_of(v.config.image), now));
  }
  return serve::json_response(200, out);
}

Result<HttpResponse> inspect_container(Call& c, const std::string& key) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, resolve_container(c.lc, key));
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, c.lc.view(id));
  return serve::json_response(200, container_inspect(v, image_id_of(v.config.image), c.lc.store().log_path(id), unix_now()));
}

Result<HttpResponse> container_logs(Call& c, const std::string& key) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, resolve_container(c.lc, key));
  return logs_stream(c, id);
}

Result<HttpResponse> container_action(Call& c, const std::string& key, const std::string& verb) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, resolve_container(c.lc, key));
  if (verb == "wait") return wait_container(c, id);
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, c.lc.view(id));
  std::string short_id = id.substr(0, 12);
  auto not_running = [&] { return Error(ErrorCode::kIllegalState, "Container " + short_id + " is not running"); };
  bool auto_remove = v.config.labels.contains(kAutoRemoveLabel);
  if (verb == "resize") {
    // The main process's terminal keeps its size (docs/docker-api.md).
    return empty(200);
  }
  if (verb == "start") {
    if (running(v.status.state) || v.status.state == SandboxState::kPaused) return not_modified();
    KRUNBOX_TRY(c.lc.start(id, {}));
    if (auto_remove) c.state.watch_auto_remove(id);
    return empty(204);
  }
  auto grace = [&]() -> Result<std::chrono::milliseconds> {
    auto t = c.query.get("t") ? c.query.integer("t", -1, 3600) : c.query.integer("timeout", -1, 3600);
    if (!t) return std::move(t).error();
    int64_t s = t->value_or(10);
    return std::chrono::milliseconds(s < 0 ? 3600 * 1000 : s * 1000);
  };
  if (verb == "stop") {
    if (auto sig = c.query.get("signal"); sig && !sig->empty() && *sig != "SIGTERM" && *sig != "TERM" && *sig != "15")
      return bad("stop signal " + sig->substr(0, 16) + " is not supported: krunbox stops with SIGTERM");
    KRUNBOX_ASSIGN_OR_RETURN(auto g, grace());
    if (!running(v.status.state) && v.status.state != SandboxState::kPaused) return not_modified();
    KRUNBOX_TRY(c.lc.stop(id, g));
    return empty(204);
  }
  if (verb == "restart") {
    KRUNBOX_ASSIGN_OR_RETURN(auto g, grace());
    if (running(v.status.state) || v.status.state == SandboxState::kPaused) KRUNBOX_TRY(c.lc.stop(id, g));
    KRUNBOX_TRY(c.lc.start(id, {}));
    return empty(204);
  }
  if (verb == "kill") {
    KRUNBOX_ASSIGN_OR_RETURN(int sig, parse_signal(c.query.get("signal").value_or("KILL")));
    if (!running(v.status.state) && v.status.state != SandboxState::kPaused) return not_running();
    KRUNBOX_TRY(c.lc.kill(id, sig));
    return empty(204);
  }
  if (verb == "pause") {
    if (v.status.state == SandboxState::kPaused)
      return Error(ErrorCode::kIllegalState, "Container " + short_id + " is already paused");
    if (!running(v.status.state)) return not_running();
    KRUNBOX_TRY(c.lc.pause(id));
    return empty(204);
  }
  // unpause
  if (v.status.state != SandboxState::kPaused)
    return Error(ErrorCode::kIllegalState, "Container " + short_id + " is not paused");
  KRUNBOX_TRY(c.lc.resume(id));
  return empty(204);
}

Result<HttpResponse> remove_container(Call& c, const std::string& key) {
  if (c.query.flag("link")) return bad("links are not supported");
  bool force = c.query.flag("force");
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, resolve_container(c.lc, key));
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, c.lc.view(id));
  if (!force && (running(v.status.state) || v.status.state == SandboxState::kPaused))
    return Error(ErrorCode::kIllegalState, "cannot remove container \"" + docker_name(v) +
                                               "\": container is running: stop the container before removing or "
                                               "force remove");
  KRUNBOX_ASSIGN_OR_RETURN(auto swept, c.lc.remove(id, force));
  (void)swept;
  return empty(204);
}

}  // namespace krunbox::docker
