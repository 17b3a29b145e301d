// krunbox-vmm: the per-VM helper of the krun backend. libkrun's
// krun_start_enter() never returns, so each VM gets a process of its own.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/fs.h"
#include "base/log.h"
#include "vmm/launch.h"
#include "vmm/probe.h"
#include "vmm/vmm_config.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: krunbox-vmm probe [--libkrun PATH]\n"
               "       krunbox-vmm run (--config FILE | --config-fd N) [--libkrun PATH]\n"
               "  probe   print what this host offers libkrun (JSON)\n"
               "  run     boot the VM the config describes; this process becomes the VM\n"
               "          and exits with the guest's exit code\n"
               "  libkrun: --libkrun, else $KRUNBOX_LIBKRUN, else libkrun.so.1\n");
}

// Reads at most `max` bytes from an inherited fd (krunclient passes a memfd).
krunbox::Result<std::string> read_fd(int fd, size_t max) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off_t(out.size()));
    if (n < 0 && errno == ESPIPE) n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return krunbox::Error::from_errno("reading the config from fd " + std::to_string(fd));
    if (n == 0) break;
    out.append(buf, size_t(n));
    if (out.size() > max)
      return krunbox::Error(krunbox::ErrorCode::kInvalidArgument, "config on fd " + std::to_string(fd) + " is larger than " +
                                                                      std::to_string(max) + " bytes");
  }
  ::close(fd);
  return out;
}

bool parse_fd(const std::string& s, int& fd) {
  if (s.empty() || s.size() > 6 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  fd = std::atoi(s.c_str());
  return fd >= 3;
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
  std::string config_file;
  int config_fd = -1;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    bool has_value = i + 1 < argc;
    if (a == "--libkrun" && has_value) {
      libkrun = argv[++i];
    } else if (verb == "run" && a == "--config" && has_value) {
      config_file = argv[++i];
    } else if (verb == "run" && a == "--config-fd" && has_value) {
      if (!parse_fd(argv[++i], config_fd)) {
        std::fprintf(stderr, "krunbox-vmm: --config-fd wants a descriptor number of 3 or more\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "krunbox-vmm: unknown or incomplete argument '%s'\n", a.c_str());
      usage();
      return 2;
    }
  }
  if (verb == "probe") {
    std::printf("%s\n", krunbox::vmm::probe_host(libkrun).dump().c_str());
    return 0;
  }
  if (verb == "run") {
    if (config_file.empty() == (config_fd < 0)) {
      std::fprintf(stderr, "krunbox-vmm run: give exactly one of --config FILE or --config-fd N\n");
      return 2;
    }
    constexpr size_t kMax = krunbox::vmm::VmmLimits{}.max_document_bytes;
    auto text = config_fd >= 0 ? read_fd(config_fd, kMax) : krunbox::read_file(config_file, kMax);
    if (!text) {
      std::fprintf(stderr, "krunbox-vmm: %s\n", text.error().what().c_str());
      return 2;
    }
    auto config = krunbox::vmm::parse_vmm_config(*text);
    if (!config) {
      std::fprintf(stderr, "krunbox-vmm: %s\n", config.error().what().c_str());
      return 2;
    }
    auto st = krunbox::vmm::launch(*config, libkrun);
    std::fprintf(stderr, "krunbox-vmm: %s\n", st.error().what().c_str());
    return 1;
  }
  std::fprintf(stderr, "krunbox-vmm: unknown command '%s'\n", verb.c_str());
  usage();
  return 2;
}
