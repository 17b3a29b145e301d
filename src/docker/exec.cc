#include "docker/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "base/json.h"
#include "docker/query.h"
#include "docker/container_create.h"
#include "docker/container_json.h"
#include "docker/errors.h"
#include "docker/log_follow.h"
#include "docker/stdcopy.h"
#include "sandbox/exec_session.h"
#include "sandbox/kept_exec.h"
#include "serve/responses.h"

namespace krunbox::docker {
namespace {

using serve::HttpResponse;

Error bad(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

bool is_hex(const std::string& s) { return s.find_first_not_of("0123456789abcdef") == std::string::npos; }

bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Clients that read the head through a buffered reader and then read the
// socket itself (docker-py, over Python's http.client) lose bytes that come
// in the same read as the head. Go's client hands its buffer on; for the
// others the stream starts a moment after the head, as Docker's own does
// while it starts the process.
bool needs_pause_after_head(const serve::HttpRequest& req) {
  std::string_view ua = req.header("User-Agent");
  return !(ua.starts_with("Docker-Client/") || ua.starts_with("Go-http-client/"));
}

void pause_after_head() { std::this_thread::sleep_for(std::chrono::milliseconds(100)); }

// The head of a hijacked stream: 101 when the client asked to upgrade, 200
// (the raw stream follows the head) when it did not.
HttpResponse hijack(const serve::HttpRequest& req, bool tty,
                    std::function<void(UniqueFd, std::string)> body) {
  HttpResponse r;
  if (needs_pause_after_head(req))
    body = [inner = std::move(body)](UniqueFd sock, std::string already) {
      pause_after_head();
      inner(std::move(sock), std::move(already));
    };
  r.content_type = tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream";
  if (!req.header("Upgrade").empty()) {
    r.status = 101;
    r.headers.emplace_back("Connection", "Upgrade");
    r.headers.emplace_back("Upgrade", "tcp");
  }
  r.takeover = std::move(body);
  return r;
}

Result<std::vector<std::string>> strings(const Json& j, const std::string& field) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) return bad(field + " must be an array of strings");
  for (const auto& e : j) {
    if (!e.is_string()) return bad(field + " must be an array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::string opt_string(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

bool opt_bool(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

struct ResolvedExec {
  std::string sandbox;
  std::string exec_id;
};

Result<ResolvedExec> resolve_exec(Lifecycle& lc, const std::string& docker_id) {
  auto ref = parse_docker_exec_id(docker_id);
  if (!ref) return no_such_exec(docker_id.substr(0, 80));
  auto id = lc.resolve(ref->sandbox_prefix);
  if (!id) return no_such_exec(docker_id);
  return ResolvedExec{*id, ref->exec_id};
}

// Copies what the client sends to the command's stdin until the client
// closes its side (then stdin is closed) or `stop` is set. poll()s so the
// copy can be ended before the socket is given back.
void copy_stdin(int fd, std::string first, ExecSession& session, const std::atomic<bool>& stop, int wake) {
  if (!first.empty() && !session.write_stdin(first).ok()) return;
  char buf[32768];
  for (;;) {
    pollfd p[2] = {{fd, POLLIN, 0}, {wake, POLLIN, 0}};
    int n = ::poll(p, 2, -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || stop.load() || (p[1].revents & POLLIN)) return;
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      (void)session.close_stdin();
      return;
    }
    if (!session.write_stdin(std::string_view(buf, static_cast<size_t>(got))).ok()) return;
  }
}

}  // namespace

std::string docker_exec_id(const std::string& id, const std::string& exec_id) { return id.substr(0, 48) + exec_id; }

Result<ExecRef> parse_docker_exec_id(const std::string& docker_id) {
  if (docker_id.size() != 64 || !is_hex(docker_id)) return no_such_exec(docker_id.substr(0, 80));
  return ExecRef{docker_id.substr(0, 48), docker_id.substr(48)};
}

Result<HttpResponse> create_exec(Call& c, const std::string& key) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, resolve_container(c.lc, key));
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_client_json(c.req.body, "the exec config"));
  if (!j.is_object()) return bad("the exec config must be a JSON object");
  if (opt_bool(j, "Privileged")) return bad("Privileged execs are not supported");
  Workload w;
  KRUNBOX_ASSIGN_OR_RETURN(w.argv, strings(j.value("Cmd", Json()), "Cmd"));
  if (w.argv.empty()) return bad("No exec command specified");
  KRUNBOX_ASSIGN_OR_RETURN(w.env, strings(j.value("Env", Json()), "Env"));
  w.cwd = opt_string(j, "WorkingDir");
  w.user = opt_string(j, "User");
  w.tty = opt_bool(j, "Tty");
  w.stdin_open = opt_bool(j, "AttachStdin");
  const Json& size = j.value("ConsoleSize", Json());
  if (size.is_array() && size.size() == 2 && size[0].is_number_unsigned() && size[1].is_number_unsigned()) {
    auto rows = size[0].get<uint64_t>(), cols = size[1].get<uint64_t>();
    if (rows > 0 && cols > 0 && rows < 65536 && cols < 65536)
      w.tty_size = std::make_pair(static_cast<uint16_t>(rows), static_cast<uint16_t>(cols));
  }
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, c.lc.view(id));
  if (v.status.state == SandboxState::kPaused)
    return Error(ErrorCode::kIllegalState, "Container " + id.substr(0, 12) + " is paused, unpause the container before exec");
  if (v.status.state != SandboxState::kRunning)
    return Error(ErrorCode::kIllegalState, "Container " + id.substr(0, 12) + " is not running");
  KRUNBOX_ASSIGN_OR_RETURN(KeptExecStarted started, start_kept_exec(c.lc, id, w));
  return serve::json_response(201, {{"Id", docker_exec_id(id, started.exec_id)}});
}

Result<HttpResponse> start_exec(Call& c, const std::string& docker_id) {
  KRUNBOX_ASSIGN_OR_RETURN(ResolvedExec e, resolve_exec(c.lc, docker_id));
  Json j = Json::object();
  if (c.req.body.find_first_not_of(" \t\r\n") != std::string::npos) {
    KRUNBOX_ASSIGN_OR_RETURN(j, parse_client_json(c.req.body, "the exec start config"));
    if (!j.is_object()) return bad("the exec start config must be a JSON object");
  }
  KRUNBOX_ASSIGN_OR_RETURN(KeptExecInfo info, kept_exec_info(c.lc, e.sandbox, e.exec_id));
  if (opt_bool(j, "Detach")) {
    // It already runs: started with the exec.
    HttpResponse r;
    r.body = "{}";
    return r;
  }
  // Errors before the stream starts are still HTTP answers.
  KRUNBOX_ASSIGN_OR_RETURN(auto session, ExecSession::attach(c.lc, e.sandbox, e.exec_id, /*follow=*/true, 0));
  std::shared_ptr<ExecSession> s(std::move(session));
  bool tty = info.tty;
  return hijack(c.req, tty, [s, tty](UniqueFd sock, std::string already) {
    int fd = sock.get();
    int wake[2];
    if (::pipe2(wake, O_CLOEXEC) != 0) return;
    UniqueFd wake_r(wake[0]), wake_w(wake[1]);
    std::atomic<bool> stop{false};
    std::thread in([&] { copy_stdin(fd, std::move(already), *s, stop, wake_r.get()); });
    std::atomic<bool> gone{false};
    auto out = [&](StdStream st) {
      return [&, st](std::string_view d) {
        if (gone) return;
        if (!send_all(fd, tty ? std::string(d) : stdcopy_frame(st, d))) gone = true;
      };
    };
    auto end = s->wait({out(StdStream::kStdout), out(StdStream::kStderr)});
    (void)end;
    stop = true;
    (void)!::write(wake_w.get(), "x", 1);
    in.join();
    ::shutdown(fd, SHUT_WR);
  });
}

Result<HttpResponse> inspect_exec(Call& c, const std::string& docker_id) {
  KRUNBOX_ASSIGN_OR_RETURN(ResolvedExec e, resolve_exec(c.lc, docker_id));
  auto info = kept_exec_info(c.lc, e.sandbox, e.exec_id);
  if (!info) {
    if (info.error().code() == ErrorCode::kNotFound) return no_such_exec(docker_id);
    return std::move(info).error();
  }
  Json exit_code = nullptr;
  if (info->exit) exit_code = WorkloadOutcome::from_exit(*info->exit).exit_code();
  else if (!info->crash_reason.empty()) exit_code = 125;
  std::vector<std::string> args(info->argv.size() > 1 ? info->argv.begin() + 1 : info->argv.end(), info->argv.end());
  return serve::json_response(
      200, {{"ID", docker_id},
            {"ContainerID", e.sandbox},
            {"Running", info->running()},
            {"ExitCode", exit_code},
            {"Pid", info->pid},
            {"OpenStdin", false},
            {"OpenStdout", true},
            {"OpenStderr", true},
            {"CanRemove", false},
            {"DetachKeys", ""},
            {"ProcessConfig",
             {{"tty", info->tty},
              {"entrypoint", info->argv.empty() ? "" : info->argv[0]},
              {"arguments", args},
              {"privileged", false},
              {"user", ""}}}});
}

Result<HttpResponse> resize_exec(Call& c, const std::string& docker_id) {
  KRUNBOX_ASSIGN_OR_RETURN(ResolvedExec e, resolve_exec(c.lc, docker_id));
  KRUNBOX_ASSIGN_OR_RETURN(auto h, c.query.integer("h", 0, 65535));
  KRUNBOX_ASSIGN_OR_RETURN(auto w, c.query.integer("w", 0, 65535));
  if (!h || !w) return bad("resize needs h and w");
  if (*h > 0 && *w > 0)
    KRUNBOX_TRY(resize_kept_exec(c.lc, e.sandbox, e.exec_id, static_cast<uint16_t>(*h), static_cast<uint16_t>(*w)));
  HttpResponse r;
  r.content_type = "text/plain; charset=utf-8";
  return r;
}

Result<HttpResponse> attach_container(Call& c, const std::string& key) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, resolve_container(c.lc, key));
  // stdin=1 attaches nothing: create refuses OpenStdin, so the main
  // process has no stdin (docs/docker-api.md).
  bool logs = c.query.flag("logs"), stream = c.query.flag("stream");
  bool out = c.query.flag("stdout"), err = c.query.flag("stderr");
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView v, c.lc.view(id));
  bool tty = v.config.spec.tty;
  std::string path = c.lc.store().log_path(id);
  // Where the stream starts is fixed now, before the answer goes (the
  // client starts the container once it has it).
  auto follower = std::make_shared<LogFollower>(path, logs ? LogFollower::From::kStart : LogFollower::From::kEnd);
  int64_t run0 = v.status.run;
  bool was_running = v.status.state != SandboxState::kCreated &&
                     !(v.status.state == SandboxState::kStopped || v.status.state == SandboxState::kCrashed);
  StdStream as = out || !err ? StdStream::kStdout : StdStream::kStderr;
  auto attached = std::make_shared<DockerState::Attached>(c.state, id);
  return hijack(c.req, tty, [=](UniqueFd sock, std::string) {
    (void)attached;  // held until the stream is over
    int fd = sock.get();
    auto sink = [&](std::string_view d) {
      if (!out && !err) return true;
      return send_all(fd, tty ? std::string(d) : stdcopy_frame(as, d));
    };
    if (logs && !follower->read_existing(-1, sink)) return;
    if (!stream) {
      ::shutdown(fd, SHUT_WR);
      return;
    }
    Lifecycle lc;
    (void)follower->follow(
        [&] {
          auto now = lc.view(id);
          if (!now) return false;
          const auto& st = now->status;
          bool done = (st.state == SandboxState::kStopped || st.state == SandboxState::kCrashed) && !st.restarting;
          // Before its start (or the next one) the run has not ended yet.
          return !(done && (was_running || st.run > run0));
        },
        sink);
    ::shutdown(fd, SHUT_WR);
  });
}

}  // namespace krunbox::docker
