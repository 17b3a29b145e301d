// krunclient's command line: `krunclient ROOT_PATH LOCAL_PORT [flags]`, and
// the krunbox-vmm config it turns into. Arguments are untrusted (a process
// manager builds them); every one is checked and errors name it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "krunbox/error.h"
#include "vmm/vmm_config.h"

namespace krunbox::krunclient {

struct ClientArgs {
  std::string root;
  uint16_t local_port = 0;
  uint32_t vcpus = 1;
  uint32_t memory_mib = 512;
  std::vector<std::string> pass_env = {"HOST", "INTERNAL_SECRET"};
  std::string libkrun;  // empty: krunbox-vmm's default
  bool show_help = false;
};

std::string usage();
Result<ClientArgs> parse_args(const std::vector<std::string>& args);

// The VM: the root as is, /bin/app, guest port 80 on LOCAL_PORT, and of the
// environment `env` only the variables named in pass_env.
vmm::VmmConfig build_config(const ClientArgs& args, const std::map<std::string, std::string>& env);

}  // namespace krunbox::krunclient
