#include "docker/query.h"

#include <cctype>
#include <charconv>
#include <csignal>

#include "base/json.h"
#include "serve/request_parse.h"

namespace krunbox::docker {
namespace {

Error bad(std::string message) { return Error(ErrorCode::kInvalidArgument, std::move(message)); }

bool parse_int(std::string_view s, int64_t& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "1.43" -> 1043; -1 when malformed.
int version_number(std::string_view v) {
  size_t dot = v.find('.');
  if (dot == std::string_view::npos) return -1;
  int64_t major = 0, minor = 0;
  if (!parse_int(v.substr(0, dot), major) || !parse_int(v.substr(dot + 1), minor)) return -1;
  if (major < 0 || major > 99 || minor < 0 || minor > 999) return -1;
  return static_cast<int>(major * 1000 + minor);
}

}  // namespace

Result<DockerPath> parse_docker_path(std::string_view path) {
  if (path.empty() || path[0] != '/') return bad("the path must start with '/'");
  DockerPath out;
  std::string_view rest = path.substr(1);
  if (rest.size() > 1 && rest[0] == 'v' && rest[1] >= '0' && rest[1] <= '9') {
    size_t slash = rest.find('/');
    std::string_view v = rest.substr(1, slash == std::string_view::npos ? rest.size() - 1 : slash - 1);
    int n = version_number(v);
    if (n < 0) return bad("malformed API version in the path: " + std::string(v));
    if (n < version_number(kMinApiVersion))
      return bad("client version " + std::string(v) + " is too old. Minimum supported API version is " +
                 kMinApiVersion + ", please upgrade your client to a newer version");
    out.version = std::string(v);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  if (rest.empty()) return out;
  for (;;) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    if (seg.empty()) return bad("the path has an empty segment");
    KRUNBOX_ASSIGN_OR_RETURN(std::string decoded, serve::percent_decode(seg, "the path"));
    if (decoded.find('/') != std::string::npos) return bad("the path has an escaped '/'");
    out.segments.push_back(std::move(decoded));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  return out;
}

Result<DockerQuery> DockerQuery::parse(std::string_view query) {
  DockerQuery q;
  if (query.size() > (64u << 10)) return bad("the query string is longer than 64 KiB");
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    std::string name(item.substr(0, eq)), value(eq == std::string_view::npos ? "" : item.substr(eq + 1));
    for (auto* s : {&name, &value})
      for (auto& c : *s)
        if (c == '+') c = ' ';
    KRUNBOX_ASSIGN_OR_RETURN(std::string n, serve::percent_decode(name, "a query parameter's name"));
    KRUNBOX_ASSIGN_OR_RETURN(std::string v, serve::percent_decode(value, "query parameter " + n));
    q.params_.emplace_back(std::move(n), std::move(v));
  }
  return q;
}

std::optional<std::string> DockerQuery::get(std::string_view name) const {
  std::optional<std::string> out;
  for (const auto& [n, v] : params_)
    if (n == name) out = v;
  return out;
}

bool DockerQuery::flag(std::string_view name, bool otherwise) const {
  auto v = get(name);
  if (!v) return otherwise;
  // As Docker reads them: trimmed and case-blind (docker-py sends "False").
  std::string s;
  for (char ch : *v)
    if (ch != ' ' && ch != '\t') s += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return !(s.empty() || s == "0" || s == "no" || s == "false" || s == "none");
}

Result<std::optional<int64_t>> DockerQuery::integer(std::string_view name, int64_t min, int64_t max) const {
  auto v = get(name);
  if (!v) return std::optional<int64_t>();
  int64_t n = 0;
  if (!parse_int(*v, n) || n < min || n > max)
    return bad("query parameter " + std::string(name) + " must be an integer from " + std::to_string(min) + " to " +
               std::to_string(max) + ", not \"" + v->substr(0, 64) + "\"");
  return std::optional<int64_t>(n);
}

Result<Json> parse_client_json(std::string_view text, std::string_view what) {
  auto j = parse_json(text, what);
  if (!j) return Error(ErrorCode::kInvalidArgument, j.error().what());
  return j;
}

Result<Filters> parse_filters(std::string_view text) {
  Filters out;
  if (text.empty()) return out;
  KRUNBOX_ASSIGN_OR_RETURN(Json j, parse_client_json(text, "the filters parameter"));
  if (!j.is_object()) return bad("the filters parameter must be a JSON object");
  for (const auto& [name, v] : j.items()) {
    auto& values = out[name];
    if (v.is_object()) {
      for (const auto& [value, on] : v.items())
        if (!on.is_boolean() || on.get<bool>()) values.push_back(value);
    } else if (v.is_array()) {
      for (const auto& e : v) {
        if (!e.is_string()) return bad("filter " + name + " must hold strings");
        values.push_back(e.get<std::string>());
      }
    } else {
      return bad("filter " + name + " must be an object or an array");
    }
  }
  return out;
}

Result<int> parse_signal(std::string_view text) {
  int64_t n = 0;
  if (parse_int(text, n)) {
    if (n < 1 || n > 64) return bad("signal " + std::string(text) + " is out of range");
    return static_cast<int>(n);
  }
  auto sig = serve::signal_from_text(text);
  if (!sig) return bad("unknown signal \"" + std::string(text.substr(0, 32)) + "\"");
  return *sig;
}

}  // namespace krunbox::docker
