// create [-b BUNDLE] [--pid-file F] [--console-socket S] ID: the container's
// sandbox is recorded and its monitor started as our child (it becomes the
// caller's to reap once we exit); the workload waits for `start`.
#include <climits>
#include <cstdlib>

#include "backend/registry.h"
#include "base/fs.h"
#include "oci/bundle_spec.h"
#include "oci/commands/commands.h"
#include "oci/console.h"

namespace krunbox::oci {
namespace {

struct Bundle {
  BundleConfig config;
  SandboxPlan plan;
};

Result<Bundle> read_bundle(const Context& ctx, const std::string& bundle, const std::string& sandbox_id) {
  std::string path = join_path(bundle, "config.json");
  if (!path_exists(path))
    return Error(ErrorCode::kNotFound, "JSON specification file config.json not found in " + bundle);
  KRUNBOX_ASSIGN_OR_RETURN(std::string text, read_file(path, kMaxConfigBytes + 1));
  Bundle b;
  KRUNBOX_ASSIGN_OR_RETURN(b.config, parse_bundle_config(text));
  KRUNBOX_ASSIGN_OR_RETURN(b.plan, plan_sandbox(b.config, bundle, sandbox_id));
  for (const auto& note : b.plan.notes) log_debug(ctx, note);
  // Refused now, before anything is recorded, with the field named.
  KRUNBOX_ASSIGN_OR_RETURN(auto choice, select_backend(b.plan.backend, false));
  KRUNBOX_TRY(choice.backend->check(b.plan.spec));
  return b;
}

}  // namespace

Result<pid_t> create_container(Context& ctx, const CreateOptions& o) {
  KRUNBOX_TRY(check_container_id(o.id));
  Containers containers(ctx.global);
  if (containers.load(o.id).ok())
    return Error(ErrorCode::kAlreadyExists, "container with given ID already exists: " + o.id);
  char resolved[PATH_MAX];
  if (!::realpath(o.bundle.c_str(), resolved)) return Error::from_errno("the bundle " + o.bundle);
  const std::string bundle = resolved;
  const std::string sandbox_id = sandbox_id_for(o.id);
  KRUNBOX_ASSIGN_OR_RETURN(Bundle read, read_bundle(ctx, bundle, sandbox_id));
  const SandboxPlan& plan = read.plan;

  std::array<int, 3> stdio = {0, 1, 2};
  UniqueFd console;
  if (plan.spec.tty) {
    if (o.console_socket.empty())
      return Error(ErrorCode::kInvalidArgument,
                   "process.terminal is true, so a --console-socket is needed to hand over the terminal");
    KRUNBOX_ASSIGN_OR_RETURN(console, open_console(o.console_socket));
    stdio = {console.get(), console.get(), console.get()};
  } else if (!o.console_socket.empty()) {
    return Error(ErrorCode::kInvalidArgument,
                 "--console-socket was given but process.terminal is false: there is no terminal to hand over");
  }
  SandboxConfig sandbox;
  sandbox.spec = plan.spec;
  sandbox.backend = plan.backend;
  sandbox.image = plan.rootfs;
  sandbox.labels["io.krunbox.oci.id"] = o.id.substr(0, 1024);
  auto pid = containers.lifecycle().create_attached(std::move(sandbox), ctx.reinvoke({"monitor", sandbox_id}), stdio);
  if (!pid && pid.error().code() == ErrorCode::kAlreadyExists)
    return Error(ErrorCode::kAlreadyExists, "container with given ID already exists: " + o.id);
  if (!pid) return std::move(pid).error();
  ContainerRecord record{o.id, bundle, plan.rootfs, rfc3339_now(), read.config.annotations};
  Status saved = containers.save_record(sandbox_id, record);
  if (saved.ok() && !o.pid_file.empty())
    saved = write_file_atomic(o.pid_file, std::to_string(*pid), 0644).wrap("writing the pid file " + o.pid_file);
  if (!saved.ok()) {
    (void)containers.lifecycle().remove(sandbox_id, /*force=*/true);
    return std::move(saved).error();
  }
  return *pid;
}

void setup_create(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<CreateOptions>();
  auto* cmd = app.add_subcommand("create", "Create a container from a bundle; start runs its process");
  cmd->add_option("id", o->id, "Container id")->required();
  cmd->add_option("-b,--bundle", o->bundle, "The bundle directory (default: the current directory)");
  cmd->add_option("--pid-file", o->pid_file, "Write the container's pid here");
  cmd->add_option("--console-socket", o->console_socket, "Unix socket that gets the pty master (process.terminal)");
  cmd->add_option("--preserve-fds", o->preserve_fds, "Accepted; no extra fds are passed into a sandbox");
  cmd->add_flag("--no-pivot", o->ignored, "Accepted; the backend sets up the root its own way");
  cmd->add_flag("--no-new-keyring", o->ignored, "Accepted; a sandbox has its own keyring");
  cmd->callback([&ctx, o] {
    auto pid = create_container(ctx, *o);
    if (!pid) ctx.exit_code = report_error(ctx, pid.error().wrap("creating container " + o->id));
  });
}

}  // namespace krunbox::oci
