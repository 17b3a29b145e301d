// What API clients send, turned into the library's requests. Everything a
// client sends is untrusted: each parser checks types, ranges and unknown
// fields, and its errors (kInvalidArgument) name the field as the client
// spelled it ("ports[1].guest_port"), so a 400 says what to fix.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/manifest.h"
#include "krunbox/error.h"
#include "sandbox/events.h"
#include "sandbox/provision.h"
#include "sandbox/secrets.h"
#include "sandbox/state_store.h"
#include "serve/exec_call.h"

namespace krunbox::serve {

// The largest JSON body the sandbox endpoints read.
inline constexpr size_t kMaxJsonBody = 1u << 20;

// POST /v1/sandboxes.
// With "from_checkpoint" the sandbox restores that checkpoint, and only
// name, labels, restart, timeout_s, idle_timeout_s and start may come with it.
struct CreateBody {
  CreateRequest request;
  bool start = true;
  std::string from_checkpoint;
};
Result<CreateBody> parse_create_body(std::string_view body);

// POST .../start: no body, {} or {"secrets": {...}} (needed again when the
// sandbox's monitor ended: only the monitor ever held them).
Result<std::vector<Secret>> parse_start_body(std::string_view body);

// POST .../exec: the largest body (stdin travels in it), and the most
// output the collected (non-streamed) form keeps of each stream.
inline constexpr size_t kMaxExecBody = 8u << 20;
inline constexpr size_t kMaxCollectedOutput = 4u << 20;
inline constexpr uint64_t kMaxExecTimeout = 86400;

// {argv | cmd, env, cwd, user, timeout_s, stdin, stdin_encoding, output_encoding}
// With background, also tty; the command then outlives the request.
struct ExecBody {
  ExecParams params;
  bool base64 = false;  // output_encoding "base64" (else "text")
  bool background = false;
};
Result<ExecBody> parse_exec_body(std::string_view body);

// POST /v1/images/pull {"ref": "alpine:3.20", "platform": "linux/arm64"}.
struct PullBody {
  std::string ref;
  image::Platform platform = image::host_platform();
};
Result<PullBody> parse_pull_body(std::string_view body);
// Action endpoints take no body; an empty JSON object is accepted too, as
// some clients always send one with POST.
Status check_no_body(const std::string& body);

// POST .../checkpoint {"name": "cp1", "leave_running": false}.
struct CheckpointBody {
  std::string name;
  bool leave_running = false;
};
Result<CheckpointBody> parse_checkpoint_body(std::string_view body);
// POST .../timeout {"timeout_s": N}: the time to live from now (0: none).
Result<std::chrono::seconds> parse_timeout_body(std::string_view body);
// POST .../execs/{eid}/signal {"signal": 15 | "TERM" | "SIGTERM"}.
Result<int> parse_exec_signal_body(std::string_view body);
// POST .../execs/{eid}/resize {"rows": R, "cols": C}.
Result<std::pair<uint16_t, uint16_t>> parse_resize_body(std::string_view body);
// A text message on an attach WebSocket: {"type": "resize", "rows", "cols"},
// {"type": "signal", "signal"} or {"type": "close_stdin"}.
struct AttachControl {
  enum class Kind { kResize, kSignal, kCloseStdin };
  Kind kind = Kind::kCloseStdin;
  std::pair<uint16_t, uint16_t> size;  // kResize: rows, cols
  int signal = 0;                      // kSignal
};
Result<AttachControl> parse_attach_control(std::string_view text);
// GET .../execs/{eid}/output?follow=1&offset=N.
struct OutputQuery {
  bool follow = false;
  uint64_t offset = 0;
};
Result<OutputQuery> parse_output_query(const std::string& query);
// GET /v1/events?type=exited&label=k=v&sandbox=ID|NAME, each repeatable
// (SandboxEventFilter says how they combine); events_filter_from checks
// such pairs from anywhere (`krunbox events --filter`).
Result<SandboxEventFilter> parse_events_query(const std::string& query);
Result<SandboxEventFilter> events_filter_from(const std::vector<std::pair<std::string, std::string>>& params);
// A signal's number from "9", "KILL" or "SIGKILL"; nullopt if none.
std::optional<int> signal_from_text(std::string_view text);

// ?path=/abs (files endpoints); a write (PUT) also takes mode=0644 (octal)
// and parents=1, a listing depth=1..10, a DELETE recursive=1. Booleans
// are 1, true, 0 or false, here and in every query.
enum class FileEndpoint { kRead, kWrite, kList, kRemove };
struct FileQuery {
  std::string path;
  uint32_t mode = 0644;
  bool make_parents = false;
  uint32_t depth = 1;
  bool recursive = false;
};
Result<FileQuery> parse_file_query(const std::string& query, FileEndpoint endpoint);
Result<bool> parse_bool_param(std::string_view name, const std::string& value);

// POST .../files/mkdir {"path", "mode": 493, "parents": true}.
struct MakeDirBody {
  std::string path;
  uint32_t mode = 0755;
  bool parents = false;
};
Result<MakeDirBody> parse_mkdir_body(std::string_view body);
// POST .../files/move {"from", "to"}.
struct MoveBody {
  std::string from;
  std::string to;
};
Result<MoveBody> parse_move_body(std::string_view body);

// A query string ("label=a%3Db&label=c") as decoded (name, value) pairs, in
// order. `allowed` names the parameters the endpoint knows; any other is an
// error naming it.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
Result<QueryParams> parse_query(std::string_view query, const std::vector<std::string_view>& allowed);

// %XX decoding; '+' stays '+' (paths and query values are not forms).
// Malformed escapes and NUL bytes are errors naming `what`.
Result<std::string> percent_decode(std::string_view text, std::string_view what);

// A sandbox id, id prefix or name as it may appear in a URL path: 1-128
// bytes of [A-Za-z0-9_.-], not starting with '.' or '-', so no path
// segment ("..", "a/b", "%2e%2e") ever reaches the state store.
Status check_sandbox_key(std::string_view key);

// ?label=KEY[=VALUE], repeatable.
Result<std::vector<LabelFilter>> parse_label_filters(const QueryParams& query);

// POST .../stop?timeout=SECONDS (0-3600; default 10).
Result<std::chrono::milliseconds> parse_stop_timeout(const QueryParams& query);
// POST .../kill?signal=KILL|SIGKILL|9 (default SIGKILL).
Result<int> parse_kill_signal(const QueryParams& query);

// --listen HOST:PORT ("127.0.0.1:2375", "[::1]:2375"; port 1-65535).
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
Result<ListenAddress> parse_listen_address(std::string_view text);

}  // namespace krunbox::serve
