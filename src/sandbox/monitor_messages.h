// The typed messages of the CLI↔monitor protocol (the frames are in
// monitor_protocol.h): one struct per request and reply, their JSON in one
// place, and strict parsers. The monitor parses what any local process of
// the same user may send it, so every parser takes hostile input: a missing
// or wrong-typed field is a kProtocol error naming the field, sizes are
// bounded (argv and env as the agent bounds them, paths to proto::kMaxPath).
//
// Every connection carries one request and gets exactly one kReply: for
// exec before its streams, for put after the client's data (kData frames
// ended by kDataEnd), for get after the monitor's kData frames.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/json.h"
#include "krunbox/error.h"
#include "proto/messages.h"
#include "sandbox/state_store.h"
#include "sandbox/workload.h"

namespace krunbox::monitor {

// A command beside the main process. The workload's env is exec's own
// (the monitor adds the sandbox's env and secrets); a timeout (at most a
// week) has the agent kill it then.
// With `keep`, the command outlives the connection (a background exec):
// the monitor answers with its exec id and closes, keeps its output
// (monitor_execs.h) and its end; clients come back with the requests below.
struct ExecRequest {
  Workload workload;
  bool keep = false;
};
struct StartRequest {};
// Stops the engine (the workload gets `grace` between SIGTERM and SIGKILL);
// the monitor then exits.
struct StopRequest {
  std::chrono::milliseconds grace{10000};
};
// As stop, for rm: the record goes next.
struct RemoveRequest {
  std::chrono::milliseconds grace{10000};
};
// Signals the main process's group; no restart follows.
struct KillRequest {
  int signal = 9;
};
struct PauseRequest {};
struct ResumeRequest {};
struct StatusRequest {};
// Writes a file in the sandbox from the kData frames that follow; the
// agent writes a temporary file and renames it, so a failed or cut
// transfer leaves the old file (or none).
struct PutRequest {
  std::string path;
  uint32_t mode = 0644;
  bool make_parents = false;
};
// Reads a file of the sandbox as kData frames.
struct GetRequest {
  std::string path;
};
struct StatRequest {
  std::string path;
};

// A kept exec's output from byte `offset` (what was dropped is skipped) as
// kStdout/kStderr frames, then kExit once it has ended; without `follow`,
// kOutputEnd instead while it still runs. The client's kStdin, kStdinClose,
// kSignal and kResize frames on the connection go to the command; the
// connection's end leaves it running.
struct AttachRequest {
  std::string exec_id;
  bool follow = true;
  uint64_t offset = 0;
};
// The kept execs, running and ended.
struct ExecsRequest {};
// The kData frames that follow, ended by kDataEnd, go to a kept exec's
// stdin, which is then closed if `close`; the reply comes once they went.
struct ExecStdinRequest {
  std::string exec_id;
  bool close = false;
};
struct ExecSignalRequest {
  std::string exec_id;
  int signal = 15;
};
struct ExecResizeRequest {
  std::string exec_id;
  uint16_t rows = 24;
  uint16_t cols = 80;
};

// The entries under a directory (proto's list): the monitor sends them as
// kData frames of JSON lines (proto::encode_dir_entry's), then a ListDone
// reply.
struct ListDirRequest {
  std::string path;
  uint32_t depth = 1;
};
struct MakeDirRequest {
  std::string path;
  uint32_t mode = 0755;
  bool parents = false;
};
struct MovePathRequest {
  std::string from;
  std::string to;
};
struct RemovePathRequest {
  std::string path;
  bool recursive = false;
};

// Sets the running sandbox's time to live to `ttl` from now (0: none).
struct TimeoutRequest {
  std::chrono::seconds ttl{0};
};

// Saves the running or paused sandbox's engine state into `dir` (an empty
// directory of the checkpoint store) and leaves it as it was.
struct CheckpointRequest {
  std::string dir;
};

using Request = std::variant<ExecRequest, StartRequest, StopRequest, RemoveRequest, KillRequest, PauseRequest,
                             ResumeRequest, StatusRequest, PutRequest, GetRequest, StatRequest, AttachRequest,
                             ExecsRequest, ExecStdinRequest, ExecSignalRequest, ExecResizeRequest, TimeoutRequest,
                             ListDirRequest, MakeDirRequest, MovePathRequest, RemovePathRequest, CheckpointRequest>;

// A kept exec's id: 16 lowercase hex digits.
bool is_exec_id(std::string_view id);

// The "op" of a request ("exec", "put", ...).
std::string_view request_op(const Request& request);
std::string encode_request(const Request& request);
Result<Request> parse_request(std::string_view payload);

// Replies: {"ok":true, fields...} or {"ok":false,"error":MESSAGE,"code":NAME}.
// What a checkpoint needs to know of the guest besides its state: the
// session of the main process, for the restored sandbox to take over.
struct CheckpointDone {
  uint32_t main_session = 0;
};
Result<CheckpointDone> parse_checkpoint_done(const Json& body);

struct ExecStarted {
  int64_t pid = 0;
  std::string exec_id;  // a kept exec's; empty otherwise
};
// Where an attach's output starts: bytes before `first_kept` were dropped.
struct AttachStarted {
  uint64_t first_kept = 0;
  uint64_t from = 0;
};
struct KeptExecInfo {
  std::string exec_id;
  int64_t pid = 0;
  std::vector<std::string> argv;
  bool tty = false;
  int64_t started_unix_ms = 0;
  uint64_t output_bytes = 0;  // written so far, kept or dropped
  std::optional<proto::ExitMessage> exit;
  std::string crash_reason;  // ended without an exit: the sandbox went away
  bool running() const { return !exit && crash_reason.empty(); }
};
struct ListDone {
  uint64_t entries = 0;
  bool truncated = false;
};
struct ExecsReply {
  std::vector<KeptExecInfo> execs;
};
struct StatusReply {
  SandboxStatus status;
};
struct PutDone {
  uint64_t size = 0;
};
struct GetDone {
  uint64_t size = 0;
};

// An ok reply without fields, or the error of a failed request.
std::string encode_reply(const Status& status);
std::string encode_reply(const ExecStarted& reply);
std::string encode_reply(const CheckpointDone& reply);
std::string encode_reply(const StatusReply& reply);
std::string encode_reply(const PutDone& reply);
std::string encode_reply(const GetDone& reply);
std::string encode_reply(const proto::FileStat& reply);
std::string encode_reply(const AttachStarted& reply);
std::string encode_reply(const ExecsReply& reply);
std::string encode_reply(const ListDone& reply);

// The body of an ok reply; for an error reply the Error it carries (with
// its code; kIllegalState when the monitor gave none), for a malformed one
// kProtocol.
Result<Json> parse_reply(std::string_view payload);
Result<ExecStarted> parse_exec_started(const Json& body);
Result<StatusReply> parse_status_reply(const Json& body);
Result<PutDone> parse_put_done(const Json& body);
Result<GetDone> parse_get_done(const Json& body);
Result<proto::FileStat> parse_stat_reply(const Json& body);
Result<AttachStarted> parse_attach_started(const Json& body);
Result<ExecsReply> parse_execs_reply(const Json& body);
Result<ListDone> parse_list_done(const Json& body);

// The control frames of an exec's streams.
struct SignalFrame {
  int signal = 0;
};
struct ResizeFrame {
  uint16_t rows = 24;
  uint16_t cols = 80;
};
std::string encode_frame_body(const SignalFrame& frame);
std::string encode_frame_body(const ResizeFrame& frame);
// kExit: the agent's exit message, as it came.
std::string encode_frame_body(const proto::ExitMessage& exit);
Result<SignalFrame> parse_signal_frame(std::string_view payload);
Result<ResizeFrame> parse_resize_frame(std::string_view payload);
Result<proto::ExitMessage> parse_exit_frame(std::string_view payload);

}  // namespace krunbox::monitor
