// The public API (include/krunbox/krunbox.h) over src/sandbox: it maps the
// public types onto the library's own, so the public header never exposes
// an internal one.
#include <stdlib.h>

#include "api/convert.h"
#include "base/paths.h"
#include "krunbox/krunbox.h"
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

}  // namespace krunbox::api
