#include "krunbox/error.h"

#include <cstring>

namespace krunbox {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kAlreadyExists: return "already exists";
    case ErrorCode::kPermissionDenied: return "permission denied";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kTimeout: return "timeout";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kProtocol: return "protocol error";
    case ErrorCode::kLimitExceeded: return "limit exceeded";
    case ErrorCode::kCorrupt: return "corrupt data";
    case ErrorCode::kIllegalState: return "illegal state";
    case ErrorCode::kBusy: return "busy";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

ErrorCode Error::code_for_errno(int sys_errno) {
  switch (sys_errno) {
    case ENOENT: return ErrorCode::kNotFound;
    case EEXIST: return ErrorCode::kAlreadyExists;
    case EACCES:
    case EPERM: return ErrorCode::kPermissionDenied;
    case EINVAL: return ErrorCode::kInvalidArgument;
    case ETIMEDOUT: return ErrorCode::kTimeout;
    case ENOSYS:
    case EOPNOTSUPP: return ErrorCode::kUnsupported;
    default: return ErrorCode::kIo;
  }
}

std::string Error::what() const {
  std::string out;
  for (auto it = context_.rbegin(); it != context_.rend(); ++it) {
    out += *it;
    out += ": ";
  }
  out += message_;
  if (sys_errno_ != 0) {
    out += ": ";
    out += std::strerror(sys_errno_);
  }
  return out;
}

}  // namespace krunbox
