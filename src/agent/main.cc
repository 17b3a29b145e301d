// krunbox-agent: PID 1 (or a plain process) in every sandbox, serving the
// agent protocol (docs/agent-protocol.md) on the transport it is given.
#include <signal.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>

#include "agent/config.h"
#include "agent/guest_root.h"
#include "agent/server.h"
#include "agent/system.h"
#include "agent/transport.h"
#include "agent/udp_relay.h"
#include "base/fs.h"
#include "base/log.h"

extern char** environ;

namespace {

void on_signal(int) {}

// Milliseconds since the kernel started (CLOCK_BOOTTIME): boot-time traces in
// the debug log say where a VM's start goes.
long long boot_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_BOOTTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

bool g_pid1 = false;

// An escaped exception must not end PID 1 (the kernel would panic): say so and power off.
[[noreturn]] void on_terminate() { krunbox::agent::fatal("unhandled exception", g_pid1); }

// Signals the loop reads through signalfd get a no-op handler before they are
// blocked: PID 1 of a namespace never receives a signal whose disposition is
// the default, even a blocked one.
void prepare_signals() {
  struct sigaction sa = {};
  sa.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &sa, nullptr);
  sa.sa_handler = on_signal;
  sigset_t mask;
  ::sigemptyset(&mask);
  for (int sig : {SIGCHLD, SIGTERM, SIGINT}) {
    ::sigaction(sig, &sa, nullptr);
    ::sigaddset(&mask, sig);
  }
  ::sigprocmask(SIG_BLOCK, &mask, nullptr);
}

}  // namespace

int main(int argc, char** argv) {
  using namespace krunbox;
  using namespace krunbox::agent;
  bool had_stdio = ensure_stdio();
  set_log_program("krunbox-agent");
  set_log_level(LogLevel::kInfo);
  init_logging_from_env();

  auto parsed = parse_args(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "krunbox-agent: %s\n", parsed.error().what().c_str());
    return 2;
  }
  AgentConfig config = std::move(*parsed);
  if (config.show_help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (config.show_version) {
    std::printf("krunbox-agent %s\n", KRUNBOX_AGENT_VERSION);
    return 0;
  }
  bool pid1 = config.init == InitMode::kOn || (config.init == InitMode::kAuto && ::getpid() == 1);
  g_pid1 = pid1;
  std::set_terminate(on_terminate);
  prepare_signals();

  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) env.emplace_back(*e);
  std::string cmdline;
  if (pid1) {
    mount_basics();
    if (!had_stdio) attach_console();
    cmdline = read_file("/proc/cmdline", 1u << 16).value_or("");
  }
  if (auto st = apply_boot_params(config, cmdline, env); !st.ok()) fatal(st.error().what(), pid1);
  if (config.log_level) set_log_level(*config.log_level);
  if (pid1) KB_DEBUG("boot: PID 1 at {} ms", boot_ms());

  if (auto st = load_modules_file(config); !st.ok()) fatal(st.error().what(), pid1);
  if (auto st = load_modules(config.modules); !st.ok()) fatal(st.error().what(), pid1);
  if (pid1 && !config.modules.empty()) KB_DEBUG("boot: {} modules loaded at {} ms", config.modules.size(), boot_ms());
  if (pid1 && !config.root_device.empty()) {
    GuestRootOptions root;
    root.device = config.root_device;
    if (auto st = switch_to_guest_root(root); !st.ok()) fatal(st.error().what(), pid1);
    mount_basics();  // whatever did not come along from the initramfs
    KB_DEBUG("boot: root {} mounted at {} ms", root.device, boot_ms());
  }
  if (pid1) {
    if (!config.hostname.empty())
      if (auto st = set_hostname(config.hostname); !st.ok()) KB_WARN("{}", st.error().what());
    if (auto st = bring_up_loopback(); !st.ok()) KB_WARN("{}", st.error().what());
    if (config.network) {
      // A sandbox asked for a network (published ports, outbound): without
      // it the sandbox would be broken in a way no workload could tell.
      auto nic = configure_network(*config.network);
      if (!nic) fatal(std::move(nic).error().wrap("configuring the guest network").what(), pid1);
      if (auto st = write_resolv_conf(*config.network); !st.ok()) fatal(st.error().what(), pid1);
      KB_DEBUG("boot: {} is {} at {} ms", *nic, config.network->describe(), boot_ms());
      if (!config.udp_relay_port.empty()) start_udp_relay(config.udp_relay_port, config.network->address);
    }
  } else if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    // Orphaned grandchildren then go to the real init instead; not fatal.
    KB_WARN("PR_SET_CHILD_SUBREAPER: {}", std::strerror(errno));
  }

  if (!config.transport) fatal("no transport given (use --fd N or --transport SPEC)\n" + usage(), pid1);
  auto transport = Transport::open(*config.transport);
  if (!transport.ok()) fatal(transport.error().what(), pid1);
  if (pid1) KB_DEBUG("boot: transport open at {} ms", boot_ms());

  // The workloads' base environment is ours, minus the agent's own settings.
  std::erase_if(env, [](const std::string& e) { return e.starts_with("KRUNBOX_AGENT_"); });
  Server server(config, pid1, std::move(env));
  auto result = server.run(std::move(*transport));
  if (!result.ok()) fatal(result.error().what(), pid1);
  finish(*result, pid1);
}
