// Errors are values. A failing operation returns an Error that carries a
// code, the errno where the failure came from the OS, a message naming the
// thing that failed, and context that callers add as the error rises.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace krunbox {

enum class ErrorCode {
  kInvalidArgument,   // the caller's input is wrong; fix the input
  kNotFound,          // a named thing does not exist
  kAlreadyExists,
  kPermissionDenied,
  kUnavailable,       // a needed facility is missing here (no /dev/kvm, no libkrun)
  kUnsupported,       // the operation is not supported by this backend or engine
  kTimeout,
  kCancelled,
  kIo,                // an OS call failed
  kProtocol,          // a peer sent bytes that break the protocol
  kLimitExceeded,     // input over a documented limit
  kCorrupt,           // stored or received data failed verification
  kIllegalState,      // the operation is not valid in the object's current state
  kBusy,              // as many as may run at once already do; retry once one ends
  kInternal,
};

std::string_view to_string(ErrorCode code);

// The one input an error is about, in the library's own terms: a SandboxSpec
// field ("network", "ports", ...) or a named option ("restart", "pull",
// "secret", "isolation"), and the value given, spelled as the library parses
// it (empty where it must not be repeated, e.g. a secret's). The message
// already names both for any reader; a front end uses this to add its own
// spelling (the CLI: its flag) without parsing the text.
struct ErrorField {
  std::string name;   // empty: the error is about no single input
  std::string value;
};

class Error {
 public:
  Error(ErrorCode code, std::string message, int sys_errno = 0)
      : code_(code), sys_errno_(sys_errno), message_(std::move(message)) {}

  // An error from a failed system call; errno is captured at the call.
  static Error from_errno(std::string message, int sys_errno = errno) {
    return Error(code_for_errno(sys_errno), std::move(message), sys_errno);
  }
  static ErrorCode code_for_errno(int sys_errno);

  // Adds context, outermost last: Error("open: x").wrap("pulling alpine")
  // prints as "pulling alpine: open: x".
  Error& wrap(std::string context) & {
    context_.push_back(std::move(context));
    return *this;
  }
  Error&& wrap(std::string context) && {
    context_.push_back(std::move(context));
    return std::move(*this);
  }

  // Names the input the error is about (see ErrorField).
  Error& with_field(std::string name, std::string value = {}) & {
    field_ = {std::move(name), std::move(value)};
    return *this;
  }
  Error&& with_field(std::string name, std::string value = {}) && {
    field_ = {std::move(name), std::move(value)};
    return std::move(*this);
  }

  ErrorCode code() const { return code_; }
  int sys_errno() const { return sys_errno_; }
  const ErrorField& field() const { return field_; }
  const std::string& message() const { return message_; }
  const std::vector<std::string>& context() const { return context_; }

  // The full human-readable text: context, message and strerror(errno).
  std::string what() const;

 private:
  ErrorCode code_;
  int sys_errno_;
  std::string message_;
  std::vector<std::string> context_;
  ErrorField field_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)
  template <typename U, typename = std::enable_if_t<std::is_constructible_v<T, U&&> &&
                                                    !std::is_same_v<std::decay_t<U>, T> &&
                                                    !std::is_same_v<std::decay_t<U>, Error>>>
  Result(U&& value) : v_(std::in_place_index<0>, T(std::forward<U>(value))) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error& error() & { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

  // By value: returning a reference would dangle when the Result is a temporary.
  Result wrap(std::string context) && {
    if (!ok()) std::get<1>(v_).wrap(std::move(context));
    return std::move(*this);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const& { return *error_; }
  Error& error() & { return *error_; }
  Error&& error() && { return std::move(*error_); }

  Result wrap(std::string context) && {
    if (error_) error_->wrap(std::move(context));
    return std::move(*this);
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

inline Status ok_status() { return {}; }

// A result's error, its value dropped.
template <typename T>
Status status_of(Result<T> r) {
  if (!r.ok()) return std::move(r).error();
  return {};
}

}  // namespace krunbox

#define KRUNBOX_CONCAT_INNER(a, b) a##b
#define KRUNBOX_CONCAT(a, b) KRUNBOX_CONCAT_INNER(a, b)

// Returns the error of `expr` (a Result) from the enclosing function.
#define KRUNBOX_TRY(expr)                                      \
  do {                                                         \
    auto&& krunbox_try_result = (expr);                        \
    if (!krunbox_try_result.ok())                              \
      return std::move(krunbox_try_result).error();            \
  } while (0)

// Like KRUNBOX_TRY, but adds context to the error on the way out.
#define KRUNBOX_TRY_CTX(expr, ctx)                             \
  do {                                                         \
    auto&& krunbox_try_result = (expr);                        \
    if (!krunbox_try_result.ok())                              \
      return std::move(krunbox_try_result).error().wrap(ctx);  \
  } while (0)

// KRUNBOX_ASSIGN_OR_RETURN(auto fd, open_file(path));
#define KRUNBOX_ASSIGN_OR_RETURN(lhs, expr) \
  KRUNBOX_ASSIGN_OR_RETURN_IMPL(KRUNBOX_CONCAT(krunbox_aor_, __LINE__), lhs, expr)
#define KRUNBOX_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).error();       \
  lhs = std::move(tmp).value()
