#include "serve/responses.h"

namespace krunbox::serve {

std::string dump_json(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

HttpResponse json_response(int status, const Json& j) {
  HttpResponse r;
  r.status = status;
  r.body = dump_json(j);
  return r;
}

HttpResponse no_content() {
  HttpResponse r;
  r.status = 204;
  r.content_type.clear();
  return r;
}

bool wants_ndjson(const std::string& accept) {
  return accept.find("application/x-ndjson") != std::string::npos;
}

}  // namespace krunbox::serve
