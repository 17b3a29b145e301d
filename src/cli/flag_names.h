// The CLI's spelling of the inputs that library errors name (ErrorField): a
// refusal worded in the library's terms ("network mode host is not possible
// on the qemu backend ...") reaches the user with the flag they typed in
// front of it ("--net host: network mode host is not possible ...").
#pragma once

#include <string>

#include "krunbox/error.h"

namespace krunbox::cli {

// "--net host", "--userns", "-p 127.0.0.1:8080:80/tcp"; empty for a field no
// flag of ours sets.
std::string flag_for(const ErrorField& field);

// The error as the CLI prints it: its flag, if any, in front of the message
// the field belongs to; code, errno, field and context unchanged.
Error with_flag_names(const Error& error);

}  // namespace krunbox::cli
