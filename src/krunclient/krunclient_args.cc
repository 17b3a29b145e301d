#include "krunclient/krunclient_args.h"

#include <algorithm>

namespace krunbox::krunclient {
namespace {

Error bad(const std::string& what) { return Error(ErrorCode::kInvalidArgument, what); }

bool parse_uint(const std::string& s, uint64_t max, uint64_t& out) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  out = std::stoull(s);
  return out <= max;
}

bool valid_env_name(const std::string& n) {
  if (n.empty() || n.size() > 255 || (n[0] >= '0' && n[0] <= '9')) return false;
  for (char c : n)
    if (!(c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  return true;
}

}  // namespace

std::string usage() {
  return "usage: krunclient ROOT_PATH LOCAL_PORT [--cpus N] [--memory MIB] [--pass-env NAME]... [--libkrun PATH]\n"
         "  Runs ROOT_PATH/bin/app in a libkrun microVM with guest port 80 published on\n"
         "  LOCAL_PORT (1-65535) and exits with the app's exit code.\n"
         "  --cpus N         vCPUs, 1-16 (default 1)\n"
         "  --memory MIB     memory in MiB, 32-1048576 (default 512)\n"
         "  --pass-env NAME  also pass this host variable to the guest (HOST and\n"
         "                   INTERNAL_SECRET always are, when set)\n"
         "  --libkrun PATH   the libkrun library to load (default libkrun.so.1)\n";
}

Result<ClientArgs> parse_args(const std::vector<std::string>& args) {
  ClientArgs out;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&](const char* flag) -> Result<std::string> {
      if (i + 1 >= args.size()) return bad(std::string(flag) + " needs a value");
      return args[++i];
    };
    if (a == "-h" || a == "--help") {
      out.show_help = true;
      return out;
    } else if (a == "--cpus") {
      KRUNBOX_ASSIGN_OR_RETURN(std::string v, value("--cpus"));
      uint64_t n;
      if (!parse_uint(v, 16, n) || n == 0) return bad("--cpus: '" + v.substr(0, 32) + "' is not a number from 1 to 16");
      out.vcpus = uint32_t(n);
    } else if (a == "--memory") {
      KRUNBOX_ASSIGN_OR_RETURN(std::string v, value("--memory"));
      uint64_t n;
      if (!parse_uint(v, 1u << 20, n) || n < 32)
        return bad("--memory: '" + v.substr(0, 32) + "' is not a number of MiB from 32 to 1048576");
      out.memory_mib = uint32_t(n);
    } else if (a == "--pass-env") {
      KRUNBOX_ASSIGN_OR_RETURN(std::string v, value("--pass-env"));
      if (!valid_env_name(v)) return bad("--pass-env: '" + v.substr(0, 32) + "' is not a variable name");
      out.pass_env.push_back(v);
    } else if (a == "--libkrun") {
      KRUNBOX_ASSIGN_OR_RETURN(out.libkrun, value("--libkrun"));
      if (out.libkrun.empty()) return bad("--libkrun: empty path");
    } else if (a.size() > 1 && a[0] == '-') {
      return bad("unknown flag '" + a.substr(0, 32) + "'");
    } else {
      positional.push_back(a);
    }
  }
  if (positional.empty()) return bad("missing ROOT_PATH");
  if (positional.size() < 2) return bad("missing LOCAL_PORT");
  if (positional.size() > 2) return bad("unexpected argument '" + positional[2].substr(0, 32) + "'");
  out.root = positional[0];
  if (out.root.empty() || out.root.find('\0') != std::string::npos || out.root.size() > 4096)
    return bad("ROOT_PATH is empty or not a path");
  uint64_t port;
  if (!parse_uint(positional[1], 65535, port) || port == 0)
    return bad("LOCAL_PORT '" + positional[1].substr(0, 32) + "' is not a port number from 1 to 65535");
  out.local_port = uint16_t(port);
  return out;
}

vmm::VmmConfig build_config(const ClientArgs& args, const std::map<std::string, std::string>& env) {
  vmm::VmmConfig c;
  c.root = args.root;
  c.root_is_private = true;  // the app's own root, served as is (no overlay)
  c.exec_path = "/bin/app";
  c.vcpus = args.vcpus;
  c.memory_mib = args.memory_mib;
  c.network = vmm::VmmNetwork::kTsi;
  c.port_map = {std::to_string(args.local_port) + ":80"};
  std::vector<std::string> seen;
  for (const auto& name : args.pass_env) {
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) continue;
    seen.push_back(name);
    if (auto it = env.find(name); it != env.end()) c.env.push_back(name + "=" + it->second);
  }
  return c;
}

}  // namespace krunbox::krunclient
