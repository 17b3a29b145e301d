// What a sandbox runs, from the image config and the user's overrides, by
// Docker's rules: --entrypoint replaces Entrypoint and drops the image's Cmd;
// arguments after the image name replace Cmd; -e entries override image Env
// by key; -w and -u replace WorkingDir and User.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "image/manifest.h"
#include "krunbox/error.h"

namespace krunbox::image {

inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct RunOverrides {
  // --entrypoint: one program (not split); "" clears the image's Entrypoint.
  std::optional<std::string> entrypoint;
  // Everything after the image name; non-empty replaces the image's Cmd.
  std::vector<std::string> args;
  // KEY=VALUE, in order; a bare KEY removes the image's KEY (the CLI turns
  // `-e KEY` into KEY=VALUE from its own environment first, as docker run does).
  std::vector<std::string> env;
  std::optional<std::string> workdir;  // -w, must be absolute
  std::optional<std::string> user;     // -u: user[:group], names or numbers
};

struct RunParams {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=VALUE, image order then overrides
  std::string workdir;           // absolute
  std::string user;              // as given ("" = root); see resolve_user
  std::vector<std::string> exposed_ports;
  std::string stop_signal;
};

// `image` names the image in errors.
Result<RunParams> resolve_run_params(const ImageConfig& config, const RunOverrides& overrides, const std::string& image);

struct ResolvedUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups from /etc/group
  std::string home = "/";
};

// Resolves "user[:group]" against /etc/passwd and /etc/group of the root at
// `root_dir` (read inside that root: symlinks there cannot point at the
// host's files). Numeric ids need no entry; "" is root.
Result<ResolvedUser> resolve_user(const std::string& root_dir, const std::string& user);

}  // namespace krunbox::image
