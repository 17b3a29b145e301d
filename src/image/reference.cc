// The distribution reference grammar (github.com/distribution/reference,
// regexp.go) with Docker's normalisation (normalize.go):
//
//   reference  := name [ ":" tag ] [ "@" digest ]
//   name       := [domain "/"] remote-name
//   domain     := host [ ":" port-number ]
//   host       := domain-name | "[" IPv6 "]"
//   domain-name:= domain-component ("." domain-component)*
//   domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
//   remote-name:= path-component ("/" path-component)*
//   path-component := alpha-numeric (separator alpha-numeric)*
//   alpha-numeric  := /[a-z0-9]+/
//   separator  := /[_.]|__|[-]+/
//   tag        := /[\w][\w.-]{0,127}/
//
// The first component is a registry only when it holds a '.' or ':' or is
// "localhost" (or has an upper-case letter, which a remote name cannot);
// otherwise the name lives on Docker Hub, where single names are official
// images under "library/". The whole name is at most 255 characters.
#include "image/reference.h"

#include <vector>

namespace krunbox::image {
namespace {

constexpr size_t kMaxNameLen = 255;

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool ascii_alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

bool valid_component(std::string_view c) {
  if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (lower_alnum(c[i])) {
      ++i;
      continue;
    }
    // A separator: one '.', one '_', "__", or a run of '-'; then an alnum.
    size_t j = i;
    if (c[i] == '.') {
      j = i + 1;
    } else if (c[i] == '_') {
      j = (i + 1 < c.size() && c[i + 1] == '_') ? i + 2 : i + 1;
    } else if (c[i] == '-') {
      while (j < c.size() && c[j] == '-') ++j;
    } else {
      return false;
    }
    if (j >= c.size() || !lower_alnum(c[j])) return false;
    i = j;
  }
  return true;
}

bool valid_domain_component(std::string_view c) {
  if (c.empty() || !ascii_alnum(c.front()) || !ascii_alnum(c.back())) return false;
  for (char ch : c)
    if (!ascii_alnum(ch) && ch != '-') return false;
  return true;
}

bool valid_ipv6(std::string_view h) {
  if (h.size() < 3 || h.front() != '[' || h.back() != ']') return false;
  h = h.substr(1, h.size() - 2);
  for (char ch : h)
    if (!(isxdigit(static_cast<unsigned char>(ch)) || ch == ':' || ch == '.')) return false;
  return h.find(':') != std::string_view::npos;
}

bool valid_domain(std::string_view d) {
  std::string_view host = d;
  if (size_t close = d.rfind(']'); d.starts_with('[')) {
    if (close == std::string_view::npos) return false;
    host = d.substr(0, close + 1);
    if (!valid_ipv6(host)) return false;
    d = d.substr(close + 1);
    if (d.empty()) return true;
    if (d.front() != ':') return false;
  } else {
    size_t colon = d.find(':');
    host = d.substr(0, colon);
    d = colon == std::string_view::npos ? std::string_view() : d.substr(colon);
    size_t i = 0;
    while (i <= host.size()) {
      size_t dot = host.find('.', i);
      if (dot == std::string_view::npos) dot = host.size();
      if (!valid_domain_component(host.substr(i, dot - i))) return false;
      i = dot + 1;
    }
    if (d.empty()) return true;
  }
  std::string_view port = d.substr(1);
  if (port.empty() || port.size() > 5) return false;
  for (char ch : port)
    if (ch < '0' || ch > '9') return false;
  return true;
}

bool is_hex64(std::string_view s) {
  if (s.size() != 64) return false;
  for (char ch : s)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  return true;
}

}  // namespace

bool valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) { return ascii_alnum(c) || c == '_'; };
  if (!word(tag[0])) return false;
  for (char c : tag)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

std::string familiar_name(const std::string& name) {
  if (name.starts_with("docker.io/library/") && name.find('/', 18) == std::string::npos) return name.substr(18);
  if (name.starts_with("docker.io/")) {
    // "docker.io/example.com/x" must keep its registry: without it,
    // "example.com" would be read as the registry (Docker prints it bare).
    std::string rest = name.substr(10);
    std::string first = rest.substr(0, rest.find('/'));
    if (first.find_first_of(".:[") == std::string::npos && first != "localhost") return rest;
  }
  return name;
}

std::string Reference::str() const {
  std::string s = name;
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

std::string Reference::familiar() const {
  std::string s = familiar_name(name);
  if (!tag.empty()) s += ":" + tag;
  if (digest) s += "@" + digest->str();
  return s;
}

std::string Reference::domain() const { return name.substr(0, name.find('/')); }

std::string Reference::path() const {
  size_t slash = name.find('/');
  return slash == std::string::npos ? std::string() : name.substr(slash + 1);
}

Result<Reference> parse_reference(std::string_view text, size_t max_len) {
  auto shown = [&] {
    std::string s;
    for (char c : text.substr(0, 200)) s += (c >= 0x20 && c < 0x7f) ? c : '?';
    return s;
  };
  auto invalid = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, "image reference \"" + shown() + "\" is invalid: " + why);
  };
  if (text.empty()) return invalid("it is empty");
  if (text.size() > max_len) return invalid("longer than " + std::to_string(max_len) + " characters");
  Reference r;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    auto d = Digest::parse(rest.substr(at + 1));
    if (!d.ok()) return invalid("digest: " + d.error().message());
    r.digest = *d;
    rest = rest.substr(0, at);
  }
  // A ':' after the last '/' starts the tag; one before it is a registry port.
  size_t slash = rest.rfind('/');
  size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    r.tag = std::string(rest.substr(colon + 1));
    if (!valid_tag(r.tag)) return invalid("tag \"" + r.tag + "\" is not [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    rest = rest.substr(0, colon);
  }
  if (rest.empty()) return invalid("it has no repository name");
  if (rest.size() > kMaxNameLen) return invalid("the repository name is longer than " + std::to_string(kMaxNameLen) + " characters");
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= rest.size()) {
    size_t j = rest.find('/', i);
    if (j == std::string_view::npos) j = rest.size();
    parts.push_back(rest.substr(i, j - i));
    i = j + 1;
  }
  std::string domain;
  auto has_upper = [](std::string_view s) {
    for (char c : s)
      if (c >= 'A' && c <= 'Z') return true;
    return false;
  };
  if (parts.size() > 1 && (parts[0].find_first_of(".:[") != std::string_view::npos || parts[0] == "localhost" || has_upper(parts[0]))) {
    if (!valid_domain(parts[0])) return invalid("registry \"" + std::string(parts[0]) + "\" is not host[:port]");
    domain = std::string(parts[0]);
    parts.erase(parts.begin());
  }
  std::string path;
  for (auto p : parts) {
    if (!valid_component(p)) {
      if (has_upper(p)) return invalid("repository names must be lowercase");
      return invalid("name component \"" + std::string(p) + "\" must be lowercase letters and digits joined by '.', '_', '__' or '-'");
    }
    path += (path.empty() ? "" : "/") + std::string(p);
  }
  if (domain.empty() || domain == "index.docker.io") domain = "docker.io";
  if (domain == "docker.io" && path.find('/') == std::string::npos) path = "library/" + path;
  // An official-library name that is 64 hex characters would print back in
  // its familiar form as a bare image ID, however it was typed
  // ("docker.io/<hex>", "docker.io/library/<hex>").
  if (domain == "docker.io" && path.starts_with("library/") && is_hex64(std::string_view(path).substr(8)))
    return invalid("a 64-character hexadecimal string is an image ID, not a repository name");
  r.name = domain + "/" + path;
  if (r.tag.empty() && !r.digest) r.tag = "latest";
  return r;
}

}  // namespace krunbox::image
