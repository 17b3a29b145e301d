#include "sandbox/monitor_messages.h"

#include <iterator>
#include <limits>
#include <type_traits>

#include "sandbox/monitor_protocol.h"

namespace krunbox::monitor {
namespace {

constexpr int64_t kMaxGraceMs = 24ll * 3600 * 1000;
constexpr int64_t kMaxExecTimeoutSeconds = 7ll * 24 * 3600;
constexpr int kMaxSignal = 64;

std::string dump(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Reads the fields of one message; every error names the message and field.
class Fields {
 public:
  Fields(const Json& j, std::string what) : j_(j), what_(std::move(what)) {}

  Error error(std::string_view key, std::string_view why) const {
    return Error(ErrorCode::kProtocol, what_ + ": field '" + std::string(key) + "' " + std::string(why));
  }
  bool has(const char* key) const { return j_.contains(key) && !j_.at(key).is_null(); }

  Result<const Json*> field(const char* key) const {
    auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return error(key, "is missing");
    return &*it;
  }

  Result<std::string> str(const char* key, size_t max = proto::kMaxPath) const {
    KRUNBOX_ASSIGN_OR_RETURN(const Json* v, field(key));
    if (!v->is_string()) return error(key, "is not a string");
    const auto& s = v->get_ref<const std::string&>();
    if (s.size() > max) return error(key, "is longer than " + std::to_string(max) + " bytes");
    if (s.find('\0') != std::string::npos) return error(key, "holds a NUL byte");
    return s;
  }

  Result<std::vector<std::string>> strings(const char* key, size_t max_items) const {
    KRUNBOX_ASSIGN_OR_RETURN(const Json* v, field(key));
    if (!v->is_array()) return error(key, "is not an array of strings");
    if (v->size() > max_items) return error(key, "has more than " + std::to_string(max_items) + " entries");
    std::vector<std::string> out;
    out.reserve(v->size());
    for (const auto& e : *v) {
      if (!e.is_string()) return error(key, "is not an array of strings");
      const auto& s = e.get_ref<const std::string&>();
      if (s.find('\0') != std::string::npos) return error(key, "holds a NUL byte");
      out.push_back(s);
    }
    return out;
  }

  Result<bool> boolean(const char* key) const {
    KRUNBOX_ASSIGN_OR_RETURN(const Json* v, field(key));
    if (!v->is_boolean()) return error(key, "is not a boolean");
    return v->get<bool>();
  }

  // An integer in [lo, hi].
  template <typename T>
  Result<T> integer(const char* key, T lo, T hi) const {
    KRUNBOX_ASSIGN_OR_RETURN(const Json* v, field(key));
    if (!v->is_number_integer()) return error(key, "is not an integer");
    auto lo64 = static_cast<int64_t>(lo);
    auto hi64 = static_cast<uint64_t>(hi);
    bool in_range;
    if (v->is_number_unsigned()) {
      uint64_t u = v->get<uint64_t>();
      in_range = u <= hi64 && (lo64 <= 0 || u >= static_cast<uint64_t>(lo64));
    } else {
      int64_t i = v->get<int64_t>();
      in_range = i >= lo64 && (i < 0 || static_cast<uint64_t>(i) <= hi64);
    }
    if (!in_range) return error(key, "is out of range (" + std::to_string(lo) + " to " + std::to_string(hi) + ")");
    return v->is_number_unsigned() ? static_cast<T>(v->get<uint64_t>()) : static_cast<T>(v->get<int64_t>());
  }

 private:
  const Json& j_;
  std::string what_;
};

Result<Json> object(std::string_view payload, std::string_view what) {
  if (payload.size() > kMaxFramePayload)
    return Error(ErrorCode::kProtocol, std::string(what) + ": over the 1 MiB frame limit");
  Json j = Json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error(ErrorCode::kProtocol, std::string(what) + ": not valid JSON");
  if (!j.is_object()) return Error(ErrorCode::kProtocol, std::string(what) + ": not a JSON object");
  return j;
}

Json exec_json(const ExecRequest& r) {
  const Workload& w = r.workload;
  Json j = {{"argv", w.argv}, {"env", w.env}, {"cwd", w.cwd},
            {"user", w.user}, {"tty", w.tty}, {"stdin", w.stdin_open}};
  if (w.tty_size) {
    j["rows"] = w.tty_size->first;
    j["cols"] = w.tty_size->second;
  }
  if (w.timeout.count() > 0) j["timeout_s"] = w.timeout.count();
  if (r.keep) j["keep"] = true;
  return j;
}

Result<ExecRequest> parse_exec(const Fields& f) {
  ExecRequest r;
  Workload& w = r.workload;
  KRUNBOX_ASSIGN_OR_RETURN(w.argv, f.strings("argv", proto::kMaxArgs));
  if (w.argv.empty()) return f.error("argv", "is empty; exec needs a command");
  KRUNBOX_ASSIGN_OR_RETURN(w.env, f.strings("env", proto::kMaxEnv));
  KRUNBOX_ASSIGN_OR_RETURN(w.cwd, f.str("cwd"));
  KRUNBOX_ASSIGN_OR_RETURN(w.user, f.str("user"));
  KRUNBOX_ASSIGN_OR_RETURN(w.tty, f.boolean("tty"));
  KRUNBOX_ASSIGN_OR_RETURN(w.stdin_open, f.boolean("stdin"));
  if (f.has("rows") || f.has("cols")) {
    KRUNBOX_ASSIGN_OR_RETURN(uint16_t rows, f.integer<uint16_t>("rows", 1, UINT16_MAX));
    KRUNBOX_ASSIGN_OR_RETURN(uint16_t cols, f.integer<uint16_t>("cols", 1, UINT16_MAX));
    w.tty_size = std::pair{rows, cols};
  }
  if (f.has("timeout_s")) {
    KRUNBOX_ASSIGN_OR_RETURN(int64_t seconds, f.integer<int64_t>("timeout_s", 1, kMaxExecTimeoutSeconds));
    w.timeout = std::chrono::seconds(seconds);
  }
  if (f.has("keep")) {
    KRUNBOX_ASSIGN_OR_RETURN(r.keep, f.boolean("keep"));
  }
  return r;
}

Result<std::string> parse_exec_id(const Fields& f) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, f.str("exec_id", 64));
  if (!is_exec_id(id)) return f.error("exec_id", "is not an exec id (16 lowercase hex digits)");
  return id;
}

Json exit_json(const proto::ExitMessage& e) {
  return {{"code", e.status.code},
          {"signaled", e.status.signaled},
          {"signal", e.status.signal},
          {"timed_out", e.timed_out}};
}

Result<proto::ExitMessage> parse_exit(const Fields& f) {
  proto::ExitMessage e;
  KRUNBOX_ASSIGN_OR_RETURN(e.status.code, f.integer<int>("code", 0, 255));
  KRUNBOX_ASSIGN_OR_RETURN(e.status.signaled, f.boolean("signaled"));
  KRUNBOX_ASSIGN_OR_RETURN(e.status.signal, f.integer<int>("signal", 0, kMaxSignal));
  KRUNBOX_ASSIGN_OR_RETURN(e.timed_out, f.boolean("timed_out"));
  return e;
}

Result<std::chrono::milliseconds> parse_grace(const Fields& f) {
  KRUNBOX_ASSIGN_OR_RETURN(int64_t ms, f.integer<int64_t>("grace_ms", 0, kMaxGraceMs));
  return std::chrono::milliseconds(ms);
}

Result<std::string> parse_path(const Fields& f) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string path, f.str("path"));
  if (path.empty() || path[0] != '/') return f.error("path", "is not an absolute path");
  return path;
}

Json ok(Json body = Json::object()) {
  body["ok"] = true;
  return body;
}

}  // namespace

bool is_exec_id(std::string_view id) {
  return id.size() == 16 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

std::string_view request_op(const Request& request) {
  static constexpr std::string_view kOps[] = {
      "exec",        "start",       "stop",    "remove",   "kill",     "pause",     "resume",
      "status",      "put",         "get",     "stat",     "attach",   "execs",     "exec_stdin",
      "exec_signal", "exec_resize", "timeout", "list_dir", "make_dir", "move_path", "remove_path", "checkpoint"};
  static_assert(std::size(kOps) == std::variant_size_v<Request>);
  return kOps[request.index()];
}

std::string encode_request(const Request& request) {
  Json j = std::visit(
      [](const auto& r) -> Json {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, ExecRequest>) return exec_json(r);
        if constexpr (std::is_same_v<T, StopRequest> || std::is_same_v<T, RemoveRequest>)
          return {{"grace_ms", r.grace.count()}};
        if constexpr (std::is_same_v<T, KillRequest>) return {{"signal", r.signal}};
        if constexpr (std::is_same_v<T, PutRequest>)
          return {{"path", r.path}, {"mode", r.mode}, {"make_parents", r.make_parents}};
        if constexpr (std::is_same_v<T, GetRequest> || std::is_same_v<T, StatRequest>) return {{"path", r.path}};
        if constexpr (std::is_same_v<T, AttachRequest>)
          return {{"exec_id", r.exec_id}, {"follow", r.follow}, {"offset", r.offset}};
        if constexpr (std::is_same_v<T, ExecStdinRequest>) return {{"exec_id", r.exec_id}, {"close", r.close}};
        if constexpr (std::is_same_v<T, ExecSignalRequest>) return {{"exec_id", r.exec_id}, {"signal", r.signal}};
        if constexpr (std::is_same_v<T, ExecResizeRequest>)
          return {{"exec_id", r.exec_id}, {"rows", r.rows}, {"cols", r.cols}};
        if constexpr (std::is_same_v<T, TimeoutRequest>) return {{"ttl_s", r.ttl.count()}};
        if constexpr (std::is_same_v<T, ListDirRequest>) return {{"path", r.path}, {"depth", r.depth}};
        if constexpr (std::is_same_v<T, MakeDirRequest>)
          return {{"path", r.path}, {"mode", r.mode}, {"parents", r.parents}};
        if constexpr (std::is_same_v<T, MovePathRequest>) return {{"from", r.from}, {"to", r.to}};
        if constexpr (std::is_same_v<T, RemovePathRequest>) return {{"path", r.path}, {"recursive", r.recursive}};
        if constexpr (std::is_same_v<T, CheckpointRequest>) return {{"path", r.dir}};
        return Json::object();
      },
      request);
  j["op"] = request_op(request);
  return dump(j);
}

Result<Request> parse_request(std::string_view payload) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, object(payload, "monitor request"));
  Fields top(j, "monitor request");
  KRUNBOX_ASSIGN_OR_RETURN(std::string op, top.str("op", 32));
  Fields f(j, "monitor request '" + op + "'");
  if (op == "exec") {
    KRUNBOX_ASSIGN_OR_RETURN(auto exec, parse_exec(f));
    return exec;
  }
  if (op == "start") return StartRequest{};
  if (op == "stop") {
    KRUNBOX_ASSIGN_OR_RETURN(auto grace, parse_grace(f));
    return StopRequest{grace};
  }
  if (op == "remove") {
    KRUNBOX_ASSIGN_OR_RETURN(auto grace, parse_grace(f));
    return RemoveRequest{grace};
  }
  if (op == "kill") {
    KRUNBOX_ASSIGN_OR_RETURN(int sig, f.integer<int>("signal", 1, kMaxSignal));
    return KillRequest{sig};
  }
  if (op == "pause") return PauseRequest{};
  if (op == "resume") return ResumeRequest{};
  if (op == "status") return StatusRequest{};
  if (op == "put") {
    PutRequest r;
    KRUNBOX_ASSIGN_OR_RETURN(r.path, parse_path(f));
    KRUNBOX_ASSIGN_OR_RETURN(r.mode, f.integer<uint32_t>("mode", 0, 07777));
    KRUNBOX_ASSIGN_OR_RETURN(r.make_parents, f.boolean("make_parents"));
    return r;
  }
  if (op == "get") {
    KRUNBOX_ASSIGN_OR_RETURN(auto path, parse_path(f));
    return GetRequest{path};
  }
  if (op == "stat") {
    KRUNBOX_ASSIGN_OR_RETURN(auto path, parse_path(f));
    return StatRequest{path};
  }
  if (op == "attach") {
    AttachRequest r;
    KRUNBOX_ASSIGN_OR_RETURN(r.exec_id, parse_exec_id(f));
    KRUNBOX_ASSIGN_OR_RETURN(r.follow, f.boolean("follow"));
    KRUNBOX_ASSIGN_OR_RETURN(r.offset, f.integer<uint64_t>("offset", 0, std::numeric_limits<uint64_t>::max()));
    return r;
  }
  if (op == "execs") return ExecsRequest{};
  if (op == "exec_stdin") {
    ExecStdinRequest r;
    KRUNBOX_ASSIGN_OR_RETURN(r.exec_id, parse_exec_id(f));
    KRUNBOX_ASSIGN_OR_RETURN(r.close, f.boolean("close"));
    return r;
  }
  if (op == "exec_signal") {
    ExecSignalRequest r;
    KRUNBOX_ASSIGN_OR_RETURN(r.exec_id, parse_exec_id(f));
    KRUNBOX_ASSIGN_OR_RETURN(r.signal, f.integer<int>("signal", 1, kMaxSignal));
    return r;
  }
  if (op == "exec_resize") {
    ExecResizeRequest r;
    KRUNBOX_ASSIGN_OR_RETURN(r.exec_id, parse_exec_id(f));
    KRUNBOX_ASSIGN_OR_RETURN(r.rows, f.integer<uint16_t>("rows", 1, UINT16_MAX));
    KRUNBOX_ASSIGN_OR_RETURN(r.cols, f.integer<uint16_t>("cols", 1, UINT16_MAX));
    return r;
  }
  if (op == "list_dir") {
    ListDirRequest r;
    KRUNBOX_ASSIGN_OR_RETURN(r.path, parse_path(f));
    KRUNBOX_ASSIGN_OR_RETURN(r.depth, f.integer<uint32_t>("depth", 1, proto::kMaxListDepth));
    return r;
  }
  if (op == "make_dir") {
    MakeDirRequest r;
    KRUNBOX_ASSIGN_OR_RETURN(r.path, parse_path(f));
    KRUNBOX_ASSIGN_OR_RETURN(r.mode, f.integer<uint32_t>("mode", 0, 07777));
    KRUNBOX_ASSIGN_OR_RETURN(r.parents, f.boolean("parents"));
    return r;
  }
  if (op == "move_path") {
    MovePathRequest r;
    KRUNBOX_ASSIGN_OR_RETURN(r.from, f.str("from"));
    KRUNBOX_ASSIGN_OR_RETURN(r.to, f.str("to"));
    if (r.from.empty() || r.from[0] != '/') return f.error("from", "is not an absolute path");
    if (r.to.empty() || r.to[0] != '/') return f.error("to", "is not an absolute path");
    return r;
  }
  if (op == "remove_path") {
    RemovePathRequest r;
    KRUNBOX_ASSIGN_OR_RETURN(r.path, parse_path(f));
    KRUNBOX_ASSIGN_OR_RETURN(r.recursive, f.boolean("recursive"));
    return r;
  }
  if (op == "checkpoint") {
    KRUNBOX_ASSIGN_OR_RETURN(auto dir, parse_path(f));
    return CheckpointRequest{dir};
  }
  if (op == "timeout") {
    KRUNBOX_ASSIGN_OR_RETURN(int64_t ttl, f.integer<int64_t>("ttl_s", 0, kMaxSandboxTimeout.count()));
    return TimeoutRequest{std::chrono::seconds(ttl)};
  }
  return Error(ErrorCode::kInvalidArgument, "unknown monitor request '" + op + "'");
}

std::string encode_reply(const Status& status) {
  if (status.ok()) return dump(ok());
  const Error& e = status.error();
  return dump({{"ok", false}, {"error", e.what()}, {"code", proto::error_code_name(e.code())}});
}
std::string encode_reply(const CheckpointDone& r) { return dump(ok({{"main_session", r.main_session}})); }

Result<CheckpointDone> parse_checkpoint_done(const Json& body) {
  Fields f(body, "checkpoint reply");
  CheckpointDone r;
  KRUNBOX_ASSIGN_OR_RETURN(r.main_session, f.integer<uint32_t>("main_session", 1, UINT32_MAX));
  return r;
}

std::string encode_reply(const ExecStarted& r) {
  Json j = {{"pid", r.pid}};
  if (!r.exec_id.empty()) j["exec_id"] = r.exec_id;
  return dump(ok(std::move(j)));
}
std::string encode_reply(const AttachStarted& r) {
  return dump(ok({{"first_kept", r.first_kept}, {"from", r.from}}));
}
std::string encode_reply(const ExecsReply& r) {
  Json execs = Json::array();
  for (const auto& e : r.execs) {
    Json j = {{"exec_id", e.exec_id},
              {"pid", e.pid},
              {"argv", e.argv},
              {"tty", e.tty},
              {"started_unix_ms", e.started_unix_ms},
              {"output_bytes", e.output_bytes}};
    if (e.exit) j["exit"] = exit_json(*e.exit);
    if (!e.crash_reason.empty()) j["crash_reason"] = e.crash_reason;
    execs.push_back(std::move(j));
  }
  return dump(ok({{"execs", std::move(execs)}}));
}
std::string encode_reply(const StatusReply& r) {
  return dump(ok({{"status", to_json(r.status)}}));
}
std::string encode_reply(const PutDone& r) {
  return dump(ok({{"size", r.size}}));
}
std::string encode_reply(const GetDone& r) {
  return dump(ok({{"size", r.size}}));
}
std::string encode_reply(const proto::FileStat& r) {
  return dump(ok({{"stat", proto::to_json(r)}}));
}

Result<Json> parse_reply(std::string_view payload) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, object(payload, "monitor reply"));
  Fields f(j, "monitor reply");
  KRUNBOX_ASSIGN_OR_RETURN(bool is_ok, f.boolean("ok"));
  if (is_ok) return j;
  KRUNBOX_ASSIGN_OR_RETURN(std::string message, f.str("error", kMaxFramePayload));
  // Monitors from before the typed protocol sent no code.
  ErrorCode code = ErrorCode::kIllegalState;
  if (f.has("code")) {
    KRUNBOX_ASSIGN_OR_RETURN(std::string name, f.str("code", 64));
    code = proto::error_code_from_name(name).value_or(ErrorCode::kInternal);
  }
  return Error(code, std::move(message));
}

Result<ExecStarted> parse_exec_started(const Json& body) {
  Fields f(body, "exec reply");
  ExecStarted r;
  KRUNBOX_ASSIGN_OR_RETURN(r.pid, f.integer<int64_t>("pid", 0, std::numeric_limits<int64_t>::max()));
  if (f.has("exec_id")) {
    KRUNBOX_ASSIGN_OR_RETURN(r.exec_id, parse_exec_id(f));
  }
  return r;
}

Result<AttachStarted> parse_attach_started(const Json& body) {
  Fields f(body, "attach reply");
  AttachStarted r;
  KRUNBOX_ASSIGN_OR_RETURN(r.first_kept, f.integer<uint64_t>("first_kept", 0, std::numeric_limits<uint64_t>::max()));
  KRUNBOX_ASSIGN_OR_RETURN(r.from, f.integer<uint64_t>("from", 0, std::numeric_limits<uint64_t>::max()));
  return r;
}

std::string encode_reply(const ListDone& r) {
  return dump(ok({{"entries", r.entries}, {"truncated", r.truncated}}));
}

Result<ListDone> parse_list_done(const Json& body) {
  Fields f(body, "list reply");
  ListDone r;
  KRUNBOX_ASSIGN_OR_RETURN(r.entries, f.integer<uint64_t>("entries", 0, proto::kMaxListEntries));
  KRUNBOX_ASSIGN_OR_RETURN(r.truncated, f.boolean("truncated"));
  return r;
}

Result<ExecsReply> parse_execs_reply(const Json& body) {
  Fields f(body, "execs reply");
  KRUNBOX_ASSIGN_OR_RETURN(const Json* execs, f.field("execs"));
  if (!execs->is_array()) return f.error("execs", "is not an array");
  if (execs->size() > 1024) return f.error("execs", "has more than 1024 entries");
  ExecsReply r;
  for (const auto& j : *execs) {
    if (!j.is_object()) return f.error("execs", "holds a non-object");
    Fields e(j, "execs reply entry");
    KeptExecInfo i;
    KRUNBOX_ASSIGN_OR_RETURN(i.exec_id, parse_exec_id(e));
    KRUNBOX_ASSIGN_OR_RETURN(i.pid, e.integer<int64_t>("pid", 0, std::numeric_limits<int64_t>::max()));
    KRUNBOX_ASSIGN_OR_RETURN(i.argv, e.strings("argv", proto::kMaxArgs));
    KRUNBOX_ASSIGN_OR_RETURN(i.tty, e.boolean("tty"));
    KRUNBOX_ASSIGN_OR_RETURN(i.started_unix_ms,
                             e.integer<int64_t>("started_unix_ms", 0, std::numeric_limits<int64_t>::max()));
    KRUNBOX_ASSIGN_OR_RETURN(i.output_bytes,
                             e.integer<uint64_t>("output_bytes", 0, std::numeric_limits<uint64_t>::max()));
    if (e.has("exit")) {
      const Json& x = j.at("exit");
      if (!x.is_object()) return e.error("exit", "is not an object");
      KRUNBOX_ASSIGN_OR_RETURN(auto exit, parse_exit(Fields(x, "execs reply entry's exit")));
      i.exit = exit;
    }
    if (e.has("crash_reason")) {
      KRUNBOX_ASSIGN_OR_RETURN(i.crash_reason, e.str("crash_reason", 4096));
    }
    r.execs.push_back(std::move(i));
  }
  return r;
}

Result<StatusReply> parse_status_reply(const Json& body) {
  Fields f(body, "status reply");
  KRUNBOX_ASSIGN_OR_RETURN(const Json* status, f.field("status"));
  if (!status->is_object()) return f.error("status", "is not an object");
  auto parsed = status_from_json(*status);
  if (!parsed) return std::move(parsed).error().wrap("status reply: field 'status'");
  return StatusReply{std::move(*parsed)};
}

Result<PutDone> parse_put_done(const Json& body) {
  Fields f(body, "put reply");
  KRUNBOX_ASSIGN_OR_RETURN(uint64_t size, f.integer<uint64_t>("size", 0, std::numeric_limits<uint64_t>::max()));
  return PutDone{size};
}

Result<GetDone> parse_get_done(const Json& body) {
  Fields f(body, "get reply");
  KRUNBOX_ASSIGN_OR_RETURN(uint64_t size, f.integer<uint64_t>("size", 0, std::numeric_limits<uint64_t>::max()));
  return GetDone{size};
}

Result<proto::FileStat> parse_stat_reply(const Json& body) {
  Fields f(body, "stat reply");
  KRUNBOX_ASSIGN_OR_RETURN(const Json* stat, f.field("stat"));
  if (!stat->is_object()) return f.error("stat", "is not an object");
  auto parsed = proto::parse_file_stat(*stat);
  if (!parsed) return std::move(parsed).error().wrap("stat reply");
  return parsed;
}

std::string encode_frame_body(const SignalFrame& frame) {
  return dump({{"signal", frame.signal}});
}
std::string encode_frame_body(const ResizeFrame& frame) {
  return dump({{"rows", frame.rows}, {"cols", frame.cols}});
}
std::string encode_frame_body(const proto::ExitMessage& e) {
  return dump(exit_json(e));
}

Result<SignalFrame> parse_signal_frame(std::string_view payload) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, object(payload, "signal frame"));
  Fields f(j, "signal frame");
  KRUNBOX_ASSIGN_OR_RETURN(int sig, f.integer<int>("signal", 1, kMaxSignal));
  return SignalFrame{sig};
}

Result<ResizeFrame> parse_resize_frame(std::string_view payload) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, object(payload, "resize frame"));
  Fields f(j, "resize frame");
  KRUNBOX_ASSIGN_OR_RETURN(uint16_t rows, f.integer<uint16_t>("rows", 1, UINT16_MAX));
  KRUNBOX_ASSIGN_OR_RETURN(uint16_t cols, f.integer<uint16_t>("cols", 1, UINT16_MAX));
  return ResizeFrame{rows, cols};
}

Result<proto::ExitMessage> parse_exit_frame(std::string_view payload) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, object(payload, "exit frame"));
  return parse_exit(Fields(j, "exit frame"));
}

}  // namespace krunbox::monitor
