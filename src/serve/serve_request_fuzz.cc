// The API server's parsers of what a client sends: create, exec, start,
// timeout, signal and resize bodies, query strings, file, output and events
// queries, the attach WebSocket's control messages, path ids, the listen address and the Authorization header.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "serve/auth.h"
#include "serve/request_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace krunbox::serve;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  (void)parse_create_body(in);
  (void)parse_exec_body(in);
  (void)parse_start_body(in);
  (void)parse_timeout_body(in);
  (void)parse_exec_signal_body(in);
  (void)parse_resize_body(in);
  (void)parse_output_query(std::string(in));
  (void)parse_events_query(std::string(in));
  (void)parse_attach_control(in);
  (void)signal_from_text(in);
  for (auto e : {FileEndpoint::kRead, FileEndpoint::kWrite, FileEndpoint::kList, FileEndpoint::kRemove})
    (void)parse_file_query(std::string(in), e);
  (void)parse_mkdir_body(in);
  (void)parse_move_body(in);
  if (auto q = parse_query(in, {"label", "timeout", "signal"}); q.ok()) {
    (void)parse_label_filters(*q);
    (void)parse_stop_timeout(*q);
    (void)parse_kill_signal(*q);
  }
  (void)percent_decode(in, "fuzz");
  (void)check_sandbox_key(in);
  (void)parse_listen_address(in);
  (void)bearer_matches(in, "0123456789abcdef0123456789abcdef");
  return 0;
}
