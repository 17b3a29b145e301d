// The image endpoints over the local store: list, inspect, remove, load, and
// pulls (POST /images/create) with progress as Docker's JSON message stream.
// An image's Id is its record's digest (the manifest or index the tag
// points at), the one containers report as their Image.
#pragma once

#include <string>

#include "docker/containers.h"
#include "krunbox/error.h"
#include "serve/http.h"

namespace krunbox::docker {

Result<serve::HttpResponse> list_images(Call& c);
Result<serve::HttpResponse> inspect_image(Call& c, const std::string& name);
Result<serve::HttpResponse> remove_image(Call& c, const std::string& name);
Result<serve::HttpResponse> pull_image(Call& c);
// POST /images/load: a docker save archive or an OCI layout tar, as the
// store's loader takes them; answers Docker's {"stream": "Loaded image: ..."}.
Result<serve::HttpResponse> load_image(Call& c);

// Go's time for an RFC 3339 text, in unix seconds (0 when unreadable).
int64_t unix_of_rfc3339(const std::string& text);

}  // namespace krunbox::docker
