#include "sandbox/provision.h"

#include "backend/registry.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/paths.h"
#include "image/image_store.h"
#include "image/run_params.h"

namespace krunbox {
namespace {

// The image, loading the bundled one into the store if it is the default
// image and was never loaded (a fresh data dir) or was removed; any other
// image is pulled as `policy` says.
Result<image::ResolvedImage> resolve_image(image::ImageStore& store, const std::string& ref, image::PullPolicy policy) {
  if (ref != kDefaultImage) {
    image::PullOptions options;
    KRUNBOX_ASSIGN_OR_RETURN(options.registry.insecure, image::load_insecure_registries());
    return image::ensure_image(store, ref, policy, options);
  }
  auto resolved = store.resolve(ref);
  if (resolved.ok() || resolved.error().code() != ErrorCode::kNotFound) return resolved;
  std::string layout = bundled_image_layout();
  if (!is_directory(layout))
    return Error(ErrorCode::kNotFound,
                 "the bundled image is missing (no layout at " + layout + "); run scripts/setup.sh");
  KB_INFO("loading the bundled image from {}", layout);
  image::LoadOptions load;
  load.name = kDefaultImage;
  KRUNBOX_TRY(store.load(layout, load).wrap("load the bundled image from " + layout));
  return store.resolve(ref);
}

// The request's environment entries, checked; bare KEYs (removals) are kept
// only where there is an image environment to remove them from.
Result<std::vector<std::string>> checked_env(const std::vector<std::string>& env, bool keep_removals) {
  std::vector<std::string> out;
  for (const auto& e : env) {
    KRUNBOX_ASSIGN_OR_RETURN(auto entry, parse_env_entry(e, nullptr));
    if (entry)
      out.push_back(std::move(*entry));
    else if (keep_removals)
      out.push_back(e);
  }
  return out;
}

Result<PreparedSandbox> provision_rootfs(const ProvisionRequest& r, SandboxSpecBuilder& b) {
  if (r.entrypoint)
    return Error(ErrorCode::kInvalidArgument,
                 "an entrypoint needs an image; with a root directory the command is the whole argv");
  if (!is_directory(r.rootfs)) return Error(ErrorCode::kNotFound, "root directory " + r.rootfs + " is not a directory");
  KRUNBOX_ASSIGN_OR_RETURN(auto env, checked_env(r.env, false));
  b.rootfs(r.rootfs).cwd(r.workdir.value_or("/")).user(r.user.value_or(""));
  b.command(r.command.empty() ? std::vector<std::string>{"/bin/sh"} : r.command);
  for (auto& e : env) b.env(std::move(e));
  PreparedSandbox out;
  KRUNBOX_ASSIGN_OR_RETURN(out.spec, b.build());
  return out;
}

Result<PreparedSandbox> provision_image(const ProvisionRequest& r, SandboxSpecBuilder& b) {
  PreparedSandbox out;
  out.image = r.image.empty() ? kDefaultImage : r.image;
  KRUNBOX_ASSIGN_OR_RETURN(auto env, checked_env(r.env, true));
  KRUNBOX_ASSIGN_OR_RETURN(auto store, open_image_store());
  KRUNBOX_ASSIGN_OR_RETURN(image::ResolvedImage resolved, resolve_image(*store, out.image, r.pull));
  out.image_digest = resolved.manifest_digest.str();
  image::RunOverrides o;
  o.entrypoint = r.entrypoint;
  o.args = r.command;
  o.env = std::move(env);
  o.workdir = r.workdir;
  o.user = r.user;
  KRUNBOX_ASSIGN_OR_RETURN(image::RunParams params, image::resolve_run_params(resolved.config, o, out.image));
  std::string id = generate_sandbox_id();
  b.id(id).rootfs_is_private(true);
  if (!resolved.chain_ids.empty()) b.rootfs_content_key(resolved.chain_ids.back().hex());
  b.command(std::move(params.argv)).cwd(params.workdir).user(params.user);
  for (auto& e : params.env) b.env(std::move(e));
  // The whole spec is checked (with "/" standing in for the root) before the
  // root is made, so bad input (a bad name, say) never costs a root and its
  // mount; the root goes again if anything later fails.
  KRUNBOX_TRY(b.rootfs("/").build());
  KRUNBOX_ASSIGN_OR_RETURN(out.root, ImageRoot::create(*store, id, resolved));
  b.rootfs(out.root.path());
  KRUNBOX_ASSIGN_OR_RETURN(out.spec, b.build());
  return out;
}

}  // namespace

std::string bundled_image_layout() {
  return join_path(data_root(), "bundled/busybox-oci");
}

std::string PreparedSandbox::image_label() const {
  return image.empty() ? "rootfs:" + spec.rootfs : image;
}

Result<PreparedSandbox> provision(const ProvisionRequest& r) {
  if (!r.rootfs.empty() && !r.image.empty())
    return Error(ErrorCode::kInvalidArgument, "give either an image or a root directory, not both");
  SandboxSpec base = r.base;
  // Provisioning's own fields, whatever the caller left in them.
  base.id.clear();
  base.rootfs.clear();
  base.rootfs_is_private = false;
  base.rootfs_content_key.clear();
  base.argv.clear();
  base.env.clear();
  base.cwd = "/";
  base.user.clear();
  SandboxSpecBuilder b(std::move(base));
  return r.rootfs.empty() ? provision_image(r, b) : provision_rootfs(r, b);
}

Result<std::string> create_sandbox(Lifecycle& lc, CreateRequest request) {
  struct WipeOnExit {
    std::vector<Secret>& secrets;
    ~WipeOnExit() { wipe(secrets); }
  } wipe_secrets{request.secrets};
  KRUNBOX_TRY(sweep_leftovers());
  KRUNBOX_TRY(check_labels(request.labels));
  KRUNBOX_TRY(check_sandbox_timeouts(request.ttl, request.idle_timeout));
  // Resolved now, so the sandbox keeps its backend across restarts.
  KRUNBOX_ASSIGN_OR_RETURN(auto choice, select_backend(request.backend, request.require_vm));
  // Asked before the root is made; the store asks again under its lock.
  KRUNBOX_TRY(lc.store().check_name_free(request.provision.base.name));
  // The root is released on every way out below until the record holds it.
  KRUNBOX_ASSIGN_OR_RETURN(auto prepared, provision(request.provision));
  // Now, not when the monitor makes the engine: a spec this backend cannot
  // run is refused before it is recorded, in this process, with its field.
  KRUNBOX_TRY(choice.backend->check(prepared.spec));
  SandboxConfig config;
  config.image = prepared.image_label();
  config.spec = std::move(prepared.spec);
  config.backend = choice.report.backend;
  config.restart = request.restart;
  config.labels = std::move(request.labels);
  config.ttl = request.ttl;
  config.idle_timeout = request.idle_timeout;
  auto id = lc.create(std::move(config), request.secrets);
  if (id) prepared.root.keep();
  return id;
}

Status sweep_leftovers() {
  // The engines' sweeps act on what they find in the run dir: they SIGKILL
  // the PID 1 that a dead owner's state file names and remove the cgroups it
  // names. In a run dir another user made or can write, that state is theirs
  // to write, so nothing is swept, or started, there.
  KRUNBOX_TRY_CTX(check_private_dir(run_root()), "checking the run dir before cleaning up after earlier sandboxes");
  if (auto roots = sweep_orphaned_roots(); !roots.ok()) {
    KB_WARN("cleaning up roots of earlier sandboxes: {}", roots.error().what());
  } else if (*roots > 0) {
    KB_INFO("released {} root(s) left by killed krunbox processes", *roots);
  }
  for (const auto& line : sweep_backend_leftovers()) KB_INFO("{}", line);
  return {};
}

}  // namespace krunbox
