// The host side of the agent protocol: one connection to a krunbox-agent over
// any connected stream fd (socketpair, unix socket, vsock, the unix socket of
// a virtio-serial port). Thread-safe: any thread may start operations and use
// sessions. A reader thread decodes the agent's frames (as hostile input) and
// a writer thread sends ours, so no call blocks another session's progress.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"
#include "base/unique_pid.h"
#include "krunbox/error.h"
#include "proto/messages.h"

namespace krunbox::proto {

struct ClientOptions {
  std::string client_name = "krunbox";
  // How long connect() waits for the agent's HELLO.
  std::chrono::milliseconds hello_timeout{std::chrono::seconds(30)};
};

// Called on the client's reader thread with each chunk of output, in order.
// While a callback runs no other frame of the connection is handled, so it
// should hand the bytes off quickly. The bytes are acknowledged when it returns.
using OutputCallback = std::function<void(std::string_view)>;

struct ExecCallbacks {
  OutputCallback on_stdout;
  OutputCallback on_stderr;
};

struct ExecOutput {
  ExitStatus status;
  bool timed_out = false;
  std::string out;
  std::string err;
  bool truncated = false;
};

namespace detail {
class Core;
struct Channel;
}  // namespace detail

// One running exec. Destroying it before the EXIT arrived cancels it (the
// agent kills the workload's process group).
class ExecSession {
 public:
  ~ExecSession();
  ExecSession(const ExecSession&) = delete;
  ExecSession& operator=(const ExecSession&) = delete;

  uint32_t id() const;
  int64_t pid() const { return pid_; }

  // Blocks while the agent's stdin window is exhausted.
  Status write_stdin(std::string_view data);
  Status close_stdin();

  // Blocking reads of an output stream (not for streams that have a
  // callback). Returns 0 at EOF.
  Result<size_t> read_stdout(char* buf, size_t size);
  Result<size_t> read_stderr(char* buf, size_t size);

  Status resize(uint16_t rows, uint16_t cols);
  Status signal(int sig, bool group = false);
  // Asks the agent to kill the workload; its EXIT still arrives.
  Status cancel();

  // Waits for the exit status. Output not read by then is discarded, so an
  // unread stream can never keep wait() from returning.
  Result<ExitMessage> wait();
  // nullopt when it did not end within `timeout`.
  Result<std::optional<ExitMessage>> wait_for(std::chrono::milliseconds timeout);

 private:
  friend class AgentClient;
  ExecSession(std::shared_ptr<detail::Core> core, std::shared_ptr<detail::Channel> ch, int64_t pid)
      : core_(std::move(core)), ch_(std::move(ch)), pid_(pid) {}
  Result<size_t> read_stream(uint8_t stream, char* buf, size_t size);

  std::shared_ptr<detail::Core> core_;
  std::shared_ptr<detail::Channel> ch_;
  int64_t pid_;
};

struct PutOptions {
  uint32_t mode = 0644;
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool make_parents = false;
};

struct MkdirOptions {
  uint32_t mode = 0755;
  // Owner of each directory the call creates (as for put); existing ones are left alone.
  uint32_t uid = 0;
  uint32_t gid = 0;
  bool parents = false;  // mkdir -p: create missing parents; an existing directory is fine
};

struct DirListing {
  std::vector<DirEntry> entries;  // pre-order, each directory's entries sorted by name
  bool truncated = false;         // the agent stopped at kMaxListEntries or kMaxListBytes
};

class AgentClient {
 public:
  // Sends HELLO, waits for the agent's, and starts serving the connection.
  static Result<std::unique_ptr<AgentClient>> connect(UniqueFd fd, const ClientOptions& options = {});
  ~AgentClient();
  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;

  const AgentHello& hello() const { return hello_; }
  // False once the connection failed or was closed; error() says why.
  bool connected() const;
  Error error() const;

  Result<std::unique_ptr<ExecSession>> exec(const ExecRequest& request, ExecCallbacks callbacks = {});
  // Takes over a session an earlier connection started with `keep` (its
  // ExecSession::id() there); capability "adopt".
  Result<std::unique_ptr<ExecSession>> adopt(uint32_t session, ExecCallbacks callbacks = {});
  // Fresh entropy, clock and hostname for a restored guest; capability "reseed".
  Status reseed(const ReseedRequest& request);
  // Runs to completion with `stdin_data`, keeping at most `max_output` bytes of each stream.
  Result<ExecOutput> run(const ExecRequest& request, std::string_view stdin_data = {},
                         size_t max_output = 64u << 20);

  Status signal(uint32_t session, int sig, bool group = false);
  Status resize(uint32_t session, uint16_t rows, uint16_t cols);

  Status put_file(const std::string& guest_path, std::string_view data, const PutOptions& options = {});
  // Streams from `fd` until its EOF.
  Status put_file_from_fd(const std::string& guest_path, int fd, const PutOptions& options = {});
  Result<std::string> get_file(const std::string& guest_path, size_t max_bytes = 256u << 20);
  // Streams into `fd`; returns the byte count.
  Result<uint64_t> get_file_to_fd(const std::string& guest_path, int fd);
  Result<FileStat> stat(const std::string& guest_path);
  // The streaming forms the others are made of, for relays: `source` fills
  // the buffer and returns the byte count (0 at the end; an error cancels
  // the put, and the agent keeps the old file); `sink` takes each chunk of
  // the file (an error cancels the get). The get returns the byte count.
  // Their errors carry no context: the relay adds its own.
  using FileSource = std::function<Result<size_t>(char* buf, size_t size)>;
  using FileSink = std::function<Status(std::string_view data)>;
  Status put_file_stream(const std::string& guest_path, const FileSource& source, const PutOptions& options = {});
  Result<uint64_t> get_file_stream(const std::string& guest_path, const FileSink& sink);

  // File-system operations (agent_client_files.cc; capabilities "list",
  // "mkdir", "move", "remove"). Bad arguments — a relative path, a depth out
  // of 1..kMaxListDepth — fail here with kInvalidArgument: sent, they would
  // be a protocol error that ends the whole connection.
  // The entries under a directory, `depth` levels down, never following symlinks.
  Result<DirListing> list_dir(const std::string& guest_path, uint32_t depth = 1);
  Status make_dir(const std::string& guest_path, const MkdirOptions& options = {});
  // rename(2): replaces an existing file or empty directory at `to`. Across
  // file systems it fails with kUnsupported (no copying fallback).
  Status move(const std::string& from, const std::string& to);
  // A file, symlink or empty directory; with `recursive` a whole tree, never
  // through symlinks or into other mounts. "/" is refused.
  Status remove(const std::string& guest_path, bool recursive = false);

  Result<PingReply> ping();
  Result<InfoReply> info();
  // The agent answers, then ends every process and itself (see the protocol doc).
  Status shutdown(std::chrono::milliseconds grace, ShutdownAction action = ShutdownAction::kDefault);

  // Closes the connection; pending calls fail with kCancelled.
  void close();

 private:
  AgentClient(std::shared_ptr<detail::Core> core, AgentHello hello) : core_(std::move(core)), hello_(std::move(hello)) {}
  Result<Json> simple_request(const Request& request);
  // Sends an exec or adopt and waits for its ExecStarted.
  Result<std::unique_ptr<ExecSession>> start_session(const Request& request, ExecCallbacks callbacks);
  // A request whose RESPONSE (checked by `started`) is followed by data on
  // stream 1 until EOF, each chunk handed to `sink`; returns the byte count.
  Result<uint64_t> download(const Request& request, const std::function<Status(const Json&)>& started,
                            const FileSink& sink);

  std::shared_ptr<detail::Core> core_;
  AgentHello hello_;
};

}  // namespace krunbox::proto
