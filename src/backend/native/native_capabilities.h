// The native backend's capability table (capabilities.h), kept apart from
// native_backend.cc so the two change independently.
#pragma once

#include "backend/capabilities.h"

namespace krunbox::native {

BackendCapabilities capabilities();

}  // namespace krunbox::native
