#include "serve/exec_events.h"

#include "image/registry_auth.h"
#include "proto/messages.h"

namespace krunbox::serve {

Json exec_end_fields(const ExecEnd& end) {
  return {{"exit_code", end.exit_code}, {"signal", end.signal}, {"timed_out", end.timed_out}};
}

Json output_event(OutputStream stream, std::string_view data, std::optional<uint64_t> offset) {
  Json j = {{"type", stream == OutputStream::kStdout ? "stdout" : "stderr"}, {"data", image::base64_encode(data)}};
  if (offset) j["offset"] = *offset;
  return j;
}

Json exit_event(const ExecEnd& end) {
  Json j = exec_end_fields(end);
  j["type"] = "exit";
  return j;
}

Json error_event(const Error& error) {
  return {{"type", "error"}, {"error", {{"code", proto::error_code_name(error.code())}, {"message", error.what()}}}};
}

}  // namespace krunbox::serve
