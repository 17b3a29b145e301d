// krunbox-vmm: the per-VM helper of the krun backend. libkrun's
// krun_start_enter() never returns, so each VM gets a process of its own.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/log.h"
#include "vmm/probe.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: krunbox-vmm probe [--libkrun PATH]\n"
               "  probe   print what this host offers libkrun (JSON)\n");
}

}  // namespace

int main(int argc, char** argv) {
  krunbox::set_log_program("krunbox-vmm");
  krunbox::init_logging_from_env();
  if (argc < 2) {
    usage();
    return 2;
  }
  std::string verb = argv[1];
  const char* env_lib = std::getenv("KRUNBOX_LIBKRUN");
  std::string libkrun = env_lib && *env_lib ? env_lib : "libkrun.so.1";
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--libkrun" && i + 1 < argc) {
      libkrun = argv[++i];
    } else {
      std::fprintf(stderr, "krunbox-vmm: unknown argument '%s'\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (verb == "probe") {
    std::printf("%s\n", krunbox::vmm::probe_host(libkrun).dump().c_str());
    return 0;
  }
  std::fprintf(stderr, "krunbox-vmm: unknown command '%s'\n", verb.c_str());
  usage();
  return 2;
}
