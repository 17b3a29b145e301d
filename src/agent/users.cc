#include "agent/users.h"

#include <charconv>

#include "base/fs.h"

namespace krunbox::agent {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? std::string_view::npos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

std::optional<uint32_t> parse_id(std::string_view s) {
  uint32_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

template <typename F>
void for_each_line(std::string_view text, F f) {
  for (std::string_view line : split(text, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line[0] == '#') continue;
    f(line);
  }
}

std::string read_etc(const std::string& etc_dir, const char* name) {
  auto r = read_file(etc_dir + "/" + name, 8u << 20);
  return r.ok() ? std::move(*r) : std::string();
}

}  // namespace

std::vector<PasswdEntry> parse_passwd(std::string_view text) {
  std::vector<PasswdEntry> out;
  for_each_line(text, [&](std::string_view line) {
    auto f = split(line, ':');
    if (f.size() < 7 || f[0].empty()) return;
    auto uid = parse_id(f[2]);
    auto gid = parse_id(f[3]);
    if (!uid || !gid) return;
    out.push_back({std::string(f[0]), *uid, *gid, std::string(f[5]), std::string(f[6])});
  });
  return out;
}

std::vector<GroupEntry> parse_group(std::string_view text) {
  std::vector<GroupEntry> out;
  for_each_line(text, [&](std::string_view line) {
    auto f = split(line, ':');
    if (f.size() < 4 || f[0].empty()) return;
    auto gid = parse_id(f[2]);
    if (!gid) return;
    GroupEntry g{std::string(f[0]), *gid, {}};
    if (!f[3].empty())
      for (auto m : split(f[3], ','))
        if (!m.empty()) g.members.emplace_back(m);
    out.push_back(std::move(g));
  });
  return out;
}

Result<ResolvedUser> resolve_user(std::string_view spec, const std::string& etc_dir) {
  if (spec.empty()) return Error(ErrorCode::kInvalidArgument, "empty user");
  std::string_view user = spec, group;
  bool has_group = false;
  if (auto pos = spec.find(':'); pos != std::string_view::npos) {
    user = spec.substr(0, pos);
    group = spec.substr(pos + 1);
    has_group = true;
    if (user.empty() || group.empty()) return Error(ErrorCode::kInvalidArgument, "bad user '" + std::string(spec) + "'");
  }
  auto passwd = parse_passwd(read_etc(etc_dir, "passwd"));
  auto groups = parse_group(read_etc(etc_dir, "group"));

  ResolvedUser r;
  const PasswdEntry* entry = nullptr;
  if (auto uid = parse_id(user)) {
    r.uid = *uid;
    for (const auto& p : passwd)
      if (p.uid == *uid) {
        entry = &p;
        break;
      }
    // A numeric uid unknown to passwd runs with gid = uid unless a group is given, like Docker.
    r.gid = entry ? entry->gid : *uid;
  } else {
    for (const auto& p : passwd)
      if (p.name == user) {
        entry = &p;
        break;
      }
    if (!entry)
      return Error(ErrorCode::kNotFound, "user '" + std::string(user) + "' is not in " + etc_dir + "/passwd");
    r.uid = entry->uid;
    r.gid = entry->gid;
  }
  if (entry) {
    r.home = entry->home;
    r.name = entry->name;
  }
  if (has_group) {
    if (auto gid = parse_id(group)) {
      r.gid = *gid;
    } else {
      const GroupEntry* g = nullptr;
      for (const auto& e : groups)
        if (e.name == group) g = &e;
      if (!g) return Error(ErrorCode::kNotFound, "group '" + std::string(group) + "' is not in " + etc_dir + "/group");
      r.gid = g->gid;
    }
  }
  r.groups.push_back(r.gid);
  if (!r.name.empty())
    for (const auto& g : groups)
      for (const auto& m : g.members)
        if (m == r.name && g.gid != r.gid) r.groups.push_back(g.gid);
  return r;
}

}  // namespace krunbox::agent
