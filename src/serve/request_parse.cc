#include "serve/request_parse.h"

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <optional>
#include <set>

#include "backend/sandbox_spec.h"
#include "base/json.h"
#include "image/reference.h"
#include "image/registry_auth.h"
#include "proto/messages.h"
#include "sandbox/checkpoints.h"
#include "sandbox/secrets.h"
#include "serve/responses.h"

namespace krunbox::serve {
namespace {

Error field_error(const std::string& field, const std::string& problem) {
  return Error(ErrorCode::kInvalidArgument, "field \"" + field + "\" " + problem);
}

Error wrong_type(const std::string& field, const Json& v, const std::string& want) {
  return field_error(field, "must be " + want + ", not " + (v.is_null() ? std::string("null") : v.type_name()));
}

Result<std::string> as_string(const Json& v, const std::string& field) {
  if (!v.is_string()) return wrong_type(field, v, "a string");
  const auto& s = v.get_ref<const std::string&>();
  // The library's strings reach argv, paths and files: a NUL would cut
  // them short somewhere below, so it never gets that far.
  if (s.find('\0') != std::string::npos) return field_error(field, "must not contain NUL bytes");
  return s;
}

Result<uint64_t> as_uint(const Json& v, const std::string& field, uint64_t min, uint64_t max) {
  std::string want = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!v.is_number_integer()) return wrong_type(field, v, want);
  if (v.is_number_unsigned()) {
    uint64_t n = v.get<uint64_t>();
    if (n >= min && n <= max) return n;
  } else {
    int64_t n = v.get<int64_t>();
    if (n >= 0 && static_cast<uint64_t>(n) >= min && static_cast<uint64_t>(n) <= max) return static_cast<uint64_t>(n);
  }
  return field_error(field, "must be " + want + ", not " + v.dump());
}

Result<bool> as_bool(const Json& v, const std::string& field) {
  if (!v.is_boolean()) return wrong_type(field, v, "true or false");
  return v.get<bool>();
}

Result<std::vector<std::string>> as_string_list(const Json& v, const std::string& field) {
  if (!v.is_array()) return wrong_type(field, v, "a list of strings");
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    KRUNBOX_ASSIGN_OR_RETURN(std::string s, as_string(v[i], field + "[" + std::to_string(i) + "]"));
    out.push_back(std::move(s));
  }
  return out;
}

Result<std::map<std::string, std::string>> as_string_map(const Json& v, const std::string& field) {
  if (!v.is_object()) return wrong_type(field, v, "an object of strings");
  std::map<std::string, std::string> out;
  for (const auto& [key, value] : v.items()) {
    if (key.find('\0') != std::string::npos) return field_error(field, "has a key with a NUL byte");
    KRUNBOX_ASSIGN_OR_RETURN(std::string s, as_string(value, field + "." + key));
    out.emplace(key, std::move(s));
  }
  return out;
}

// Calls `on(key, value)` for each member, refusing keys not in `known`.
template <typename F>
Status each_field(const Json& obj, const std::string& where, std::initializer_list<std::string_view> known, F&& on) {
  if (!obj.is_object()) return wrong_type(where, obj, "an object");
  for (const auto& [key, value] : obj.items()) {
    bool ok = false;
    for (auto k : known) ok = ok || k == key;
    std::string field = where.empty() ? key : where + "." + key;
    if (!ok) return field_error(field, "is not a known field" + (where.empty() ? std::string() : " of " + where));
    // null is "not given", as most JSON encoders write absent optionals.
    if (value.is_null()) continue;
    KRUNBOX_TRY(on(key, value, field));
  }
  return {};
}

Result<PortMapping> parse_port(const Json& v, const std::string& where) {
  PortMapping p;
  bool has_guest = false;
  KRUNBOX_TRY(each_field(v, where, {"host_ip", "host_port", "guest_port", "protocol"},
                         [&](const std::string& key, const Json& value, const std::string& field) -> Status {
                           if (key == "host_ip") {
                             KRUNBOX_ASSIGN_OR_RETURN(p.host_ip, as_string(value, field));
                           } else if (key == "host_port") {
                             KRUNBOX_ASSIGN_OR_RETURN(uint64_t n, as_uint(value, field, 0, 65535));
                             p.host_port = static_cast<uint16_t>(n);
                           } else if (key == "guest_port") {
                             KRUNBOX_ASSIGN_OR_RETURN(uint64_t n, as_uint(value, field, 1, 65535));
                             p.guest_port = static_cast<uint16_t>(n);
                             has_guest = true;
                           } else {
                             KRUNBOX_ASSIGN_OR_RETURN(std::string proto, as_string(value, field));
                             if (proto != "tcp" && proto != "udp") return field_error(field, "must be tcp or udp");
                             p.protocol = proto == "udp" ? PortProtocol::kUdp : PortProtocol::kTcp;
                           }
                           return {};
                         }));
  if (!has_guest) return field_error(where + ".guest_port", "is required");
  return p;
}

Result<VolumeMount> parse_volume(const Json& v, const std::string& where) {
  VolumeMount m;
  KRUNBOX_TRY(each_field(v, where, {"host_path", "guest_path", "read_only"},
                         [&](const std::string& key, const Json& value, const std::string& field) -> Status {
                           if (key == "host_path") {
                             KRUNBOX_ASSIGN_OR_RETURN(m.host_path, as_string(value, field));
                           } else if (key == "guest_path") {
                             KRUNBOX_ASSIGN_OR_RETURN(m.guest_path, as_string(value, field));
                           } else {
                             KRUNBOX_ASSIGN_OR_RETURN(m.read_only, as_bool(value, field));
                           }
                           return {};
                         }));
  if (m.host_path.empty()) return field_error(where + ".host_path", "is required (an absolute host path)");
  if (m.guest_path.empty()) return field_error(where + ".guest_path", "is required (an absolute path in the sandbox)");
  return m;
}

// {"K": "V"} or ["K=V", "K"] (a bare K removes the image's K).
Result<std::vector<std::string>> parse_env(const Json& v, const std::string& field) {
  if (v.is_array()) return as_string_list(v, field);
  if (!v.is_object()) return wrong_type(field, v, "an object of strings or a list of KEY=VALUE strings");
  std::vector<std::string> out;
  for (const auto& [key, value] : v.items()) {
    if (key.empty() || key.find('=') != std::string::npos || key.find('\0') != std::string::npos)
      return field_error(field, "has the key \"" + key + "\"; a variable name is non-empty, without '=' or NUL");
    KRUNBOX_ASSIGN_OR_RETURN(std::string s, as_string(value, field + "." + key));
    out.push_back(key + "=" + s);
  }
  return out;
}

Result<Json> parse_object(std::string_view body, size_t limit = kMaxJsonBody) {
  if (body.size() > limit)
    return Error(ErrorCode::kLimitExceeded, "the request body is over " + std::to_string(limit) + " bytes");
  Json j = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return Error(ErrorCode::kInvalidArgument, "the request body is not valid JSON; send one JSON object");
  if (!j.is_object())
    return Error(ErrorCode::kInvalidArgument,
                 "the request body must be a JSON object, not " + std::string(j.type_name()));
  return j;
}

Result<std::vector<Secret>> parse_secrets_field(const Json& v, const std::string& field) {
  KRUNBOX_ASSIGN_OR_RETURN(auto map, as_string_map(v, field));
  std::vector<Secret> out;
  for (auto& [name, value] : map) out.push_back(Secret{name, std::move(value)});
  if (auto st = check_secret_values(out); !st.ok()) return field_error(field, ": " + st.error().message());
  return out;
}

}  // namespace

Result<ExecBody> parse_exec_body(std::string_view body) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(body, kMaxExecBody));
  ExecBody out;
  Workload& w = out.params.workload;
  bool has_argv = false, has_cmd = false;
  bool stdin_base64 = false;
  KRUNBOX_TRY(each_field(j, "",
                         {"argv", "cmd", "env", "cwd", "user", "timeout_s", "stdin", "stdin_encoding",
                          "output_encoding", "background", "tty"},
                         [&](const std::string& key, const Json& v, const std::string& field) -> Status {
                           if (key == "argv") {
                             KRUNBOX_ASSIGN_OR_RETURN(w.argv, as_string_list(v, field));
                             if (w.argv.empty())
                               return field_error(field, "must name a program: a non-empty list of strings");
                             has_argv = true;
                           } else if (key == "cmd") {
                             KRUNBOX_ASSIGN_OR_RETURN(std::string line, as_string(v, field));
                             if (line.empty())
                               return field_error(field, "must be a non-empty command line for /bin/sh -c");
                             w.argv = {"/bin/sh", "-c", std::move(line)};
                             has_cmd = true;
                           } else if (key == "env") {
                             KRUNBOX_ASSIGN_OR_RETURN(w.env, parse_env(v, field));
                           } else if (key == "cwd") {
                             KRUNBOX_ASSIGN_OR_RETURN(w.cwd, as_string(v, field));
                           } else if (key == "user") {
                             KRUNBOX_ASSIGN_OR_RETURN(w.user, as_string(v, field));
                           } else if (key == "timeout_s") {
                             KRUNBOX_ASSIGN_OR_RETURN(uint64_t n, as_uint(v, field, 0, kMaxExecTimeout));
                             out.params.timeout = std::chrono::seconds(n);
                           } else if (key == "stdin") {
                             if (!v.is_string()) return wrong_type(field, v, "a string");
                             out.params.stdin_data = v.get<std::string>();
                           } else if (key == "stdin_encoding") {
                             KRUNBOX_ASSIGN_OR_RETURN(std::string enc, as_string(v, field));
                             if (enc != "text" && enc != "base64") return field_error(field, "must be text or base64");
                             stdin_base64 = enc == "base64";
                           } else if (key == "background") {
                             KRUNBOX_ASSIGN_OR_RETURN(out.background, as_bool(v, field));
                           } else if (key == "tty") {
                             KRUNBOX_ASSIGN_OR_RETURN(w.tty, as_bool(v, field));
                           } else {
                             KRUNBOX_ASSIGN_OR_RETURN(std::string enc, as_string(v, field));
                             if (enc != "text" && enc != "base64") return field_error(field, "must be text or base64");
                             out.base64 = enc == "base64";
                           }
                           return {};
                         }));
  if (has_argv == has_cmd)
    return Error(ErrorCode::kInvalidArgument,
                 "give exactly one of \"argv\" (a list: the program and its arguments) and \"cmd\" (a string for "
                 "/bin/sh -c)");
  if (stdin_base64) {
    if (!out.params.stdin_data)
      return Error(ErrorCode::kInvalidArgument, "field \"stdin_encoding\" is given without \"stdin\"");
    auto raw = image::base64_decode(*out.params.stdin_data);
    if (!raw) return Error(ErrorCode::kInvalidArgument, "field \"stdin\" is not base64 (stdin_encoding is base64)");
    // Stdin may carry credentials: the encoded copy is wiped as the decoded one is later.
    wipe(*out.params.stdin_data);
    out.params.stdin_data = std::move(*raw);
  }
  if (w.tty && !out.background)
    return Error(ErrorCode::kInvalidArgument,
                 "field \"tty\" needs \"background\": true (a terminal's output is one stream; read it from "
                 ".../execs/{exec_id}/output)");
  return out;
}

Result<PullBody> parse_pull_body(std::string_view body) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(body));
  PullBody out;
  KRUNBOX_TRY(each_field(j, "", {"ref", "platform"},
                         [&](const std::string& key, const Json& v, const std::string& field) -> Status {
                           KRUNBOX_ASSIGN_OR_RETURN(std::string text, as_string(v, field));
                           if (key == "ref") {
                             auto ref = image::parse_reference(text);
                             if (!ref) return field_error(field, "is not an image reference: " + ref.error().message());
                             out.ref = std::move(text);
                           } else {
                             auto platform = image::parse_platform(text);
                             if (!platform)
                               return field_error(field, "is not os/arch[/variant]: " + platform.error().message());
                             out.platform = *platform;
                           }
                           return {};
                         }));
  if (out.ref.empty())
    return Error(ErrorCode::kInvalidArgument, "field \"ref\" is missing: the image to pull (\"alpine:3.20\")");
  return out;
}

Status check_no_body(const std::string& body) {
  size_t i = body.find_first_not_of(" \t\r\n");
  if (i == std::string::npos) return {};
  auto j = parse_json(body, "the request body");
  if (j.ok() && j->is_object() && j->empty()) return {};
  return Error(ErrorCode::kInvalidArgument, "this endpoint takes no request body (parameters go in the query)");
}

Result<CheckpointBody> parse_checkpoint_body(std::string_view body) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(body));
  CheckpointBody out;
  KRUNBOX_TRY(each_field(j, "", {"name", "leave_running"},
                         [&](const std::string& key, const Json& v, const std::string& field) -> Status {
                           if (key == "name") {
                             KRUNBOX_ASSIGN_OR_RETURN(out.name, as_string(v, field));
                             if (auto st = check_checkpoint_name(out.name); !st.ok())
                               return field_error(field, ": " + st.error().message());
                           } else {
                             KRUNBOX_ASSIGN_OR_RETURN(out.leave_running, as_bool(v, field));
                           }
                           return {};
                         }));
  if (out.name.empty())
    return Error(ErrorCode::kInvalidArgument, "field \"name\" is missing: the name of the new checkpoint");
  return out;
}

Result<std::chrono::seconds> parse_timeout_body(std::string_view body) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(body));
  std::optional<uint64_t> ttl;
  KRUNBOX_TRY(
      each_field(j, "", {"timeout_s"}, [&](const std::string&, const Json& v, const std::string& field) -> Status {
        KRUNBOX_ASSIGN_OR_RETURN(ttl, as_uint(v, field, 0, kMaxSandboxTimeout.count()));
        return {};
      }));
  if (!ttl)
    return Error(ErrorCode::kInvalidArgument,
                 "field \"timeout_s\" is missing: the seconds from now the sandbox may run (0: no limit)");
  return std::chrono::seconds(*ttl);
}

Result<int> parse_exec_signal_body(std::string_view body) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(body));
  std::optional<int> sig;
  KRUNBOX_TRY(each_field(j, "", {"signal"}, [&](const std::string&, const Json& v, const std::string& field) -> Status {
    if (v.is_number_unsigned()) {
      uint64_t n = v.get<uint64_t>();
      if (n >= 1 && n <= static_cast<uint64_t>(SIGRTMAX)) sig = static_cast<int>(n);
    } else if (v.is_string()) {
      sig = signal_from_text(v.get<std::string>());
    }
    if (!sig) return field_error(field, "must be a signal number (1-64) or name (TERM, SIGKILL)");
    return {};
  }));
  if (!sig) return Error(ErrorCode::kInvalidArgument, "field \"signal\" is missing: give a number or a name");
  return *sig;
}

Result<std::pair<uint16_t, uint16_t>> parse_resize_body(std::string_view body) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(body));
  uint64_t rows = 0, cols = 0;
  KRUNBOX_TRY(each_field(j, "", {"rows", "cols"},
                         [&](const std::string& key, const Json& v, const std::string& field) -> Status {
                           KRUNBOX_ASSIGN_OR_RETURN(uint64_t n, as_uint(v, field, 1, UINT16_MAX));
                           (key == "rows" ? rows : cols) = n;
                           return {};
                         }));
  if (rows == 0 || cols == 0) return Error(ErrorCode::kInvalidArgument, "give both \"rows\" and \"cols\" (1-65535)");
  return std::pair{static_cast<uint16_t>(rows), static_cast<uint16_t>(cols)};
}

Result<AttachControl> parse_attach_control(std::string_view text) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(text));
  auto type = j.find("type");
  if (type == j.end() || !type->is_string())
    return Error(ErrorCode::kInvalidArgument,
                 "a control message needs \"type\": \"resize\", \"signal\" or \"close_stdin\"");
  std::string kind = type->get<std::string>();
  j.erase("type");
  AttachControl c;
  if (kind == "resize") {
    c.kind = AttachControl::Kind::kResize;
    KRUNBOX_ASSIGN_OR_RETURN(c.size, parse_resize_body(dump_json(j)));
  } else if (kind == "signal") {
    c.kind = AttachControl::Kind::kSignal;
    KRUNBOX_ASSIGN_OR_RETURN(c.signal, parse_exec_signal_body(dump_json(j)));
  } else if (kind == "close_stdin") {
    if (!j.empty()) return Error(ErrorCode::kInvalidArgument, "\"close_stdin\" takes no other field");
  } else {
    return Error(ErrorCode::kInvalidArgument,
                 "unknown control message type \"" + kind + "\"; use \"resize\", \"signal\" or \"close_stdin\"");
  }
  return c;
}

Result<SandboxEventFilter> parse_events_query(const std::string& query) {
  KRUNBOX_ASSIGN_OR_RETURN(auto q, parse_query(query, {"type", "sandbox", "label"}));
  return events_filter_from(q);
}

Result<SandboxEventFilter> events_filter_from(const QueryParams& q) {
  SandboxEventFilter out;
  KRUNBOX_ASSIGN_OR_RETURN(out.labels, parse_label_filters(q));
  auto types = sandbox_event_types();
  for (const auto& [name, value] : q) {
    if (name == "type") {
      if (std::find(types.begin(), types.end(), value) == types.end())
        return Error(ErrorCode::kInvalidArgument,
                     "query parameter \"type\" (" + value +
                         ") is not an event type; use created, started, paused, resumed, exited, crashed or removed");
      out.types.push_back(value);
    } else if (name == "sandbox") {
      KRUNBOX_TRY_CTX(check_sandbox_key(value), "query parameter \"sandbox\"");
      out.sandboxes.push_back(value);
    } else if (name != "label") {
      return Error(ErrorCode::kInvalidArgument,
                   "unknown event filter \"" + name + "\"; filter by type, sandbox or label");
    }
  }
  return out;
}

Result<OutputQuery> parse_output_query(const std::string& query) {
  KRUNBOX_ASSIGN_OR_RETURN(auto q, parse_query(query, {"follow", "offset"}));
  OutputQuery out;
  for (const auto& [name, value] : q) {
    if (name == "follow") {
      KRUNBOX_ASSIGN_OR_RETURN(out.follow, parse_bool_param(name, value));
    } else {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out.offset);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size())
        return Error(ErrorCode::kInvalidArgument,
                     "query parameter \"offset\" must be a byte offset (0 or more), not \"" + value + "\"");
    }
  }
  return out;
}

Result<bool> parse_bool_param(std::string_view name, const std::string& value) {
  if (value == "1" || value == "true") return true;
  if (value == "0" || value == "false") return false;
  return Error(ErrorCode::kInvalidArgument,
               "query parameter \"" + std::string(name) + "\" must be 1, true, 0 or false, not \"" + value + "\"");
}

Result<FileQuery> parse_file_query(const std::string& query, FileEndpoint endpoint) {
  std::vector<std::string_view> allowed = {"path"};
  if (endpoint == FileEndpoint::kWrite) allowed = {"path", "mode", "parents"};
  if (endpoint == FileEndpoint::kList) allowed = {"path", "depth"};
  if (endpoint == FileEndpoint::kRemove) allowed = {"path", "recursive"};
  KRUNBOX_ASSIGN_OR_RETURN(auto q, parse_query(query, allowed));
  FileQuery out;
  bool has_path = false;
  for (const auto& [name, value] : q) {
    if (name == "path") {
      out.path = value;
      has_path = true;
    } else if (name == "mode") {
      uint32_t mode = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), mode, 8);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size() || mode > 07777)
        return Error(ErrorCode::kInvalidArgument,
                     "query parameter \"mode\" must be octal permission bits (0644, 755), not \"" + value + "\"");
      out.mode = mode;
    } else if (name == "depth") {
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out.depth);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size() || out.depth < 1 ||
          out.depth > proto::kMaxListDepth)
        return Error(ErrorCode::kInvalidArgument, "query parameter \"depth\" must be 1 to " +
                                                      std::to_string(proto::kMaxListDepth) + ", not \"" + value + "\"");
    } else if (name == "recursive") {
      KRUNBOX_ASSIGN_OR_RETURN(out.recursive, parse_bool_param(name, value));
    } else {
      KRUNBOX_ASSIGN_OR_RETURN(out.make_parents, parse_bool_param(name, value));
    }
  }
  if (!has_path || out.path.empty() || out.path[0] != '/')
    return Error(ErrorCode::kInvalidArgument,
                 "query parameter \"path\" is required: an absolute path inside the sandbox (path=/etc/hostname)");
  return out;
}

Result<MakeDirBody> parse_mkdir_body(std::string_view body) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(body));
  MakeDirBody out;
  bool has_path = false;
  KRUNBOX_TRY(each_field(j, "", {"path", "mode", "parents"},
                         [&](const std::string& key, const Json& v, const std::string& field) -> Status {
                           if (key == "path") {
                             KRUNBOX_ASSIGN_OR_RETURN(out.path, as_string(v, field));
                             if (out.path.empty() || out.path[0] != '/')
                               return field_error(field, "must be an absolute path");
                             has_path = true;
                           } else if (key == "mode") {
                             KRUNBOX_ASSIGN_OR_RETURN(uint64_t mode, as_uint(v, field, 0, 07777));
                             out.mode = static_cast<uint32_t>(mode);
                           } else {
                             KRUNBOX_ASSIGN_OR_RETURN(out.parents, as_bool(v, field));
                           }
                           return {};
                         }));
  if (!has_path) return Error(ErrorCode::kInvalidArgument, "field \"path\" is missing: the directory to make");
  return out;
}

Result<MoveBody> parse_move_body(std::string_view body) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(body));
  MoveBody out;
  KRUNBOX_TRY(
      each_field(j, "", {"from", "to"}, [&](const std::string& key, const Json& v, const std::string& field) -> Status {
        KRUNBOX_ASSIGN_OR_RETURN(std::string path, as_string(v, field));
        if (path.empty() || path[0] != '/') return field_error(field, "must be an absolute path");
        (key == "from" ? out.from : out.to) = std::move(path);
        return {};
      }));
  if (out.from.empty() || out.to.empty())
    return Error(ErrorCode::kInvalidArgument, "give both \"from\" and \"to\": absolute paths inside the sandbox");
  return out;
}

Result<std::vector<Secret>> parse_start_body(std::string_view body) {
  if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) return std::vector<Secret>();
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(body));
  std::vector<Secret> out;
  KRUNBOX_TRY(
      each_field(j, "", {"secrets"}, [&](const std::string&, const Json& v, const std::string& field) -> Status {
        KRUNBOX_ASSIGN_OR_RETURN(out, parse_secrets_field(v, field));
        return {};
      }));
  return out;
}

Result<CreateBody> parse_create_body(std::string_view body) {
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_object(body));
  CreateBody out;
  CreateRequest& r = out.request;
  ProvisionRequest& p = r.provision;
  SandboxSpec& s = p.base;
  const SpecLimits limits;
  std::string isolation = "any";
  std::string shape_field;  // the last field that describes what to boot
  KRUNBOX_TRY(each_field(
      j, "", {"image", "rootfs",  "pull",     "backend", "isolation", "cpus",    "memory_mib", "pids_limit",
              "env",   "secrets", "volumes",  "ports",   "network",   "workdir", "user",       "entrypoint",
              "cmd",   "name",    "hostname", "labels",  "restart",   "start",   "timeout_s",  "idle_timeout_s",
              "from_checkpoint"},
      [&](const std::string& key, const Json& v, const std::string& field) -> Status {
        static const std::set<std::string> kWithCheckpoint = {"name",      "labels",         "restart",
                                                              "timeout_s", "idle_timeout_s", "start",
                                                              "from_checkpoint"};
        if (!kWithCheckpoint.count(key)) shape_field = field;
        if (key == "from_checkpoint") {
          KRUNBOX_ASSIGN_OR_RETURN(out.from_checkpoint, as_string(v, field));
          if (auto st = check_checkpoint_name(out.from_checkpoint); !st.ok())
            return field_error(field, ": " + st.error().message());
        } else if (key == "image") {
          KRUNBOX_ASSIGN_OR_RETURN(p.image, as_string(v, field));
        } else if (key == "rootfs") {
          KRUNBOX_ASSIGN_OR_RETURN(p.rootfs, as_string(v, field));
        } else if (key == "pull") {
          KRUNBOX_ASSIGN_OR_RETURN(std::string text, as_string(v, field));
          auto policy = image::parse_pull_policy(text);
          if (!policy) return field_error(field, "must be missing, always or never");
          p.pull = *policy;
        } else if (key == "backend") {
          KRUNBOX_ASSIGN_OR_RETURN(r.backend, as_string(v, field));
          if (r.backend.empty()) return field_error(field, "must be auto or a backend name (qemu, krun, native)");
        } else if (key == "isolation") {
          KRUNBOX_ASSIGN_OR_RETURN(isolation, as_string(v, field));
          if (isolation != "vm" && isolation != "container" && isolation != "any")
            return field_error(field, "must be vm, container or any");
        } else if (key == "cpus") {
          KRUNBOX_ASSIGN_OR_RETURN(uint64_t n, as_uint(v, field, 1, limits.max_vcpus));
          s.vcpus = static_cast<uint32_t>(n);
        } else if (key == "memory_mib") {
          KRUNBOX_ASSIGN_OR_RETURN(uint64_t n, as_uint(v, field, limits.min_memory_mib, limits.max_memory_mib));
          s.memory_mib = static_cast<uint32_t>(n);
        } else if (key == "pids_limit") {
          KRUNBOX_ASSIGN_OR_RETURN(uint64_t n, as_uint(v, field, 1, limits.max_pids));
          s.pids_limit = static_cast<uint32_t>(n);
        } else if (key == "env") {
          KRUNBOX_ASSIGN_OR_RETURN(p.env, parse_env(v, field));
        } else if (key == "secrets") {
          KRUNBOX_ASSIGN_OR_RETURN(r.secrets, parse_secrets_field(v, field));
        } else if (key == "volumes") {
          if (!v.is_array()) return wrong_type(field, v, "a list of {host_path, guest_path, read_only}");
          for (size_t i = 0; i < v.size(); ++i) {
            KRUNBOX_ASSIGN_OR_RETURN(VolumeMount m, parse_volume(v[i], field + "[" + std::to_string(i) + "]"));
            s.volumes.push_back(std::move(m));
          }
        } else if (key == "ports") {
          if (!v.is_array()) return wrong_type(field, v, "a list of {host_ip, host_port, guest_port, protocol}");
          for (size_t i = 0; i < v.size(); ++i) {
            KRUNBOX_ASSIGN_OR_RETURN(PortMapping m, parse_port(v[i], field + "[" + std::to_string(i) + "]"));
            s.ports.push_back(std::move(m));
          }
        } else if (key == "network") {
          KRUNBOX_ASSIGN_OR_RETURN(std::string text, as_string(v, field));
          auto mode = parse_network_mode(text);
          if (!mode) return field_error(field, "must be none, user, user,host-loopback or host");
          s.network = *mode;
        } else if (key == "workdir") {
          KRUNBOX_ASSIGN_OR_RETURN(std::string text, as_string(v, field));
          if (!text.empty()) p.workdir = std::move(text);
        } else if (key == "user") {
          KRUNBOX_ASSIGN_OR_RETURN(std::string text, as_string(v, field));
          if (!text.empty()) p.user = std::move(text);
        } else if (key == "entrypoint") {
          if (!v.is_string()) return wrong_type(field, v, "a string (one program; its arguments go in cmd)");
          KRUNBOX_ASSIGN_OR_RETURN(p.entrypoint, as_string(v, field));
        } else if (key == "cmd") {
          KRUNBOX_ASSIGN_OR_RETURN(p.command, as_string_list(v, field));
        } else if (key == "name") {
          KRUNBOX_ASSIGN_OR_RETURN(s.name, as_string(v, field));
        } else if (key == "hostname") {
          KRUNBOX_ASSIGN_OR_RETURN(s.hostname, as_string(v, field));
        } else if (key == "labels") {
          KRUNBOX_ASSIGN_OR_RETURN(r.labels, as_string_map(v, field));
          if (auto st = check_labels(r.labels); !st.ok()) return field_error(field, ": " + st.error().message());
        } else if (key == "timeout_s") {
          KRUNBOX_ASSIGN_OR_RETURN(uint64_t n, as_uint(v, field, 0, kMaxSandboxTimeout.count()));
          r.ttl = std::chrono::seconds(n);
        } else if (key == "idle_timeout_s") {
          KRUNBOX_ASSIGN_OR_RETURN(uint64_t n, as_uint(v, field, 0, kMaxSandboxTimeout.count()));
          r.idle_timeout = std::chrono::seconds(n);
        } else if (key == "restart") {
          KRUNBOX_ASSIGN_OR_RETURN(std::string text, as_string(v, field));
          auto policy = parse_restart_policy(text);
          if (!policy) return field_error(field, "must be no, on-failure, on-failure:N (N up to 999999) or always");
          r.restart = *policy;
        } else {
          KRUNBOX_ASSIGN_OR_RETURN(out.start, as_bool(v, field));
        }
        return {};
      }));
  if (!out.from_checkpoint.empty() && !shape_field.empty())
    return field_error(shape_field, "cannot be combined with \"from_checkpoint\": the checkpoint brings its workload, "
                                    "root and machine (only name, labels, restart, timeout_s, idle_timeout_s and "
                                    "start apply)");
  if (!p.image.empty() && !p.rootfs.empty())
    return Error(ErrorCode::kInvalidArgument, "fields \"image\" and \"rootfs\" exclude each other; give one");
  // As the CLI's --isolation: "container" picks native unless a backend is
  // named, and a named VM backend cannot honour it.
  if (isolation == "container") {
    if (r.backend == "auto")
      r.backend = "native";
    else if (r.backend != "native")
      return field_error("isolation", "is container, but backend \"" + r.backend + "\" runs a VM; use native or auto");
  }
  r.require_vm = isolation == "vm";
  return out;
}

Result<std::string> percent_decode(std::string_view text, std::string_view what) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      int hi = i + 2 < text.size() ? hex(text[i + 1]) : -1;
      int lo = i + 2 < text.size() ? hex(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) return Error(ErrorCode::kInvalidArgument, std::string(what) + " has a malformed %-escape");
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return Error(ErrorCode::kInvalidArgument, std::string(what) + " contains a NUL byte");
    out.push_back(c);
  }
  return out;
}

Result<QueryParams> parse_query(std::string_view query, const std::vector<std::string_view>& allowed) {
  QueryParams out;
  size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    size_t amp = query.find('&', start);
    std::string_view part = query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!part.empty()) {
      size_t eq = part.find('=');
      KRUNBOX_ASSIGN_OR_RETURN(std::string name, percent_decode(part.substr(0, eq), "a query parameter's name"));
      bool known = false;
      for (auto a : allowed) known = known || a == name;
      if (!known)
        return Error(ErrorCode::kInvalidArgument,
                     "query parameter \"" + name + "\" is not known here" +
                         (allowed.empty() ? std::string(" (this endpoint takes none)") : std::string()));
      std::string value;
      if (eq != std::string_view::npos) {
        KRUNBOX_ASSIGN_OR_RETURN(value, percent_decode(part.substr(eq + 1), "query parameter \"" + name + "\""));
      }
      out.emplace_back(std::move(name), std::move(value));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return out;
}

Status check_sandbox_key(std::string_view key) {
  auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
           c == '-';
  };
  bool ok = !key.empty() && key.size() <= 128 && key[0] != '.' && key[0] != '-';
  for (char c : key) ok = ok && plain(c);
  if (!ok)
    return Error(ErrorCode::kInvalidArgument,
                 "sandbox id or name in the path must be 1-128 characters of A-Z a-z 0-9 _ . - (not starting "
                 "with . or -)");
  return {};
}

Result<std::vector<LabelFilter>> parse_label_filters(const QueryParams& query) {
  std::vector<LabelFilter> out;
  for (const auto& [name, value] : query) {
    if (name != "label") continue;
    auto f = parse_label_filter(value);
    if (!f)
      return Error(ErrorCode::kInvalidArgument, "query parameter \"label\" (" + value + "): " + f.error().message() +
                                                    "; use label=KEY or label=KEY=VALUE");
    out.push_back(std::move(*f));
  }
  return out;
}

namespace {

std::optional<std::string> last_value(const QueryParams& query, std::string_view name) {
  std::optional<std::string> v;
  for (const auto& [n, value] : query)
    if (n == name) v = value;
  return v;
}

std::optional<uint64_t> to_number(std::string_view text) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

}  // namespace

Result<std::chrono::milliseconds> parse_stop_timeout(const QueryParams& query) {
  auto v = last_value(query, "timeout");
  if (!v) return std::chrono::milliseconds(std::chrono::seconds(10));
  auto n = to_number(*v);
  if (!n || *n > 3600)
    return Error(ErrorCode::kInvalidArgument,
                 "query parameter \"timeout\" must be whole seconds from 0 to 3600, not \"" + *v + "\"");
  return std::chrono::milliseconds(std::chrono::seconds(*n));
}

std::optional<int> signal_from_text(std::string_view text) {
  if (auto n = to_number(text); n) {
    if (*n >= 1 && *n <= static_cast<uint64_t>(SIGRTMAX)) return static_cast<int>(*n);
    return std::nullopt;
  }
  if (text.substr(0, 3) == "SIG") text.remove_prefix(3);
  for (int sig = 1; sig < NSIG; ++sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    if (abbrev && text == abbrev) return sig;
  }
  return std::nullopt;
}

Result<int> parse_kill_signal(const QueryParams& query) {
  auto v = last_value(query, "signal");
  if (!v) return SIGKILL;
  if (auto sig = signal_from_text(*v)) return *sig;
  return Error(ErrorCode::kInvalidArgument,
               "query parameter \"signal\" must be a signal name (TERM, SIGKILL) or number, not \"" + *v + "\"");
}

Result<ListenAddress> parse_listen_address(std::string_view text) {
  auto bad = [&] {
    return Error(ErrorCode::kInvalidArgument,
                 "--listen " + std::string(text) + ": expected HOST:PORT, as 127.0.0.1:2375 or [::1]:2375");
  };
  ListenAddress a;
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return bad();
  std::string_view host = text.substr(0, colon);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad();
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return bad();
  }
  auto port = to_number(text.substr(colon + 1));
  if (!port || *port < 1 || *port > 65535) return bad();
  a.host = std::string(host);
  a.port = static_cast<uint16_t>(*port);
  return a;
}

}  // namespace krunbox::serve
