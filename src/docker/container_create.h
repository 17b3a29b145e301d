// POST /containers/create: Docker's container config and HostConfig become
// the library's CreateRequest. What krunbox supports is mapped; any other
// field is accepted only at its zero value (Docker's clients send many
// zero-valued fields) and refused, by its name, otherwise.
#pragma once

#include <string>
#include <string_view>

#include "krunbox/error.h"
#include "sandbox/provision.h"

namespace krunbox::docker {

// Labels krunbox keeps for Docker's sake, hidden from Config.Labels.
inline constexpr const char* kLabelPrefix = "io.krunbox.docker.";
inline constexpr const char* kAutoRemoveLabel = "io.krunbox.docker.auto-remove";
// A user's label choosing the backend ("native", "qemu", "krun"; default: auto).
inline constexpr const char* kBackendLabel = "io.krunbox.backend";

struct ContainerCreate {
  CreateRequest request;
  bool auto_remove = false;
};

// `name`: the ?name= parameter ("" for none; a leading '/' is dropped).
Result<ContainerCreate> map_create(std::string_view body, std::string_view name);

// Whether a JSON value is its type's zero (null, false, 0, "", and arrays
// and objects of nothing but zeros).
bool is_zero(const Json& value);

}  // namespace krunbox::docker
