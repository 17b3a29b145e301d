#include "e2b/process_service.h"

#include <csignal>
#include <memory>

#include "e2b/rpc_stream.h"
#include "image/registry_auth.h"
#include "sandbox/exec_session.h"
#include "sandbox/files_client.h"
#include "sandbox/kept_exec.h"

namespace krunbox::e2b {
namespace {

using serve::HttpRequest;
using serve::HttpResponse;

Json process_event(Json event) { return {{"event", std::move(event)}}; }
const Json& keepalive_message() {
  static const Json k = process_event({{"keepalive", Json::object()}});
  return k;
}

std::string go_signal_name(int sig) {
  switch (sig) {
    case SIGKILL: return "killed";
    case SIGTERM: return "terminated";
    case SIGINT: return "interrupt";
    case SIGHUP: return "hangup";
    case SIGQUIT: return "quit";
    case SIGPIPE: return "broken pipe";
    case SIGABRT: return "aborted";
    case SIGSEGV: return "segmentation fault";
    default: return "signal " + std::to_string(sig);
  }
}

Error bad(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

Result<std::string> string_field(const Json& j, const char* name) {
  if (!j.contains(name) || j[name].is_null()) return std::string();
  if (!j[name].is_string()) return bad(std::string(name) + " must be a string");
  return j[name].get<std::string>();
}

// A uint32 field, which Connect's JSON may send as a number or a string.
Result<std::optional<uint64_t>> uint_field(const Json& j, const char* name) {
  if (!j.contains(name) || j[name].is_null()) return std::optional<uint64_t>();
  const Json& v = j[name];
  if (v.is_number_unsigned()) return std::optional<uint64_t>(v.get<uint64_t>());
  if (v.is_number_integer() && v.get<int64_t>() >= 0) return std::optional<uint64_t>(v.get<int64_t>());
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (!s.empty() && s.size() <= 10 && s.find_first_not_of("0123456789") == std::string::npos)
      return std::optional<uint64_t>(std::stoull(s));
  }
  return bad(std::string(name) + " must be a non-negative whole number");
}

Result<std::pair<uint16_t, uint16_t>> pty_size(const Json& pty) {
  if (!pty.is_object()) return bad("pty must be an object");
  Json size = pty.value("size", Json::object());
  if (!size.is_object()) return bad("pty.size must be an object");
  KRUNBOX_ASSIGN_OR_RETURN(auto cols, uint_field(size, "cols"));
  KRUNBOX_ASSIGN_OR_RETURN(auto rows, uint_field(size, "rows"));
  uint64_t c = cols.value_or(80), r = rows.value_or(24);
  if (c < 1 || c > 1000 || r < 1 || r > 1000) return bad("pty.size must be 1 to 1000 rows and columns");
  return std::make_pair(static_cast<uint16_t>(r), static_cast<uint16_t>(c));
}

Result<Json> selector_of(const Json& message) {
  Json sel = message.value("process", Json());
  if (!sel.is_object()) return bad("process (a selector with pid or tag) is required");
  return sel;
}

Result<int> signal_of(const Json& message) {
  const Json s = message.value("signal", Json());
  if (s.is_string()) {
    if (s == "SIGNAL_SIGKILL") return SIGKILL;
    if (s == "SIGNAL_SIGTERM") return SIGTERM;
  } else if (s.is_number_integer()) {
    int n = s.get<int>();
    if (n == SIGKILL || n == SIGTERM) return n;
  }
  return bad("signal must be SIGNAL_SIGKILL or SIGNAL_SIGTERM");
}

Result<std::string> input_bytes(const Json& message, bool* pty) {
  Json input = message.value("input", Json());
  if (!input.is_object()) return bad("input must be an object with stdin or pty");
  const char* key = input.contains("stdin") ? "stdin" : input.contains("pty") ? "pty" : nullptr;
  if (!key) return bad("input must carry stdin or pty bytes");
  if (pty) *pty = std::string_view(key) == "pty";
  if (!input[key].is_string()) return bad(std::string("input.") + key + " must be base64");
  return image::base64_decode(input[key].get<std::string>());
}

// Streams a kept command's output from `session` as ProcessEvents, then its end.
void stream_events(RpcStream& out, ExecSession& session, int64_t pid, bool tty) {
  if (!out.send(process_event({{"start", {{"pid", pid}}}}))) return;
  auto data = [&](const char* stream) {
    return [&, stream](std::string_view bytes) {
      if (out.gone()) return;
      if (!out.send(process_event({{"data", {{stream, image::base64_encode(bytes)}}}}))) session.abandon();
    };
  };
  auto outcome = session.read_output({data(tty ? "pty" : "stdout"), data("stderr")});
  if (out.gone()) return;
  if (!outcome) {
    out.finish(RpcError::of(outcome.error()));
    return;
  }
  if (!*outcome) {
    out.finish(RpcError{Code::kUnavailable, "the process's output ended before it did"});
    return;
  }
  (void)out.send(process_event({{"end", end_event(**outcome)}}));
  out.finish();
}

}  // namespace

Json end_event(const WorkloadOutcome& outcome) {
  Json e = Json::object();
  switch (outcome.kind()) {
    case WorkloadOutcome::Kind::kExited:
      e["exitCode"] = outcome.status().code;
      e["exited"] = true;
      e["status"] = "exit status " + std::to_string(outcome.status().code);
      break;
    case WorkloadOutcome::Kind::kCrashed:
      e["exitCode"] = -1;
      e["exited"] = false;
      e["status"] = "";
      e["error"] = outcome.reason();
      break;
    default: {
      int sig = outcome.status().signaled ? outcome.status().signal : SIGKILL;
      e["exitCode"] = -1;
      e["exited"] = false;
      e["status"] = "signal: " + go_signal_name(sig);
      if (outcome.timed_out()) e["error"] = "the command ran past its timeout";
      break;
    }
  }
  return e;
}

std::vector<std::string> argv_of(const Json& config, bool have_bash) {
  std::vector<std::string> argv;
  argv.push_back(config.value("cmd", std::string()));
  if (config.contains("args") && config["args"].is_array())
    for (const auto& a : config["args"])
      if (a.is_string()) argv.push_back(a.get<std::string>());
  if (!have_bash && argv[0] == "/bin/bash") argv[0] = "/bin/sh";
  return argv;
}

void ProcessService::remember(const std::string& id, const std::string& exec_id, Meta meta) {
  std::lock_guard lock(mu_);
  // Bounded: the oldest go first (exec ids are random, so this is arbitrary
  // but cheap; List falls back to the command's argv).
  if (meta_.size() >= 4096) meta_.erase(meta_.begin());
  meta_[id + "/" + exec_id] = std::move(meta);
}

Result<std::string> ProcessService::exec_of(Lifecycle& lc, const std::string& id, const Json& selector) {
  KRUNBOX_ASSIGN_OR_RETURN(auto pid, uint_field(selector, "pid"));
  KRUNBOX_ASSIGN_OR_RETURN(std::string tag, string_field(selector, "tag"));
  if (!pid && tag.empty()) return bad("the process selector needs pid or tag");
  KRUNBOX_ASSIGN_OR_RETURN(auto execs, list_kept_execs(lc, id));
  // The newest first: a pid may come back after its first owner ended.
  for (auto it = execs.rbegin(); it != execs.rend(); ++it) {
    if (!it->running()) continue;
    if (pid && static_cast<uint64_t>(it->pid) == *pid) return it->exec_id;
    if (!pid) {
      std::lock_guard lock(mu_);
      auto m = meta_.find(id + "/" + it->exec_id);
      if (m != meta_.end() && m->second.tag == tag) return it->exec_id;
    }
  }
  return Error(ErrorCode::kNotFound,
               pid ? "process with pid " + std::to_string(*pid) + " not found" : "process with tag " + tag + " not found");
}

HttpResponse ProcessService::start(const Json& message, const std::string& id, const std::string& user,
                                   const HttpRequest& request) {
  Json config = message.value("process", Json());
  if (!config.is_object() || !config.contains("cmd") || !config["cmd"].is_string() ||
      config["cmd"].get<std::string>().empty())
    return stream_error({Code::kInvalidArgument, "process.cmd is required"});
  Lifecycle lc;
  Workload w;
  bool have_bash = true;
  if (config["cmd"] == "/bin/bash") have_bash = stat_file(lc, id, "/bin/bash").ok();
  w.argv = argv_of(config, have_bash);
  if (config.contains("envs") && config["envs"].is_object())
    for (const auto& [k, v] : config["envs"].items())
      if (v.is_string()) w.env.push_back(k + "=" + v.get<std::string>());
  w.cwd = config.value("cwd", std::string());
  w.user = user;
  w.stdin_open = message.value("stdin", false) == true;
  bool tty = message.contains("pty") && message["pty"].is_object();
  if (tty) {
    auto size = pty_size(message["pty"]);
    if (!size) return stream_error(RpcError::of(size.error()));
    w.tty = true;
    w.tty_size = *size;
    w.stdin_open = true;
  }
  std::string tag = message.value("tag", std::string());
  auto started = start_kept_exec(lc, id, w);
  if (!started) return stream_error(RpcError::of(started.error()));
  Json cfg = {{"cmd", config["cmd"]},
              {"args", config.value("args", Json::array())},
              {"envs", config.value("envs", Json::object())}};
  if (!w.cwd.empty()) cfg["cwd"] = w.cwd;
  remember(id, started->exec_id, {tag, cfg});
  auto attached = ExecSession::attach(lc, id, started->exec_id, /*follow=*/true, 0);
  if (!attached) return stream_error(RpcError::of(attached.error()));
  std::shared_ptr<ExecSession> session(std::move(*attached));
  auto interval = keepalive_interval(request);
  int64_t pid = started->pid;
  return stream_response([session, interval, pid, tty](const serve::ChunkWriter& write) {
    RpcStream out(write, keepalive_message(), interval);
    stream_events(out, *session, pid, tty);
  });
}

HttpResponse ProcessService::connect(const Json& message, const std::string& id, const HttpRequest& request) {
  Lifecycle lc;
  auto sel = selector_of(message);
  if (!sel) return stream_error(RpcError::of(sel.error()));
  auto exec_id = exec_of(lc, id, *sel);
  if (!exec_id) return stream_error(RpcError::of(exec_id.error()));
  auto info = kept_exec_info(lc, id, *exec_id);
  if (!info) return stream_error(RpcError::of(info.error()));
  // From now on, as envd's subscribers get it.
  auto attached = ExecSession::attach(lc, id, *exec_id, /*follow=*/true, info->output_bytes);
  if (!attached) return stream_error(RpcError::of(attached.error()));
  std::shared_ptr<ExecSession> session(std::move(*attached));
  auto interval = keepalive_interval(request);
  int64_t pid = info->pid;
  bool tty = info->tty;
  return stream_response([session, interval, pid, tty](const serve::ChunkWriter& write) {
    RpcStream out(write, keepalive_message(), interval);
    stream_events(out, *session, pid, tty);
  });
}

Result<Json> ProcessService::list(const std::string& id) {
  Lifecycle lc;
  KRUNBOX_ASSIGN_OR_RETURN(auto execs, list_kept_execs(lc, id));
  Json processes = Json::array();
  for (const auto& e : execs) {
    if (!e.running()) continue;
    Json p = {{"pid", e.pid}};
    std::lock_guard lock(mu_);
    auto m = meta_.find(id + "/" + e.exec_id);
    if (m != meta_.end()) {
      p["config"] = m->second.config;
      if (!m->second.tag.empty()) p["tag"] = m->second.tag;
    } else {
      Json args = Json::array();
      for (size_t i = 1; i < e.argv.size(); ++i) args.push_back(e.argv[i]);
      p["config"] = {{"cmd", e.argv.empty() ? "" : e.argv[0]}, {"args", args}, {"envs", Json::object()}};
    }
    processes.push_back(std::move(p));
  }
  return Json{{"processes", processes}};
}

HttpResponse ProcessService::stream_input(const std::string& id, const HttpRequest& request) {
  auto run = [&]() -> Status {
    EnvelopeReader in(request.body_reader());
    auto next_message = [&]() -> Result<std::optional<Json>> {
      KRUNBOX_ASSIGN_OR_RETURN(auto e, in.next());
      if (!e) return std::optional<Json>();
      if (e->flags != 0) return bad("a StreamInput request envelope has flags set (only the server ends a stream)");
      KRUNBOX_ASSIGN_OR_RETURN(Json m, parse_json(e->data, "a StreamInput message"));
      if (!m.is_object()) return bad("a StreamInput message must be a JSON object");
      return std::optional<Json>(std::move(m));
    };
    KRUNBOX_ASSIGN_OR_RETURN(auto first, next_message());
    if (!first || !first->contains("start") || !(*first)["start"].is_object())
      return bad("StreamInput's first message must be start{process}, naming the process by pid or tag");
    Lifecycle lc;
    KRUNBOX_ASSIGN_OR_RETURN(Json sel, selector_of((*first)["start"]));
    KRUNBOX_ASSIGN_OR_RETURN(std::string exec_id, exec_of(lc, id, sel));
    for (;;) {
      KRUNBOX_ASSIGN_OR_RETURN(auto m, next_message());
      if (!m) return {};
      if (m->contains("keepalive")) continue;
      if (!m->contains("data") || !(*m)["data"].is_object())
        return bad("a StreamInput message after start is data{input} or keepalive");
      KRUNBOX_ASSIGN_OR_RETURN(std::string bytes, input_bytes((*m)["data"], nullptr));
      KRUNBOX_TRY(write_kept_exec_stdin(lc, id, exec_id, bytes, /*close=*/false));
    }
  };
  Status st = run();
  if (!st.ok()) return stream_error(RpcError::of(st.error()));
  return client_stream_response(Json::object());
}

HttpResponse ProcessService::call(const std::string& method, const Json& message, const std::string& id,
                                  const std::string& user, const HttpRequest& request) {
  if (method == "Start") return start(message, id, user, request);
  if (method == "Connect") return connect(message, id, request);
  auto unary = [&]() -> Result<Json> {
    if (method == "List") return list(id);
    Lifecycle lc;
    if (method != "SendInput" && method != "SendSignal" && method != "CloseStdin" && method != "Update")
      return Error(ErrorCode::kUnsupported, "process.Process/" + method + " is not served by krunbox");
    KRUNBOX_ASSIGN_OR_RETURN(Json sel, selector_of(message));
    if (method == "SendInput") {
      KRUNBOX_ASSIGN_OR_RETURN(std::string data, input_bytes(message, nullptr));
      KRUNBOX_ASSIGN_OR_RETURN(std::string exec_id, exec_of(lc, id, sel));
      KRUNBOX_TRY(write_kept_exec_stdin(lc, id, exec_id, data, /*close=*/false));
    } else if (method == "SendSignal") {
      KRUNBOX_ASSIGN_OR_RETURN(int sig, signal_of(message));
      KRUNBOX_ASSIGN_OR_RETURN(std::string exec_id, exec_of(lc, id, sel));
      KRUNBOX_TRY(signal_kept_exec(lc, id, exec_id, sig));
    } else if (method == "CloseStdin") {
      KRUNBOX_ASSIGN_OR_RETURN(std::string exec_id, exec_of(lc, id, sel));
      KRUNBOX_TRY(write_kept_exec_stdin(lc, id, exec_id, {}, /*close=*/true));
    } else {
      KRUNBOX_ASSIGN_OR_RETURN(std::string exec_id, exec_of(lc, id, sel));
      if (message.contains("pty") && message["pty"].is_object()) {
        KRUNBOX_ASSIGN_OR_RETURN(auto size, pty_size(message["pty"]));
        KRUNBOX_TRY(resize_kept_exec(lc, id, exec_id, size.first, size.second));
      }
    }
    return Json::object();
  }();
  if (!unary) return unary_error(RpcError::of(unary.error()));
  return unary_response(*unary);
}

}  // namespace krunbox::e2b
