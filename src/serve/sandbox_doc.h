// The sandbox document every sandbox endpoint returns: the fields of the
// public API's SandboxInfo, in JSON.
#pragma once

#include "base/json.h"
#include "sandbox/lifecycle.h"
#include "serve/responses.h"

namespace krunbox::serve {

// {id, name, image, backend, state, status, reason, exit_code, labels,
//  ports: [{host_ip, host_port, guest_port, protocol}], created_at,
//  timeout_s, idle_timeout_s, deadline}
Json sandbox_document(const SandboxView& view);

}  // namespace krunbox::serve
