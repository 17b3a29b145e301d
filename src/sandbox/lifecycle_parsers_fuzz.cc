// The lifecycle's parsers of bytes that cross a trust boundary or a crash:
// monitor frames, requests and replies, the secrets hand-off, state files, checkpoint records, sh scripts,
// archive entry names.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "backend/qemu/qemu_checkpoint.h"
#include "sandbox/archive.h"
#include "sandbox/checkpoints.h"
#include "sandbox/monitor_messages.h"
#include "sandbox/monitor_protocol.h"
#include "sandbox/script_runner.h"
#include "sandbox/secrets.h"
#include "sandbox/state_store.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace krunbox;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (in.size() >= monitor::kFrameHeader) (void)monitor::decode_header(in.substr(0, monitor::kFrameHeader));
  // What the monitor parses from any local process of its user, and the
  // CLI from the monitor.
  if (auto request = monitor::parse_request(in); request.ok()) (void)monitor::encode_request(*request);
  if (auto body = monitor::parse_reply(in); body.ok()) {
    (void)monitor::parse_exec_started(*body);
    (void)monitor::parse_status_reply(*body);
    (void)monitor::parse_put_done(*body);
    (void)monitor::parse_get_done(*body);
    (void)monitor::parse_stat_reply(*body);
    (void)monitor::parse_attach_started(*body);
    if (auto execs = monitor::parse_execs_reply(*body); execs.ok()) (void)monitor::encode_reply(*execs);
  }
  (void)monitor::parse_signal_frame(in);
  (void)monitor::parse_resize_frame(in);
  (void)monitor::parse_exit_frame(in);
  if (auto name = clean_archive_entry_name(in)) {
    // What extraction joins to its directory never climbs out of it.
    if (!name->empty() && ((*name)[0] == '/' || *name == ".." || name->find("../") == 0 ||
                           name->find("/../") != std::string::npos || name->ends_with("/..")))
      __builtin_trap();
  }
  (void)decode_secrets(in);
  (void)parse_script(in);
  (void)parse_restart_policy(in);
  if (in.find('@') == std::string_view::npos) (void)parse_secret(in);  // @FILE would read files
  if (auto j = parse_json(in, "fuzz"); j.ok()) {
    (void)config_from_json(*j);
    (void)status_from_json(*j);
    // A checkpoint's record may come from another machine.
    if (auto info = checkpoint_from_json(*j); info.ok()) (void)to_json(*info);
    (void)monitor::parse_checkpoint_done(*j);
    if (auto facts = parse_checkpoint_facts(*j); facts.ok()) (void)check_restorable(*facts, *facts);
  }
  return 0;
}
