#include "image/run_params.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "base/unique_fd.h"

namespace krunbox::image {
namespace {

std::string env_key(const std::string& kv) { return kv.substr(0, kv.find('=')); }

void set_env(std::vector<std::string>& env, const std::string& kv) {
  std::string key = env_key(kv);
  for (auto& e : env)
    if (env_key(e) == key) {
      e = kv;
      return;
    }
  env.push_back(kv);
}

// Reads a small file inside `root` without letting its symlinks leave it.
Result<std::string> read_in_root(const std::string& root, const char* rel) {
  UniqueFd dir(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error::from_errno("open root " + root);
  struct open_how how {};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  long fd = ::syscall(SYS_openat2, dir.get(), rel, &how, sizeof how);
  if (fd < 0) {
    if (errno == ENOENT) return std::string();
    return Error::from_errno(std::string("open ") + rel + " in " + root);
  }
  UniqueFd f(static_cast<int>(fd));
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = ::read(f.get(), buf, sizeof buf);
    if (n < 0) return Error::from_errno(std::string("read ") + rel + " in " + root);
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (4u << 20)) return Error(ErrorCode::kLimitExceeded, std::string(rel) + " in " + root + " is over 4 MiB");
  }
  return out;
}

std::vector<std::vector<std::string>> colon_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f;
    size_t i = 0;
    while (true) {
      size_t j = line.find(':', i);
      f.push_back(line.substr(i, j == std::string::npos ? std::string::npos : j - i));
      if (j == std::string::npos) break;
      i = j + 1;
    }
    rows.push_back(std::move(f));
  }
  return rows;
}

std::optional<uint32_t> parse_id(const std::string& s) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > 0xfffffffeu) return std::nullopt;
  return static_cast<uint32_t>(v);
}

}  // namespace

Result<RunParams> resolve_run_params(const ImageConfig& config, const RunOverrides& o, const std::string& image) {
  RunParams p;
  std::vector<std::string> entrypoint, cmd;
  if (o.entrypoint) {
    if (!o.entrypoint->empty()) entrypoint.push_back(*o.entrypoint);
  } else if (config.entrypoint) {
    entrypoint = *config.entrypoint;
  }
  if (!o.args.empty()) cmd = o.args;
  else if (!o.entrypoint && config.cmd) cmd = *config.cmd;
  p.argv = entrypoint;
  p.argv.insert(p.argv.end(), cmd.begin(), cmd.end());
  if (p.argv.empty())
    return Error(ErrorCode::kInvalidArgument, "image " + image + " has no Entrypoint or Cmd; give a command after the image name");

  for (const auto& kv : config.env) {
    if (kv.empty() || kv[0] == '=') continue;
    std::string entry = kv;
    if (entry.find('=') == std::string::npos) entry.push_back('=');
    set_env(p.env, entry);
  }
  bool has_path = false;
  for (const auto& e : p.env) has_path |= env_key(e) == "PATH";
  if (!has_path) p.env.insert(p.env.begin(), std::string("PATH=") + kDefaultPath);
  for (const auto& kv : o.env) {
    if (kv.empty() || kv[0] == '=') return Error(ErrorCode::kInvalidArgument, "environment entry \"" + kv + "\" has no name");
    if (kv.find('=') != std::string::npos) {
      set_env(p.env, kv);
      continue;
    }
    // A bare KEY unsets the image's KEY. It is never looked up in this
    // process's environment: a server's own variables must not leak into a
    // sandbox (the CLI resolves `-e KEY` against its environment first).
    std::erase_if(p.env, [&](const std::string& e) { return env_key(e) == kv; });
  }

  if (o.workdir) {
    if (o.workdir->empty() || (*o.workdir)[0] != '/')
      return Error(ErrorCode::kInvalidArgument, "working directory \"" + *o.workdir + "\" is not an absolute path");
    p.workdir = *o.workdir;
  } else if (!config.working_dir.empty()) {
    // A relative WorkingDir is taken from the root, as Docker does.
    p.workdir = config.working_dir[0] == '/' ? std::string() : std::string(1, '/');
    p.workdir.append(config.working_dir);
  } else {
    p.workdir.assign(1, '/');
  }
  p.user = o.user ? *o.user : config.user;
  p.exposed_ports = config.exposed_ports;
  p.stop_signal = config.stop_signal;
  return p;
}

Result<ResolvedUser> resolve_user(const std::string& root_dir, const std::string& user) {
  ResolvedUser r;
  if (user.empty()) return r;
  std::string uname = user.substr(0, user.find(':'));
  std::optional<std::string> gname;
  if (auto c = user.find(':'); c != std::string::npos) gname = user.substr(c + 1);
  KRUNBOX_ASSIGN_OR_RETURN(std::string passwd, read_in_root(root_dir, "etc/passwd"));
  KRUNBOX_ASSIGN_OR_RETURN(std::string group, read_in_root(root_dir, "etc/group"));
  auto users = colon_rows(passwd);
  auto groups = colon_rows(group);
  bool found = false;
  std::string name_for_groups;
  for (const auto& f : users) {
    if (f.size() < 7) continue;
    auto uid = parse_id(f[2]);
    auto gid = parse_id(f[3]);
    if (!uid || !gid) continue;
    if (f[0] == uname || (parse_id(uname) && *parse_id(uname) == *uid)) {
      r.uid = *uid;
      r.gid = *gid;
      r.home = f[5].empty() ? "/" : f[5];
      name_for_groups = f[0];
      found = true;
      break;
    }
  }
  if (!found) {
    auto uid = parse_id(uname);
    if (!uid) return Error(ErrorCode::kNotFound, "user \"" + uname + "\" is not in the image's /etc/passwd; use a numeric uid");
    r.uid = *uid;
    r.gid = 0;  // as runc: an unknown numeric uid runs with gid 0
  }
  if (gname) {
    bool gfound = false;
    for (const auto& f : groups) {
      if (f.size() < 3) continue;
      auto gid = parse_id(f[2]);
      if (gid && f[0] == *gname) {
        r.gid = *gid;
        gfound = true;
        break;
      }
    }
    if (!gfound) {
      auto gid = parse_id(*gname);
      if (!gid) return Error(ErrorCode::kNotFound, "group \"" + *gname + "\" is not in the image's /etc/group; use a numeric gid");
      r.gid = *gid;
    }
  } else if (!name_for_groups.empty()) {
    for (const auto& f : groups) {
      if (f.size() < 4) continue;
      auto gid = parse_id(f[2]);
      if (!gid || *gid == r.gid) continue;
      std::istringstream members(f[3]);
      std::string m;
      while (std::getline(members, m, ','))
        if (m == name_for_groups) r.groups.push_back(*gid);
    }
  }
  return r;
}

}  // namespace krunbox::image
