// E2B's control plane (api.e2b.app's REST API, the part the SDK's Sandbox
// class uses) over krunbox's provisioning and lifecycle: create, list, get,
// kill, timeout, pause, resume/connect. A template is an image reference in
// krunbox's store, or an alias for one.
#pragma once

#include <map>
#include <string>

#include "e2b/keys.h"
#include "serve/http.h"

namespace krunbox::e2b {

struct E2bOptions {
  std::string backend = "auto";                  // as `krunbox create --backend`
  std::map<std::string, std::string> templates;  // alias -> image reference
  std::string domain;                            // answered as each sandbox's "domain" (empty: null)
};

// The alias file: a JSON object of template names to image references.
Result<std::map<std::string, std::string>> parse_templates(std::string_view text, const std::string& path);

// What image a templateID names: an alias's image, "base" (the SDK's
// default) the bundled busybox unless aliased, otherwise the id itself.
std::string image_of_template(const E2bOptions& options, const std::string& template_id);

// E2B's error shape: {"code": STATUS, "message": "..."}.
serve::HttpResponse api_error(int status, std::string message);
serve::HttpResponse api_error(const Error& error);

// A request already authenticated.
serve::HttpResponse control_plane(const serve::HttpRequest& request, const E2bOptions& options, const Keys& keys);

}  // namespace krunbox::e2b
