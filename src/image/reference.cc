#include "image/reference.h"

#include <vector>

namespace krunbox::image {
namespace {

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: lowercase alphanumerics joined by '.', '_', '__' or dashes.
bool valid_component(std::string_view c) {
  if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
  for (size_t i = 0; i < c.size(); ++i) {
    char ch = c[i];
    if (lower_alnum(ch)) continue;
    if (ch == '.' || ch == '_' || ch == '-') {
      if (ch == '.' && !lower_alnum(c[i + 1])) return false;
      if (ch == '_' && !(lower_alnum(c[i + 1]) || (c[i + 1] == '_' && lower_alnum(c[i + 2])))) return false;
      if (ch == '_' && c[i + 1] == '_') ++i;
      continue;
    }
    return false;
  }
  return true;
}

bool valid_domain(std::string_view d) {
  if (d.empty()) return false;
  for (char c : d)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']')) return false;
  return true;
}

}  // namespace

bool valid_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) return false;
  auto word = [](char c) { return isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(tag[0])) return false;
  for (char c : tag)
    if (!word(c) && c != '.' && c != '-') return false;
  return true;
}

std::string familiar_name(const std::string& name) {
  if (name.starts_with("docker.io/library/") && name.find('/', 18) == std::string::npos) return name.substr(18);
  if (name.starts_with("docker.io/")) return name.substr(10);
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

Result<Reference> parse_reference(std::string_view text, size_t max_len) {
  auto invalid = [&](const std::string& why) {
    return Error(ErrorCode::kInvalidArgument, "image reference \"" + std::string(text.substr(0, 200)) + "\" is invalid: " + why);
  };
  if (text.empty()) return invalid("it is empty");
  if (text.size() > max_len) return invalid("longer than " + std::to_string(max_len) + " characters");
  Reference r;
  std::string_view rest = text;
  if (auto at = rest.find('@'); at != std::string_view::npos) {
    KRUNBOX_ASSIGN_OR_RETURN(Digest d, Digest::parse(rest.substr(at + 1)).wrap("image reference \"" + std::string(text) + "\""));
    r.digest = d;
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
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= rest.size()) {
    size_t j = rest.find('/', i);
    if (j == std::string_view::npos) j = rest.size();
    parts.push_back(rest.substr(i, j - i));
    i = j + 1;
  }
  std::string domain;
  if (parts.size() > 1 && (parts[0].find_first_of(".:") != std::string_view::npos || parts[0] == "localhost")) {
    if (!valid_domain(parts[0])) return invalid("registry \"" + std::string(parts[0]) + "\" is malformed");
    domain = std::string(parts[0]);
    parts.erase(parts.begin());
  }
  std::string path;
  for (auto p : parts) {
    if (!valid_component(p))
      return invalid("name component \"" + std::string(p) + "\" must be lowercase letters, digits and separators");
    path += (path.empty() ? "" : "/") + std::string(p);
  }
  if (domain.empty() || domain == "index.docker.io") domain = "docker.io";
  if (domain == "docker.io" && path.find('/') == std::string::npos) path = "library/" + path;
  r.name = domain + "/" + path;
  if (r.tag.empty() && !r.digest) r.tag = "latest";
  return r;
}

}  // namespace krunbox::image
