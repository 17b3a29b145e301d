// The public API's types (include/krunbox/krunbox.h) to and from the
// library's own; each check a public field fails names that field.
#pragma once

#include "krunbox/krunbox.h"
#include "sandbox/lifecycle.h"
#include "sandbox/provision.h"

namespace krunbox::api {

Result<CreateRequest> to_create_request(const SandboxOptions& options);
SandboxInfo to_info(const SandboxView& view);

}  // namespace krunbox::api
