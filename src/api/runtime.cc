// The public API (include/krunbox/krunbox.h) over src/sandbox: it maps the
// public types onto the library's own, so the public header never exposes
// an internal one.
#include <stdlib.h>

#include "api/convert.h"
#include "base/paths.h"
#include "krunbox/krunbox.h"
#include "sandbox/checkpointing.h"
#include "sandbox/exec_session.h"
#include "sandbox/files_client.h"
#include "sandbox/lifecycle.h"
#include "sandbox/provision.h"

namespace krunbox::api {

struct Runtime::Impl {
  Lifecycle lifecycle;

  Result<std::string> resolve(const std::string& key) { return lifecycle.resolve(key); }
};

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Runtime::Runtime(Runtime&&) noexcept = default;
Runtime& Runtime::operator=(Runtime&&) noexcept = default;
Runtime::~Runtime() = default;

Result<Runtime> Runtime::open(const RuntimeOptions& options) {
  // The monitors this process starts are krunbox programs that find the data
  // root and run dir in their environment, as every krunbox command does.
  for (const auto& [var, value] : {std::pair{"KRUNBOX_ROOT", &options.data_root},
                                   std::pair{"KRUNBOX_RUN_DIR", &options.run_dir}}) {
    if (value->empty()) continue;
    if ((*value)[0] != '/')
      return Error(ErrorCode::kInvalidArgument, std::string(var == std::string("KRUNBOX_ROOT") ? "data root" : "run dir") +
                                                    " " + *value + " is not an absolute path");
    ::setenv(var, value->c_str(), 1);
  }
  if (!options.install_prefix.empty()) set_install_prefix(options.install_prefix);
  KRUNBOX_TRY_CTX(find_krunbox_program(), "opening the krunbox runtime");
  KRUNBOX_TRY_CTX(ensure_private_dir(run_root()), "opening the krunbox runtime");
  return Runtime(std::make_unique<Impl>());
}

Result<std::string> Runtime::create(const SandboxOptions& o) {
  KRUNBOX_ASSIGN_OR_RETURN(CreateRequest request, to_create_request(o));
  return create_sandbox(impl_->lifecycle, std::move(request));
}

Status Runtime::start(const std::string& key) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, impl_->resolve(key));
  return impl_->lifecycle.start(id, {});
}

Result<std::string> Runtime::run(const SandboxOptions& o) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, create(o));
  if (auto st = impl_->lifecycle.start(id, {}); !st.ok()) {
    (void)impl_->lifecycle.remove(id, true);
    return std::move(st).error();
  }
  return id;
}

Status Runtime::stop(const std::string& key, std::chrono::milliseconds grace) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, impl_->resolve(key));
  return impl_->lifecycle.stop(id, grace);
}

Status Runtime::kill(const std::string& key, int signal) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, impl_->resolve(key));
  return impl_->lifecycle.kill(id, signal);
}

Status Runtime::pause(const std::string& key) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, impl_->resolve(key));
  return impl_->lifecycle.pause(id);
}

Status Runtime::resume(const std::string& key) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, impl_->resolve(key));
  return impl_->lifecycle.resume(id);
}

Status Runtime::checkpoint(const std::string& key, const std::string& name, bool leave_running) {
  KRUNBOX_TRY(checkpoint_sandbox(impl_->lifecycle, CheckpointRequest{key, name, leave_running}));
  return {};
}

Result<std::string> Runtime::restore(const std::string& checkpoint, const std::string& new_name) {
  RestoreRequest request;
  request.checkpoint = checkpoint;
  request.name = new_name;
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, create_from_checkpoint(impl_->lifecycle, request));
  if (auto st = impl_->lifecycle.start(id, {}); !st.ok()) {
    (void)impl_->lifecycle.remove(id, true);
    return std::move(st).error();
  }
  return id;
}

Status Runtime::remove_checkpoint(const std::string& name) {
  return CheckpointStore().remove(name, impl_->lifecycle.store());
}

Status Runtime::pause_to_disk(const std::string& key) { return krunbox::pause_to_disk(impl_->lifecycle, key); }

Status Runtime::remove(const std::string& key, bool force) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, impl_->resolve(key));
  KRUNBOX_ASSIGN_OR_RETURN(auto swept, impl_->lifecycle.remove(id, force));
  (void)swept;
  return {};
}

Result<SandboxInfo> Runtime::inspect(const std::string& key) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, impl_->resolve(key));
  KRUNBOX_ASSIGN_OR_RETURN(SandboxView view, impl_->lifecycle.view(id));
  return to_info(view);
}

Result<std::vector<SandboxInfo>> Runtime::list(const std::vector<std::string>& labels) {
  std::vector<LabelFilter> filters;
  for (const auto& l : labels) {
    KRUNBOX_ASSIGN_OR_RETURN(LabelFilter f, parse_label_filter(l));
    filters.push_back(std::move(f));
  }
  KRUNBOX_ASSIGN_OR_RETURN(auto views, impl_->lifecycle.list());
  std::vector<SandboxInfo> out;
  for (const auto& v : views)
    if (matches_labels(v.config.labels, filters)) out.push_back(to_info(v));
  return out;
}

namespace {

ExecOutcome public_outcome(const WorkloadOutcome& o) {
  ExecOutcome out;
  out.exit_code = o.exit_code();
  out.signal = o.status().signaled ? o.status().signal : 0;
  out.timed_out = o.timed_out();
  return out;
}

// Runs the command to its end, giving it its stdin at once.
Result<ExecOutcome> run_exec(Lifecycle& lc, const std::string& id, const ExecOptions& o,
                             const ExecSession::Output& output) {
  if (o.argv.empty()) return Error(ErrorCode::kInvalidArgument, "exec: argv is empty");
  if (o.timeout.count() < 0) return Error(ErrorCode::kInvalidArgument, "exec: timeout is negative");
  Workload w;
  w.argv = o.argv;
  w.env = o.env;
  w.cwd = o.cwd;
  w.user = o.user;
  w.stdin_open = o.stdin_data.has_value();
  w.timeout = o.timeout;
  KRUNBOX_ASSIGN_OR_RETURN(auto session, ExecSession::start(lc, id, w));
  if (o.stdin_data) session->feed_stdin(*o.stdin_data);
  auto outcome = session->wait(output);
  if (!outcome) return std::move(outcome).error();
  if (outcome->crashed()) return Error(ErrorCode::kUnavailable, outcome->reason());
  return public_outcome(*outcome);
}

}  // namespace

Result<ExecOutput> Runtime::exec(const std::string& key, const ExecOptions& o, const ExecCollectLimits& limits) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, impl_->resolve(key));
  ExecOutput out;
  auto collect = [](std::string& into, bool& truncated, size_t cap) {
    return [&into, &truncated, cap](std::string_view data) {
      size_t room = cap > into.size() ? cap - into.size() : 0;
      if (data.size() > room) truncated = true;
      into.append(data.substr(0, room));
    };
  };
  ExecSession::Output output;
  output.on_stdout = collect(out.stdout_data, out.stdout_truncated, limits.max_stdout);
  output.on_stderr = collect(out.stderr_data, out.stderr_truncated, limits.max_stderr);
  KRUNBOX_ASSIGN_OR_RETURN(ExecOutcome outcome, run_exec(impl_->lifecycle, id, o, output));
  static_cast<ExecOutcome&>(out) = outcome;
  return out;
}

Result<ExecOutcome> Runtime::exec(const std::string& key, const ExecOptions& o, const ExecStreams& streams) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, impl_->resolve(key));
  ExecSession::Output output;
  output.on_stdout = streams.on_stdout;
  output.on_stderr = streams.on_stderr;
  return run_exec(impl_->lifecycle, id, o, output);
}

Status Runtime::write_file(const std::string& key, const std::string& path, std::string_view data, uint32_t mode) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, impl_->resolve(key));
  PutFileOptions options;
  options.mode = mode;
  options.make_parents = true;
  return put_file(impl_->lifecycle, id, path, data, options);
}

Result<std::string> Runtime::read_file(const std::string& key, const std::string& path, size_t max_bytes) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, impl_->resolve(key));
  return get_file(impl_->lifecycle, id, path, max_bytes);
}

Result<FileInfo> Runtime::stat(const std::string& key, const std::string& path) {
  KRUNBOX_ASSIGN_OR_RETURN(std::string id, impl_->resolve(key));
  KRUNBOX_ASSIGN_OR_RETURN(FileStat st, stat_file(impl_->lifecycle, id, path));
  FileInfo info;
  info.path = path;
  uint32_t type = 0100000;  // S_IFREG
  if (st.type == FileStat::Type::kDirectory) type = 0040000;
  else if (st.type == FileStat::Type::kSymlink) type = 0120000;
  else if (st.type == FileStat::Type::kOther) type = 0;
  info.mode = type | (st.mode & 07777);
  info.size = st.size;
  info.mtime = st.mtime_ns / 1000000000;
  return info;
}

}  // namespace krunbox::api
