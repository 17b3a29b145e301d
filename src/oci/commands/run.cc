// run [-d] [--keep] ID: create and start; without -d, wait for the process
// and exit with its code, then delete the container (unless --keep).
#include <sys/wait.h>

#include <cerrno>

#include "oci/commands/commands.h"

namespace krunbox::oci {
namespace {

struct RunOptions {
  CreateOptions create;
  bool detach = false;
  bool keep = false;
};

int run_container(Context& ctx, const RunOptions& o) {
  auto pid = create_container(ctx, o.create);
  if (!pid) return report_error(ctx, pid.error().wrap("creating container " + o.create.id));
  Status started = start_container(ctx, o.create.id);
  Containers containers(ctx.global);
  std::string sandbox_id = sandbox_id_for(o.create.id);
  if (!started.ok()) {
    (void)containers.lifecycle().remove(sandbox_id, /*force=*/true);
    return report_error(ctx, std::move(started).error().wrap("starting container " + o.create.id));
  }
  if (o.detach) return 0;
  // The monitor is our child: its exit status is the process's.
  int wstatus = 0;
  pid_t got;
  do {
    got = ::waitpid(*pid, &wstatus, 0);
  } while (got < 0 && errno == EINTR);
  if (got < 0) return report_error(ctx, Error::from_errno("waiting for container " + o.create.id));
  int code = ExitStatus::from_wait_status(wstatus).shell_code();
  if (!o.keep) {
    auto removed = containers.lifecycle().remove(sandbox_id, /*force=*/true);
    if (!removed) (void)report_error(ctx, removed.error().wrap("deleting container " + o.create.id));
  }
  return code;
}

}  // namespace

void setup_run(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Create and start a container; without -d, wait for it and exit with its code");
  cmd->add_option("id", o->create.id, "Container id")->required();
  cmd->add_option("-b,--bundle", o->create.bundle, "The bundle directory (default: the current directory)");
  cmd->add_option("--pid-file", o->create.pid_file, "Write the container's pid here");
  cmd->add_option("--console-socket", o->create.console_socket, "Unix socket that gets the pty master");
  cmd->add_option("--preserve-fds", o->create.preserve_fds, "Accepted; no extra fds are passed into a sandbox");
  cmd->add_flag("-d,--detach", o->detach, "Return once the process runs");
  cmd->add_flag("--keep", o->keep, "Keep the container's state after it ends");
  cmd->add_flag("--no-pivot", o->create.ignored, "Accepted; the backend sets up the root its own way");
  cmd->add_flag("--no-new-keyring", o->create.ignored, "Accepted; a sandbox has its own keyring");
  cmd->callback([&ctx, o] { ctx.exit_code = run_container(ctx, *o); });
}

}  // namespace krunbox::oci
