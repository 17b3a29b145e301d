// Docker's error shape, {"message": "..."}, and the messages its clients
// recognise ("No such container: X", "No such image: X").
#pragma once

#include <string>
#include <string_view>

#include "krunbox/error.h"
#include "serve/http.h"

namespace krunbox::docker {

serve::HttpResponse docker_error(int status, std::string_view message);
// The library's error with src/serve's status mapping, except that
// kUnsupported and kLimitExceeded are 400: Docker's clients know no 422/413.
serve::HttpResponse docker_error(const Error& error);
int docker_status(ErrorCode code);

// kNotFound errors in the words Docker's clients match on.
Error no_such_container(std::string_view key);
Error no_such_image(std::string_view ref);
Error no_such_exec(std::string_view id);

}  // namespace krunbox::docker
