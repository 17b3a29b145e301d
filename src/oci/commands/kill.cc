// kill [-a] ID [SIGNAL]: the signal (default TERM) to the container's
// process group. A container that never started, or a paused one asked for
// KILL, is stopped instead, as its process cannot take a signal then.
#include <signal.h>

#include "base/signal_names.h"
#include "oci/commands/commands.h"

namespace krunbox::oci {
namespace {

struct KillOptions {
  std::string id;
  std::string signal = "TERM";
  bool all = false;
};

Status kill_container(Context& ctx, const KillOptions& o) {
  KRUNBOX_ASSIGN_OR_RETURN(int sig, parse_signal_name(o.signal));
  Containers containers(ctx.global);
  KRUNBOX_ASSIGN_OR_RETURN(Container c, containers.load(o.id));
  switch (c.status) {
    case ContainerStatus::kStopped: return Error(ErrorCode::kIllegalState, "container not running");
    case ContainerStatus::kCreated: return containers.lifecycle().stop(c.sandbox_id, std::chrono::milliseconds(0));
    case ContainerStatus::kPaused:
      if (sig == SIGKILL) return containers.lifecycle().stop(c.sandbox_id, std::chrono::milliseconds(0));
      return Error(ErrorCode::kIllegalState, "container is paused: only KILL reaches it before it is resumed");
    case ContainerStatus::kRunning: break;
  }
  // The main process's whole group, with or without --all: the sandbox holds nothing else of the container.
  return containers.lifecycle().kill(c.sandbox_id, sig);
}

}  // namespace

void setup_kill(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<KillOptions>();
  auto* cmd = app.add_subcommand("kill", "Send a signal to a container's process (default TERM)");
  cmd->add_option("id", o->id, "Container id")->required();
  cmd->add_option("signal", o->signal, "Signal name or number");
  cmd->add_flag("-a,--all", o->all, "Every process of the container");
  cmd->callback([&ctx, o] {
    if (auto st = kill_container(ctx, *o); !st.ok()) ctx.exit_code = report_error(ctx, st.error());
  });
}

}  // namespace krunbox::oci
