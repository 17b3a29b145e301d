// The image endpoints under /v1/images (api_images.cc). Internal to the API.
#pragma once

#include <string>
#include <vector>

#include "krunbox/error.h"
#include "serve/http.h"

namespace krunbox::serve {

// `rest`: the path's segments after "images"; the method already checked
// by the router: GET /v1/images, POST /v1/images/pull, GET|DELETE
// /v1/images/{ref...}.
Result<HttpResponse> images_endpoint(const std::vector<std::string>& rest, const HttpRequest& request);

}  // namespace krunbox::serve
