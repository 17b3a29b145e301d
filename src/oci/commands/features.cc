// features: what this runtime takes, as the runtime spec's features document.
#include <cstdio>

#include "oci/bundle_spec.h"
#include "oci/commands/commands.h"

namespace krunbox::oci {

void setup_features(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand("features", "Print what this runtime supports, as JSON");
  cmd->callback([] {
    Json features = {
        {"ociVersionMin", "1.0.0"},
        {"ociVersionMax", "1.1.0"},
        {"hooks", Json::array()},
        {"mountOptions", {"bind", "rbind", "ro", "rw", "suid", "dev"}},
        {"linux",
         {{"namespaces", {"pid", "mount", "ipc", "uts", "network", "cgroup"}},
          {"cgroup", {{"v1", false}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
          {"seccomp", {{"enabled", false}}},
          {"apparmor", {{"enabled", false}}},
          {"selinux", {{"enabled", false}}}}},
        {"annotations",
         {{kBackendAnnotation, "native|qemu|krun: the backend (default native)"},
          {kVcpusAnnotation, "vCPUs of a VM (default: from linux.resources.cpu)"},
          {kMemoryAnnotation, "MiB of a VM (default: from linux.resources.memory)"}}},
    };
    std::printf("%s\n", features.dump(2).c_str());
  });
}

}  // namespace krunbox::oci
