#include "docker/errors.h"

#include "base/json.h"
#include "serve/errors.h"

namespace krunbox::docker {

int docker_status(ErrorCode code) {
  if (code == ErrorCode::kUnsupported || code == ErrorCode::kLimitExceeded) return 400;
  return serve::http_status(code);
}

serve::HttpResponse docker_error(int status, std::string_view message) {
  serve::HttpResponse r;
  r.status = status;
  // Messages can carry a client's or a guest's bytes: invalid UTF-8 is replaced.
  r.body = Json{{"message", message}}.dump(-1, ' ', false, Json::error_handler_t::replace);
  return r;
}

serve::HttpResponse docker_error(const Error& error) {
  // A "No such ..." error is sent as is: clients compare its start.
  const auto& m = error.message();
  if (error.code() == ErrorCode::kNotFound && m.rfind("No such ", 0) == 0) return docker_error(404, m);
  return docker_error(docker_status(error.code()), error.what());
}

Error no_such_container(std::string_view key) {
  return Error(ErrorCode::kNotFound, "No such container: " + std::string(key));
}
Error no_such_image(std::string_view ref) { return Error(ErrorCode::kNotFound, "No such image: " + std::string(ref)); }
Error no_such_exec(std::string_view id) {
  return Error(ErrorCode::kNotFound, "No such exec instance: " + std::string(id));
}

}  // namespace krunbox::docker
