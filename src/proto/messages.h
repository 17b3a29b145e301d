// The JSON control messages of the agent protocol and their strict parsers
// (docs/agent-protocol.md). Every parser takes hostile input: it bounds sizes,
// checks types and ranges, and returns kProtocol naming the bad field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "base/json.h"
#include "base/unique_pid.h"
#include "krunbox/error.h"

namespace krunbox::proto {

// Limits on request contents, so a request cannot make the agent allocate much.
inline constexpr size_t kMaxArgs = 4096;
inline constexpr size_t kMaxEnv = 4096;
inline constexpr size_t kMaxGroups = 64;
inline constexpr size_t kMaxPath = 4096;
// Bounds of a list: how deep it may recurse, and how many entries and bytes
// its reply may hold (beyond either, the agent truncates the listing).
inline constexpr uint32_t kMaxListDepth = 10;
inline constexpr size_t kMaxListEntries = 10000;
inline constexpr size_t kMaxListBytes = 8u << 20;

struct ClientHello {
  uint32_t protocol = 1;
  uint32_t min_protocol = 1;
  std::string client;
};

struct AgentHello {
  uint32_t protocol = 1;
  std::string agent_version;
  std::vector<std::string> capabilities;
  uint32_t max_payload = 0;
  uint32_t initial_window = 0;
  bool pid1 = false;

  bool has(std::string_view capability) const;
};

enum class EnvMode { kMerge, kReplace };

struct ExecRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;
  EnvMode env_mode = EnvMode::kMerge;
  std::string cwd;
  std::string user;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<std::vector<uint32_t>> groups;
  bool tty = false;
  uint16_t rows = 24;
  uint16_t cols = 80;
  bool stdin_open = true;
  uint64_t timeout_ms = 0;
  // The session outlives the loss of the host's connection: its process runs
  // on, its output waits in its pipes, and a later connection takes it over
  // with an AdoptRequest. Without it a lost connection ends the process (no
  // one would read its output). A VM restored from a checkpoint is such a
  // loss: its agent meets a new host.
  bool keep = false;
};

// Takes over a kept session of an earlier connection (ExecRequest::keep) on
// the request's channel: its output, stdin, signals and EXIT go there from
// then on. Answered like an exec (ExecStarted); an EXIT that came while no
// host was there arrives at once.
struct AdoptRequest {
  uint32_t session = 0;  // the session's channel on the connection that started it
};

// What a guest restored from a checkpoint needs before it goes on: fresh
// entropy for the kernel's pool (so clones of one checkpoint never share
// random state), the host's time, and the clone's own hostname.
struct ReseedRequest {
  std::string entropy;       // raw bytes, 32 to kMaxReseedEntropy
  int64_t realtime_ns = 0;   // CLOCK_REALTIME to set; 0 leaves the clock
  std::string hostname;      // empty leaves it
};
inline constexpr size_t kMinReseedEntropy = 32;
inline constexpr size_t kMaxReseedEntropy = 512;

struct SignalRequest {
  uint32_t session = 0;
  int signal = 0;
  bool group = false;
};

struct ResizeRequest {
  uint32_t session = 0;
  uint16_t rows = 0;
  uint16_t cols = 0;
};

struct PutRequest {
  std::string path;
  uint32_t mode = 0644;
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool make_parents = false;
};

struct GetRequest {
  std::string path;
};

struct StatRequest {
  std::string path;
};

struct ListRequest {
  std::string path;
  uint32_t depth = 1;  // 1: the directory's own entries; n: n levels down
};

struct MkdirRequest {
  std::string path;
  uint32_t mode = 0755;
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool parents = false;
};

struct MoveRequest {
  std::string from;
  std::string to;
};

struct RemoveRequest {
  std::string path;
  bool recursive = false;
};

struct PingRequest {};
struct InfoRequest {};

enum class ShutdownAction { kDefault, kPowerOff, kReboot, kExit };

struct ShutdownRequest {
  uint64_t grace_ms = 5000;
  ShutdownAction action = ShutdownAction::kDefault;
};

using Request = std::variant<ExecRequest, SignalRequest, ResizeRequest, PutRequest, GetRequest, StatRequest,
                             PingRequest, InfoRequest, ShutdownRequest, ListRequest, MkdirRequest, MoveRequest,
                             RemoveRequest, AdoptRequest, ReseedRequest>;

// The "op" name of a request ("exec", "put", ...).
std::string_view request_op(const Request& request);

// Replies. Each is the body of an {"ok": true} RESPONSE.
struct ExecStarted {
  int64_t pid = 0;
};
struct PutDone {
  uint64_t size = 0;
};
struct GetStarted {
  uint64_t size = 0;
  uint32_t mode = 0;
};
struct FileStat {
  std::string type;  // file, dir, symlink, other
  uint32_t mode = 0;
  uint64_t size = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  int64_t mtime_ns = 0;
  std::string target;
};
// The RESPONSE to a list, sent before the listing itself streams as DATA.
struct ListStarted {
  uint64_t entries = 0;  // lines that follow
  uint64_t size = 0;     // bytes that follow
  bool truncated = false;
};
// One line of a listing: `name` is the path relative to the listed directory.
struct DirEntry {
  std::string name;
  FileStat stat;
};
struct PingReply {
  uint64_t uptime_ms = 0;
};
struct InfoReply {
  std::string kernel;
  std::string hostname;
  uint32_t cpus = 0;
  uint64_t mem_total = 0;
  uint64_t mem_available = 0;
  std::string agent_version;
  bool pid1 = false;
};

struct ExitMessage {
  ExitStatus status;
  bool timed_out = false;
};

// Serialisation.
std::string encode(const ClientHello& m);
std::string encode(const AgentHello& m);
std::string encode_request(const Request& m);
std::string encode_ok(const Json& body = Json::object());
std::string encode_error_response(const Error& error);
std::string encode(const ExitMessage& m);
std::string encode_cancel(std::string_view reason);
// ERROR frame body.
std::string encode_error(const Error& error);
std::string encode_window(uint32_t increment);

Json to_json(const ExecStarted& m);
Json to_json(const PutDone& m);
Json to_json(const GetStarted& m);
Json to_json(const FileStat& m);
Json to_json(const ListStarted& m);
// One line of the list stream: the entry's JSON object and a newline.
std::string encode_dir_entry(const DirEntry& m);
Json to_json(const PingReply& m);
Json to_json(const InfoReply& m);

// Parsing. Each takes a frame payload (or the body of an ok response).
Result<ClientHello> parse_client_hello(std::string_view payload);
Result<AgentHello> parse_agent_hello(std::string_view payload);
Result<Request> parse_request(std::string_view payload);
// A RESPONSE: the body when ok, else the Error it carries.
Result<Result<Json>> parse_response(std::string_view payload);
Result<ExitMessage> parse_exit(std::string_view payload);
Result<std::string> parse_cancel(std::string_view payload);
// An ERROR frame's body (a struct because Result<Error> would be ambiguous).
struct ErrorMessage {
  Error error;
};
Result<ErrorMessage> parse_error(std::string_view payload);
Result<uint32_t> parse_window(std::string_view payload);

Result<ExecStarted> parse_exec_started(const Json& body);
Result<PutDone> parse_put_done(const Json& body);
Result<GetStarted> parse_get_started(const Json& body);
Result<FileStat> parse_file_stat(const Json& body);
Result<ListStarted> parse_list_started(const Json& body);
// One line of the list stream, without its newline. The name must be a clean
// relative path (no empty, "." or ".." component), so a host can join it to
// the listed directory without checking it again.
Result<DirEntry> parse_dir_entry(std::string_view line);
Result<PingReply> parse_ping_reply(const Json& body);
Result<InfoReply> parse_info_reply(const Json& body);

// Wire names of ErrorCode ("not_found"), both ways.
std::string_view error_code_name(ErrorCode code);
std::optional<ErrorCode> error_code_from_name(std::string_view name);

}  // namespace krunbox::proto
