// The sandbox document every sandbox endpoint returns: the fields of the
// public API's SandboxInfo, in JSON.
#pragma once

#include "base/json.h"
#include "sandbox/lifecycle.h"

namespace krunbox::serve {

// {id, name, image, backend, state, status, reason, exit_code, labels,
//  ports: [{host_ip, host_port, guest_port, protocol}], created_at}
Json sandbox_document(const SandboxView& view);

// Serialises for a response body; invalid UTF-8 (from an image's labels,
// a guest's reason) is replaced rather than failing the response.
std::string dump_json(const Json& j);

}  // namespace krunbox::serve
