#include "proto/messages.h"

#include <iterator>
#include <limits>

#include "proto/frame.h"

namespace krunbox::proto {
namespace {

std::string dump(const Json& j) {
  // Invalid UTF-8 (a non-UTF-8 file name in an error) is replaced, not thrown on.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Error bad(std::string_view what, std::string_view why) {
  return Error(ErrorCode::kProtocol, std::string(what) + ": " + std::string(why));
}

Result<Json> parse_object(std::string_view payload, std::string_view what) {
  if (payload.size() > kMaxControlPayload) return bad(what, "message too large");
  Json j = Json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad(what, "not valid JSON");
  if (!j.is_object()) return bad(what, "not a JSON object");
  return j;
}

// Field readers: a missing optional field yields the default; a present field
// of the wrong type or range is an error naming it.
class Reader {
 public:
  Reader(const Json& j, std::string_view what) : j_(j), what_(what) {}

  const Json* find(const char* key) const {
    auto it = j_.find(key);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }
  Error field_error(const char* key, std::string_view why) const {
    return bad(what_, std::string("field '") + key + "' " + std::string(why));
  }

  Result<std::string> str(const char* key, bool required, size_t max = kMaxPath) const {
    const Json* v = find(key);
    if (!v) {
      if (required) return field_error(key, "is missing");
      return std::string();
    }
    if (!v->is_string()) return field_error(key, "is not a string");
    const std::string& s = v->get_ref<const std::string&>();
    if (s.size() > max) return field_error(key, "is too long");
    if (s.find('\0') != std::string::npos) return field_error(key, "holds a NUL byte");
    return s;
  }

  template <typename T>
  Result<std::optional<T>> opt_uint(const char* key, T max = std::numeric_limits<T>::max()) const {
    const Json* v = find(key);
    if (!v) return std::optional<T>();
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<int64_t>() >= 0))
      return field_error(key, "is not a non-negative integer");
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(max)) return field_error(key, "is out of range");
    return std::optional<T>(static_cast<T>(u));
  }

  template <typename T>
  Result<T> uint(const char* key, T fallback, bool required = false, T max = std::numeric_limits<T>::max()) const {
    KRUNBOX_ASSIGN_OR_RETURN(auto v, opt_uint<T>(key, max));
    if (!v) {
      if (required) return field_error(key, "is missing");
      return fallback;
    }
    return *v;
  }

  Result<int64_t> int64(const char* key, int64_t fallback) const {
    const Json* v = find(key);
    if (!v) return fallback;
    if (!v->is_number_integer()) return field_error(key, "is not an integer");
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX))
      return field_error(key, "is out of range");
    return v->get<int64_t>();
  }

  Result<bool> boolean(const char* key, bool fallback) const {
    const Json* v = find(key);
    if (!v) return fallback;
    if (!v->is_boolean()) return field_error(key, "is not a boolean");
    return v->get<bool>();
  }

  Result<std::vector<std::string>> strings(const char* key, size_t max_items, size_t max_len) const {
    std::vector<std::string> out;
    const Json* v = find(key);
    if (!v) return out;
    if (!v->is_array()) return field_error(key, "is not an array");
    if (v->size() > max_items) return field_error(key, "has too many items");
    for (const Json& e : *v) {
      if (!e.is_string()) return field_error(key, "holds a non-string");
      const std::string& s = e.get_ref<const std::string&>();
      if (s.size() > max_len) return field_error(key, "holds a string that is too long");
      if (s.find('\0') != std::string::npos) return field_error(key, "holds a NUL byte");
      out.push_back(s);
    }
    return out;
  }

 private:
  const Json& j_;
  std::string_view what_;
};

Result<std::string> abs_path(const Reader& r, const char* key) {
  KRUNBOX_ASSIGN_OR_RETURN(auto p, r.str(key, true));
  if (p.empty() || p[0] != '/') return r.field_error(key, "is not an absolute path");
  return p;
}

Result<Request> parse_exec(const Reader& r) {
  ExecRequest m;
  KRUNBOX_ASSIGN_OR_RETURN(m.argv, r.strings("argv", kMaxArgs, kMaxControlPayload));
  if (m.argv.empty()) return r.field_error("argv", "is missing or empty");
  if (m.argv[0].empty()) return r.field_error("argv", "has an empty program name");
  KRUNBOX_ASSIGN_OR_RETURN(m.env, r.strings("env", kMaxEnv, kMaxControlPayload));
  for (const auto& e : m.env)
    if (e.find('=') == std::string::npos || e[0] == '=') return r.field_error("env", "holds an entry that is not K=V");
  KRUNBOX_ASSIGN_OR_RETURN(auto mode, r.str("env_mode", false, 16));
  if (mode.empty() || mode == "merge") {
    m.env_mode = EnvMode::kMerge;
  } else if (mode == "replace") {
    m.env_mode = EnvMode::kReplace;
  } else {
    return r.field_error("env_mode", "is neither merge nor replace");
  }
  KRUNBOX_ASSIGN_OR_RETURN(m.cwd, r.str("cwd", false));
  if (!m.cwd.empty() && m.cwd[0] != '/') return r.field_error("cwd", "is not an absolute path");
  KRUNBOX_ASSIGN_OR_RETURN(m.user, r.str("user", false, 256));
  KRUNBOX_ASSIGN_OR_RETURN(m.uid, r.opt_uint<uint32_t>("uid"));
  KRUNBOX_ASSIGN_OR_RETURN(m.gid, r.opt_uint<uint32_t>("gid"));
  if (const Json* g = r.find("groups")) {
    if (!g->is_array()) return r.field_error("groups", "is not an array");
    if (g->size() > kMaxGroups) return r.field_error("groups", "has too many items");
    std::vector<uint32_t> groups;
    for (const Json& e : *g) {
      if (!e.is_number_unsigned() || e.get<uint64_t>() > UINT32_MAX)
        return r.field_error("groups", "holds a value that is not a gid");
      groups.push_back(e.get<uint32_t>());
    }
    m.groups = std::move(groups);
  }
  KRUNBOX_ASSIGN_OR_RETURN(m.tty, r.boolean("tty", false));
  KRUNBOX_ASSIGN_OR_RETURN(m.rows, r.uint<uint16_t>("rows", 24));
  KRUNBOX_ASSIGN_OR_RETURN(m.cols, r.uint<uint16_t>("cols", 80));
  KRUNBOX_ASSIGN_OR_RETURN(m.stdin_open, r.boolean("stdin", true));
  KRUNBOX_ASSIGN_OR_RETURN(m.timeout_ms, r.uint<uint64_t>("timeout_ms", 0, false, uint64_t{1} << 40));
  KRUNBOX_ASSIGN_OR_RETURN(m.keep, r.boolean("keep", false));
  return Request(std::move(m));
}

Result<Request> parse_adopt(const Reader& r) {
  AdoptRequest m;
  KRUNBOX_ASSIGN_OR_RETURN(m.session, r.uint<uint32_t>("session", 0, true));
  if (m.session == 0) return r.field_error("session", "is zero");
  return Request(m);
}

Result<Request> parse_reseed(const Reader& r) {
  ReseedRequest m;
  KRUNBOX_ASSIGN_OR_RETURN(auto hex, r.str("entropy", true, 2 * kMaxReseedEntropy));
  if (hex.size() % 2 != 0 || hex.size() < 2 * kMinReseedEntropy)
    return r.field_error("entropy", "is not " + std::to_string(kMinReseedEntropy) + " to " +
                                        std::to_string(kMaxReseedEntropy) + " bytes of hex");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return r.field_error("entropy", "is not lower-case hex");
    m.entropy.push_back(static_cast<char>(hi << 4 | lo));
  }
  KRUNBOX_ASSIGN_OR_RETURN(m.realtime_ns, r.int64("realtime_ns", 0));
  if (m.realtime_ns < 0) return r.field_error("realtime_ns", "is negative");
  KRUNBOX_ASSIGN_OR_RETURN(m.hostname, r.str("hostname", false, 64));
  return Request(std::move(m));
}

Result<Request> parse_signal(const Reader& r) {
  SignalRequest m;
  KRUNBOX_ASSIGN_OR_RETURN(m.session, r.uint<uint32_t>("session", 0, true));
  KRUNBOX_ASSIGN_OR_RETURN(auto sig, r.uint<uint32_t>("signal", 0, true, 64));
  if (sig == 0) return r.field_error("signal", "is zero");
  m.signal = static_cast<int>(sig);
  KRUNBOX_ASSIGN_OR_RETURN(m.group, r.boolean("group", false));
  return Request(m);
}

Result<Request> parse_resize(const Reader& r) {
  ResizeRequest m;
  KRUNBOX_ASSIGN_OR_RETURN(m.session, r.uint<uint32_t>("session", 0, true));
  KRUNBOX_ASSIGN_OR_RETURN(m.rows, r.uint<uint16_t>("rows", 0, true));
  KRUNBOX_ASSIGN_OR_RETURN(m.cols, r.uint<uint16_t>("cols", 0, true));
  return Request(m);
}

Result<Request> parse_put(const Reader& r) {
  PutRequest m;
  KRUNBOX_ASSIGN_OR_RETURN(m.path, abs_path(r, "path"));
  KRUNBOX_ASSIGN_OR_RETURN(m.mode, r.uint<uint32_t>("mode", 0644, false, 07777));
  KRUNBOX_ASSIGN_OR_RETURN(m.uid, r.uint<uint32_t>("uid", 0));
  KRUNBOX_ASSIGN_OR_RETURN(m.gid, r.uint<uint32_t>("gid", 0));
  KRUNBOX_ASSIGN_OR_RETURN(m.make_parents, r.boolean("make_parents", false));
  return Request(std::move(m));
}

Result<Request> parse_list(const Reader& r) {
  ListRequest m;
  KRUNBOX_ASSIGN_OR_RETURN(m.path, abs_path(r, "path"));
  KRUNBOX_ASSIGN_OR_RETURN(m.depth, r.uint<uint32_t>("depth", 1, false, kMaxListDepth));
  if (m.depth == 0) return r.field_error("depth", "is out of range");
  return Request(std::move(m));
}

Result<Request> parse_mkdir(const Reader& r) {
  MkdirRequest m;
  KRUNBOX_ASSIGN_OR_RETURN(m.path, abs_path(r, "path"));
  KRUNBOX_ASSIGN_OR_RETURN(m.mode, r.uint<uint32_t>("mode", 0755, false, 07777));
  KRUNBOX_ASSIGN_OR_RETURN(m.uid, r.uint<uint32_t>("uid", 0));
  KRUNBOX_ASSIGN_OR_RETURN(m.gid, r.uint<uint32_t>("gid", 0));
  KRUNBOX_ASSIGN_OR_RETURN(m.parents, r.boolean("parents", false));
  return Request(std::move(m));
}

Result<Request> parse_move(const Reader& r) {
  MoveRequest m;
  KRUNBOX_ASSIGN_OR_RETURN(m.from, abs_path(r, "from"));
  KRUNBOX_ASSIGN_OR_RETURN(m.to, abs_path(r, "to"));
  return Request(std::move(m));
}

Result<Request> parse_remove(const Reader& r) {
  RemoveRequest m;
  KRUNBOX_ASSIGN_OR_RETURN(m.path, abs_path(r, "path"));
  KRUNBOX_ASSIGN_OR_RETURN(m.recursive, r.boolean("recursive", false));
  return Request(std::move(m));
}

Result<Request> parse_shutdown(const Reader& r) {
  ShutdownRequest m;
  KRUNBOX_ASSIGN_OR_RETURN(m.grace_ms, r.uint<uint64_t>("grace_ms", 5000, false, 3600u * 1000));
  KRUNBOX_ASSIGN_OR_RETURN(auto action, r.str("action", false, 16));
  if (action.empty() || action == "default") {
    m.action = ShutdownAction::kDefault;
  } else if (action == "poweroff") {
    m.action = ShutdownAction::kPowerOff;
  } else if (action == "reboot") {
    m.action = ShutdownAction::kReboot;
  } else if (action == "exit") {
    m.action = ShutdownAction::kExit;
  } else {
    return r.field_error("action", "is not default, poweroff, reboot or exit");
  }
  return Request(m);
}

const char* action_name(ShutdownAction a) {
  switch (a) {
    case ShutdownAction::kDefault: return "default";
    case ShutdownAction::kPowerOff: return "poweroff";
    case ShutdownAction::kReboot: return "reboot";
    case ShutdownAction::kExit: return "exit";
  }
  return "default";
}

struct RequestEncoder {
  Json operator()(const ExecRequest& m) const {
    Json j{{"op", "exec"}, {"argv", m.argv}, {"env", m.env},
           {"env_mode", m.env_mode == EnvMode::kReplace ? "replace" : "merge"},
           {"tty", m.tty}, {"rows", m.rows}, {"cols", m.cols}, {"stdin", m.stdin_open},
           {"timeout_ms", m.timeout_ms}};
    if (!m.cwd.empty()) j["cwd"] = m.cwd;
    if (!m.user.empty()) j["user"] = m.user;
    if (m.uid) j["uid"] = *m.uid;
    if (m.gid) j["gid"] = *m.gid;
    if (m.groups) j["groups"] = *m.groups;
    if (m.keep) j["keep"] = true;
    return j;
  }
  Json operator()(const AdoptRequest& m) const { return {{"op", "adopt"}, {"session", m.session}}; }
  Json operator()(const ReseedRequest& m) const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned char c : m.entropy) {
      hex.push_back(kHex[c >> 4]);
      hex.push_back(kHex[c & 15]);
    }
    Json j{{"op", "reseed"}, {"entropy", hex}, {"realtime_ns", m.realtime_ns}};
    if (!m.hostname.empty()) j["hostname"] = m.hostname;
    return j;
  }
  Json operator()(const SignalRequest& m) const {
    return {{"op", "signal"}, {"session", m.session}, {"signal", m.signal}, {"group", m.group}};
  }
  Json operator()(const ResizeRequest& m) const {
    return {{"op", "resize"}, {"session", m.session}, {"rows", m.rows}, {"cols", m.cols}};
  }
  Json operator()(const PutRequest& m) const {
    return {{"op", "put"}, {"path", m.path}, {"mode", m.mode}, {"uid", m.uid}, {"gid", m.gid},
            {"make_parents", m.make_parents}};
  }
  Json operator()(const GetRequest& m) const { return {{"op", "get"}, {"path", m.path}}; }
  Json operator()(const StatRequest& m) const { return {{"op", "stat"}, {"path", m.path}}; }
  Json operator()(const PingRequest&) const { return {{"op", "ping"}}; }
  Json operator()(const InfoRequest&) const { return {{"op", "info"}}; }
  Json operator()(const ShutdownRequest& m) const {
    return {{"op", "shutdown"}, {"grace_ms", m.grace_ms}, {"action", action_name(m.action)}};
  }
  Json operator()(const ListRequest& m) const { return {{"op", "list"}, {"path", m.path}, {"depth", m.depth}}; }
  Json operator()(const MkdirRequest& m) const {
    return {{"op", "mkdir"}, {"path", m.path}, {"mode", m.mode}, {"uid", m.uid}, {"gid", m.gid},
            {"parents", m.parents}};
  }
  Json operator()(const MoveRequest& m) const { return {{"op", "move"}, {"from", m.from}, {"to", m.to}}; }
  Json operator()(const RemoveRequest& m) const {
    return {{"op", "remove"}, {"path", m.path}, {"recursive", m.recursive}};
  }
};

// A guest path of kMaxPath bytes may arrive three times as long: each byte
// that is not UTF-8 is sent as U+FFFD (three bytes).
constexpr size_t kMaxSentPath = 3 * kMaxPath;

// The stat fields, shared by the stat RESPONSE and each list entry.
Result<FileStat> read_file_stat(const Reader& r) {
  FileStat m;
  KRUNBOX_ASSIGN_OR_RETURN(m.type, r.str("type", true, 16));
  if (m.type != "file" && m.type != "dir" && m.type != "symlink" && m.type != "other")
    return r.field_error("type", "is not file, dir, symlink or other");
  KRUNBOX_ASSIGN_OR_RETURN(m.mode, r.uint<uint32_t>("mode", 0));
  KRUNBOX_ASSIGN_OR_RETURN(m.size, r.uint<uint64_t>("size", 0));
  KRUNBOX_ASSIGN_OR_RETURN(m.uid, r.uint<uint32_t>("uid", 0));
  KRUNBOX_ASSIGN_OR_RETURN(m.gid, r.uint<uint32_t>("gid", 0));
  KRUNBOX_ASSIGN_OR_RETURN(m.mtime_ns, r.int64("mtime_ns", 0));
  KRUNBOX_ASSIGN_OR_RETURN(m.target, r.str("target", false, kMaxSentPath));
  return m;
}

// A relative path a host may join to a directory: no leading slash, and no
// empty, "." or ".." component that could climb out of it.
bool clean_relative_path(std::string_view p) {
  if (p.empty() || p.front() == '/') return false;
  for (;;) {
    size_t slash = p.find('/');
    std::string_view part = p.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return false;
    if (slash == std::string_view::npos) return true;
    p.remove_prefix(slash + 1);
  }
}

Json error_body(const Error& e) {
  return {{"code", error_code_name(e.code())}, {"message", e.what()}, {"errno", e.sys_errno()}};
}

Result<ErrorMessage> error_from_body(const Json& j, std::string_view what) {
  if (!j.is_object()) return bad(what, "error is not an object");
  Reader r(j, what);
  KRUNBOX_ASSIGN_OR_RETURN(auto code_name, r.str("code", true, 64));
  KRUNBOX_ASSIGN_OR_RETURN(auto message, r.str("message", false, kMaxControlPayload));
  KRUNBOX_ASSIGN_OR_RETURN(auto err, r.uint<uint32_t>("errno", 0, false, 4095));
  auto code = error_code_from_name(code_name);
  // An unknown code from a newer peer still carries its message.
  // The guest errno is already in the message; as our errno it would mislead the host's strerror.
  (void)err;
  return ErrorMessage{Error(code.value_or(ErrorCode::kInternal), message)};
}

}  // namespace

bool AgentHello::has(std::string_view capability) const {
  for (const auto& c : capabilities)
    if (c == capability) return true;
  return false;
}

std::string_view request_op(const Request& request) {
  static constexpr const char* kNames[] = {"exec", "signal",   "resize", "put",   "get",  "stat",  "ping",
                                           "info", "shutdown", "list",   "mkdir", "move", "remove",
                                           "adopt", "reseed"};
  static_assert(std::size(kNames) == std::variant_size_v<Request>);
  return kNames[request.index()];
}

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kPermissionDenied: return "permission_denied";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kProtocol: return "protocol";
    case ErrorCode::kLimitExceeded: return "limit_exceeded";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kIllegalState: return "illegal_state";
    case ErrorCode::kBusy: return "busy";
    case ErrorCode::kInternal: return "internal";
  }
  return "internal";
}

std::optional<ErrorCode> error_code_from_name(std::string_view name) {
  for (int i = 0; i <= static_cast<int>(ErrorCode::kInternal); ++i) {
    auto c = static_cast<ErrorCode>(i);
    if (error_code_name(c) == name) return c;
  }
  return std::nullopt;
}

std::string encode(const ClientHello& m) {
  return dump({{"protocol", m.protocol}, {"min_protocol", m.min_protocol}, {"client", m.client}});
}

std::string encode(const AgentHello& m) {
  return dump({{"protocol", m.protocol}, {"agent_version", m.agent_version}, {"capabilities", m.capabilities},
               {"max_payload", m.max_payload}, {"initial_window", m.initial_window}, {"pid1", m.pid1}});
}

std::string encode_request(const Request& m) { return dump(std::visit(RequestEncoder{}, m)); }

std::string encode_ok(const Json& body) {
  Json j = body.is_object() ? body : Json::object();
  j["ok"] = true;
  return dump(j);
}

std::string encode_error_response(const Error& error) {
  return dump({{"ok", false}, {"error", error_body(error)}});
}

std::string encode(const ExitMessage& m) {
  Json j = m.status.signaled ? Json{{"signal", m.status.signal}} : Json{{"code", m.status.code}};
  if (m.timed_out) j["timed_out"] = true;
  return dump(j);
}

std::string encode_cancel(std::string_view reason) {
  return dump({{"reason", std::string(reason.substr(0, kMaxControlPayload / 2))}});
}

std::string encode_error(const Error& error) { return dump(error_body(error)); }

std::string encode_window(uint32_t increment) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(increment >> (8 * i));
  return s;
}

Json to_json(const ExecStarted& m) { return {{"pid", m.pid}}; }
Json to_json(const PutDone& m) { return {{"size", m.size}}; }
Json to_json(const GetStarted& m) { return {{"size", m.size}, {"mode", m.mode}}; }
Json to_json(const FileStat& m) {
  Json j{{"type", m.type}, {"mode", m.mode}, {"size", m.size}, {"uid", m.uid}, {"gid", m.gid},
         {"mtime_ns", m.mtime_ns}};
  if (!m.target.empty()) j["target"] = m.target;
  return j;
}
Json to_json(const ListStarted& m) {
  return {{"entries", m.entries}, {"size", m.size}, {"truncated", m.truncated}};
}
std::string encode_dir_entry(const DirEntry& m) {
  Json j = to_json(m.stat);
  j["name"] = m.name;
  return dump(j) + "\n";
}
Json to_json(const PingReply& m) { return {{"uptime_ms", m.uptime_ms}}; }
Json to_json(const InfoReply& m) {
  return {{"kernel", m.kernel}, {"hostname", m.hostname}, {"cpus", m.cpus}, {"mem_total", m.mem_total},
          {"mem_available", m.mem_available}, {"agent_version", m.agent_version}, {"pid1", m.pid1}};
}

Result<ClientHello> parse_client_hello(std::string_view payload) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(payload, "client HELLO"));
  Reader r(j, "client HELLO");
  ClientHello m;
  KRUNBOX_ASSIGN_OR_RETURN(m.protocol, r.uint<uint32_t>("protocol", 0, true));
  KRUNBOX_ASSIGN_OR_RETURN(m.min_protocol, r.uint<uint32_t>("min_protocol", m.protocol));
  if (m.min_protocol > m.protocol) return r.field_error("min_protocol", "is above protocol");
  KRUNBOX_ASSIGN_OR_RETURN(m.client, r.str("client", false, 256));
  return m;
}

Result<AgentHello> parse_agent_hello(std::string_view payload) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(payload, "agent HELLO"));
  Reader r(j, "agent HELLO");
  AgentHello m;
  KRUNBOX_ASSIGN_OR_RETURN(m.protocol, r.uint<uint32_t>("protocol", 0, true));
  KRUNBOX_ASSIGN_OR_RETURN(m.agent_version, r.str("agent_version", false, 256));
  KRUNBOX_ASSIGN_OR_RETURN(m.capabilities, r.strings("capabilities", 256, 64));
  KRUNBOX_ASSIGN_OR_RETURN(m.max_payload, r.uint<uint32_t>("max_payload", kMaxPayload));
  KRUNBOX_ASSIGN_OR_RETURN(m.initial_window, r.uint<uint32_t>("initial_window", kInitialWindow));
  KRUNBOX_ASSIGN_OR_RETURN(m.pid1, r.boolean("pid1", false));
  return m;
}

Result<Request> parse_request(std::string_view payload) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(payload, "REQUEST"));
  Reader r(j, "REQUEST");
  KRUNBOX_ASSIGN_OR_RETURN(auto op, r.str("op", true, 32));
  std::string what = "REQUEST " + op;
  Reader rr(j, what);
  if (op == "exec") return parse_exec(rr);
  if (op == "signal") return parse_signal(rr);
  if (op == "resize") return parse_resize(rr);
  if (op == "put") return parse_put(rr);
  if (op == "get") {
    KRUNBOX_ASSIGN_OR_RETURN(auto p, abs_path(rr, "path"));
    return Request(GetRequest{std::move(p)});
  }
  if (op == "stat") {
    KRUNBOX_ASSIGN_OR_RETURN(auto p, abs_path(rr, "path"));
    return Request(StatRequest{std::move(p)});
  }
  if (op == "ping") return Request(PingRequest{});
  if (op == "info") return Request(InfoRequest{});
  if (op == "shutdown") return parse_shutdown(rr);
  if (op == "list") return parse_list(rr);
  if (op == "mkdir") return parse_mkdir(rr);
  if (op == "move") return parse_move(rr);
  if (op == "remove") return parse_remove(rr);
  if (op == "adopt") return parse_adopt(rr);
  if (op == "reseed") return parse_reseed(rr);
  return Error(ErrorCode::kUnsupported, "REQUEST: unknown op '" + op + "'");
}

Result<Result<Json>> parse_response(std::string_view payload) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(payload, "RESPONSE"));
  Reader r(j, "RESPONSE");
  KRUNBOX_ASSIGN_OR_RETURN(bool ok, r.boolean("ok", false));
  if (ok) return Result<Json>(std::move(j));
  const Json* e = r.find("error");
  if (!e) return bad("RESPONSE", "neither ok nor error");
  KRUNBOX_ASSIGN_OR_RETURN(ErrorMessage err, error_from_body(*e, "RESPONSE error"));
  return Result<Json>(std::move(err.error));
}

Result<ExitMessage> parse_exit(std::string_view payload) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(payload, "EXIT"));
  Reader r(j, "EXIT");
  KRUNBOX_ASSIGN_OR_RETURN(auto code, r.opt_uint<uint32_t>("code", 255));
  KRUNBOX_ASSIGN_OR_RETURN(auto sig, r.opt_uint<uint32_t>("signal", 127));
  if (code.has_value() == sig.has_value()) return bad("EXIT", "needs exactly one of code and signal");
  ExitMessage m;
  m.status = code ? ExitStatus::exited(static_cast<int>(*code)) : ExitStatus::killed(static_cast<int>(*sig));
  KRUNBOX_ASSIGN_OR_RETURN(m.timed_out, r.boolean("timed_out", false));
  return m;
}

Result<std::string> parse_cancel(std::string_view payload) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(payload, "CANCEL"));
  return Reader(j, "CANCEL").str("reason", false, kMaxControlPayload);
}

Result<ErrorMessage> parse_error(std::string_view payload) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(payload, "ERROR"));
  return error_from_body(j, "ERROR");
}

Result<uint32_t> parse_window(std::string_view payload) {
  if (payload.size() != 4) return bad("WINDOW", "payload is not 4 bytes");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(payload[i])) << (8 * i);
  if (v == 0) return bad("WINDOW", "zero increment");
  if (v > kMaxWindow) return bad("WINDOW", "increment above the maximum window");
  return v;
}

Result<ExecStarted> parse_exec_started(const Json& body) {
  Reader r(body, "exec RESPONSE");
  ExecStarted m;
  KRUNBOX_ASSIGN_OR_RETURN(m.pid, r.int64("pid", 0));
  if (m.pid <= 0) return r.field_error("pid", "is missing or not positive");
  return m;
}

Result<PutDone> parse_put_done(const Json& body) {
  Reader r(body, "put RESPONSE");
  PutDone m;
  KRUNBOX_ASSIGN_OR_RETURN(m.size, r.uint<uint64_t>("size", 0, true));
  return m;
}

Result<GetStarted> parse_get_started(const Json& body) {
  Reader r(body, "get RESPONSE");
  GetStarted m;
  KRUNBOX_ASSIGN_OR_RETURN(m.size, r.uint<uint64_t>("size", 0, true));
  KRUNBOX_ASSIGN_OR_RETURN(m.mode, r.uint<uint32_t>("mode", 0));
  return m;
}

Result<FileStat> parse_file_stat(const Json& body) { return read_file_stat(Reader(body, "stat RESPONSE")); }

Result<ListStarted> parse_list_started(const Json& body) {
  Reader r(body, "list RESPONSE");
  ListStarted m;
  KRUNBOX_ASSIGN_OR_RETURN(m.entries, r.uint<uint64_t>("entries", 0, true, kMaxListEntries));
  KRUNBOX_ASSIGN_OR_RETURN(m.size, r.uint<uint64_t>("size", 0, true, kMaxListBytes));
  KRUNBOX_ASSIGN_OR_RETURN(m.truncated, r.boolean("truncated", false));
  return m;
}

Result<DirEntry> parse_dir_entry(std::string_view line) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(line, "list entry"));
  Reader r(j, "list entry");
  DirEntry m;
  KRUNBOX_ASSIGN_OR_RETURN(m.name, r.str("name", true, kMaxSentPath));
  if (!clean_relative_path(m.name)) return r.field_error("name", "is not a clean relative path");
  KRUNBOX_ASSIGN_OR_RETURN(m.stat, read_file_stat(r));
  return m;
}

Result<PingReply> parse_ping_reply(const Json& body) {
  Reader r(body, "ping RESPONSE");
  PingReply m;
  KRUNBOX_ASSIGN_OR_RETURN(m.uptime_ms, r.uint<uint64_t>("uptime_ms", 0, true));
  return m;
}

Result<InfoReply> parse_info_reply(const Json& body) {
  Reader r(body, "info RESPONSE");
  InfoReply m;
  KRUNBOX_ASSIGN_OR_RETURN(m.kernel, r.str("kernel", false, 256));
  KRUNBOX_ASSIGN_OR_RETURN(m.hostname, r.str("hostname", false, 256));
  KRUNBOX_ASSIGN_OR_RETURN(m.cpus, r.uint<uint32_t>("cpus", 0));
  KRUNBOX_ASSIGN_OR_RETURN(m.mem_total, r.uint<uint64_t>("mem_total", 0));
  KRUNBOX_ASSIGN_OR_RETURN(m.mem_available, r.uint<uint64_t>("mem_available", 0));
  KRUNBOX_ASSIGN_OR_RETURN(m.agent_version, r.str("agent_version", false, 256));
  KRUNBOX_ASSIGN_OR_RETURN(m.pid1, r.boolean("pid1", false));
  return m;
}

}  // namespace krunbox::proto
