// krunclient ROOT_PATH LOCAL_PORT: one app in one libkrun microVM, for a
// process manager. It hands the VM description to krunbox-vmm and becomes
// it (exec), so its pid, exit code and signals are the VM's: SIGTERM ends the
// VM at once and nothing is left behind (the config travels in a memfd).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "base/paths.h"
#include "krunclient/krunclient_args.h"

extern char** environ;

int main(int argc, char** argv) {
  using namespace krunbox;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = krunclient::parse_args(args);
  if (!parsed) {
    std::fprintf(stderr, "krunclient: %s\n%s", parsed.error().what().c_str(), krunclient::usage().c_str());
    return 2;
  }
  if (parsed->show_help) {
    std::fputs(krunclient::usage().c_str(), stdout);
    return 0;
  }
  char resolved[PATH_MAX];
  if (!::realpath(parsed->root.c_str(), resolved) || ::access((std::string(resolved) + "/bin/app").c_str(), X_OK) != 0) {
    std::fprintf(stderr, "krunclient: ROOT_PATH '%s' has no executable bin/app\n%s", parsed->root.c_str(),
                 krunclient::usage().c_str());
    return 2;
  }
  parsed->root = resolved;
  std::map<std::string, std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    auto eq = kv.find('=');
    if (eq != std::string::npos) env.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  std::string config = vmm::to_json(krunclient::build_config(*parsed, env));

  auto vmm = find_helper("krunbox-vmm");
  if (!vmm) {
    std::fprintf(stderr, "krunclient: %s\n", vmm.error().what().c_str());
    return 1;
  }
  int fd = ::memfd_create("krunclient-config", 0);
  if (fd >= 0 && fd < 3) fd = ::fcntl(fd, F_DUPFD, 3);
  if (fd < 0 || ::write(fd, config.data(), config.size()) != ssize_t(config.size())) {
    std::perror("krunclient: memfd for the VM config");
    return 1;
  }
  std::string fd_text = std::to_string(fd);
  std::vector<const char*> vmm_argv = {vmm->c_str(), "run", "--config-fd", fd_text.c_str()};
  if (!parsed->libkrun.empty()) {
    vmm_argv.push_back("--libkrun");
    vmm_argv.push_back(parsed->libkrun.c_str());
  }
  vmm_argv.push_back(nullptr);
  std::fflush(nullptr);
  ::execv(vmm->c_str(), const_cast<char* const*>(vmm_argv.data()));
  std::fprintf(stderr, "krunclient: cannot execute %s: %s\n", vmm->c_str(), std::strerror(errno));
  return 1;
}
