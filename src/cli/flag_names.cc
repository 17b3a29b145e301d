#include "cli/flag_names.h"

#include <string_view>

#include "backend/capabilities.h"
#include "image/registry_pull.h"
#include "sandbox/secrets.h"
#include "sandbox/state_store.h"

namespace krunbox::cli {
namespace {

struct FlagName {
  std::string_view field;  // ErrorField::name
  std::string_view flag;
  bool shows_value;  // false: a switch, whose value would say nothing
};

// One row per field the library names in its errors. The flags themselves
// are declared in sandbox_flags.cc and the verbs.
constexpr FlagName kFlags[] = {
    {spec_field::kNetwork, "--net", true},
    {spec_field::kPorts, "-p", true},
    {spec_field::kVolumes, "-v", true},
    {spec_field::kUserNamespace, "--userns", false},
    {spec_field::kPidsLimit, "--pids-limit", true},
    {spec_field::kAccel, "--accel", true},
    {spec_field::kTty, "-t", false},
    {spec_field::kRootfs, "--rootfs", true},
    {spec_field::kIsolation, "--isolation", true},
    {kSecretField, "--secret", true},
    {kRestartField, "--restart", true},
    {kTtlField, "--ttl", false},
    {kIdleTimeoutField, "--idle-timeout", false},
    {image::kPullField, "--pull", true},
};

}  // namespace

std::string flag_for(const ErrorField& field) {
  for (const auto& f : kFlags) {
    if (f.field != field.name) continue;
    std::string out(f.flag);
    if (f.shows_value && !field.value.empty()) out += " " + field.value;
    return out;
  }
  return "";
}

Error with_flag_names(const Error& error) {
  std::string flag = flag_for(error.field());
  if (flag.empty()) return error;
  Error out(error.code(), flag + ": " + error.message(), error.sys_errno());
  out.with_field(error.field().name, error.field().value);
  for (const auto& c : error.context()) out.wrap(c);
  return out;
}

}  // namespace krunbox::cli
