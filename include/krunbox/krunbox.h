// krunbox's public C++ API: sandboxes from OCI images or root directories,
// on the strongest isolating backend this host has (a microVM where one
// boots) or on a chosen one; commands in them with collected or streamed
// output; files in and out; stop, remove, list. See docs/library.md.
//
// Link it with CMake:
//   find_package(krunbox REQUIRED)
//   target_link_libraries(app PRIVATE krunbox::krunbox)
//
// Every call returns Result<T> or Status (krunbox/error.h); nothing throws.
// Sandboxes outlive the Runtime and the process that made them: each is
// supervised by its own monitor process, and every krunbox front end (the
// CLI, other programs using this API) sees and can manage the same sandboxes.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "krunbox/error.h"

namespace krunbox::api {

struct RuntimeOptions {
  // Images and sandbox records; empty: $KRUNBOX_ROOT, else krunbox's default.
  std::string data_root;
  // Sockets and run-time state; empty: $KRUNBOX_RUN_DIR, else the default.
  std::string run_dir;
  // Where krunbox is installed (<prefix>/bin/krunbox, <prefix>/libexec/krunbox).
  // The CMake package compiles its own location in; set it only to use
  // another installation.
#ifdef KRUNBOX_INSTALL_PREFIX
  std::string install_prefix = KRUNBOX_INSTALL_PREFIX;
#else
  std::string install_prefix;
#endif
};

struct Port {
  std::string host_ip = "127.0.0.1";
  uint16_t host_port = 0;  // 0: any free port (see SandboxInfo::ports)
  uint16_t guest_port = 0;
  bool udp = false;
};

struct Volume {
  std::string host_path;   // absolute
  std::string guest_path;  // absolute
  bool read_only = false;
};

struct SandboxOptions {
  // The root: an image (from the store, pulled if missing) or a host
  // directory (never modified). Neither: the bundled busybox image.
  std::string image;
  std::string rootfs;
  std::string pull = "missing";  // missing, always or never

  // The main process, with Docker's rules: `entrypoint` replaces the image's
  // ("" clears it), a non-empty `command` replaces its Cmd. The bundled
  // image's default is a shell that ends at once without input: a sandbox
  // kept for exec runs something like {"sleep", "86400"}.
  std::optional<std::string> entrypoint;
  std::vector<std::string> command;
  std::vector<std::string> env;  // KEY=VALUE over the image's; a bare KEY removes it
  std::string workdir;           // absolute; empty: the image's
  std::string user;              // user[:group]; empty: the image's
  // NAME -> value, in the main process's environment only: never written
  // to disk (the monitor holds them in memory).
  std::map<std::string, std::string> secrets;

  std::string name;  // optional, unique among sandboxes
  std::string hostname;
  std::map<std::string, std::string> labels;

  // "auto": the strongest backend that works here (qemu or krun microVMs
  // before native namespaces); or "qemu", "krun", "native".
  std::string backend = "auto";
  bool require_vm = false;  // fail rather than run without a hardware VM
  uint32_t cpus = 1;
  uint32_t memory_mib = 512;
  std::optional<uint32_t> pids_limit;
  std::vector<Port> ports;
  std::vector<Volume> volumes;
  // "none" (loopback only), "user" (VMs: outbound), "user,host-loopback",
  // "host" (native only).
  std::string network = "none";
  std::string restart = "no";  // no, on-failure[:N], always
};

struct SandboxInfo {
  std::string id;
  std::string name;
  std::string image;
  std::string backend;
  // created, starting, running, paused, stopped or crashed.
  std::string state;
  std::string status;  // as `krunbox ps` words it: "exited (0) 3 seconds ago"
  std::string reason;  // why it stopped or crashed
  std::optional<int> exit_code;
  std::map<std::string, std::string> labels;
  std::vector<Port> ports;  // as bound
  int64_t created_at = 0;   // unix seconds
  std::string checkpoint;   // the checkpoint it restores at each start; empty: it boots
  bool paused_to_disk = false;
};

struct ExecOptions {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // KEY=VALUE over the sandbox's
  std::string cwd;               // empty: the sandbox's
  std::string user;              // empty: the sandbox's
  // Given to the command's stdin, which is then closed; nullopt: no stdin.
  std::optional<std::string> stdin_data;
  std::chrono::seconds timeout{0};  // 0: none; then the command is killed
};

// How a command ended.
struct ExecOutcome {
  int exit_code = 0;  // the shell's view: 128+N when signal N killed it
  int signal = 0;     // the signal that killed it, or 0
  bool timed_out = false;
};

struct ExecOutput : ExecOutcome {
  std::string stdout_data;
  std::string stderr_data;
  // Output past the cap (ExecCollectLimits) was dropped.
  bool stdout_truncated = false;
  bool stderr_truncated = false;
};

struct ExecCollectLimits {
  size_t max_stdout = 16u << 20;
  size_t max_stderr = 16u << 20;
};

// Called from the calling thread as output arrives, before exec returns.
struct ExecStreams {
  std::function<void(std::string_view)> on_stdout;
  std::function<void(std::string_view)> on_stderr;
};

struct FileInfo {
  std::string path;
  uint32_t mode = 0;  // type and permission bits, as st_mode
  uint64_t size = 0;
  int64_t mtime = 0;  // unix seconds
  bool is_dir() const { return (mode & 0170000) == 0040000; }
};

class Runtime {
 public:
  // Configures this process's use of krunbox (data root, run dir, install
  // prefix): one configuration per process, since the monitors it starts
  // inherit it.
  static Result<Runtime> open(const RuntimeOptions& options = {});
  Runtime(Runtime&&) noexcept;
  Runtime& operator=(Runtime&&) noexcept;
  ~Runtime();

  // Provisions and records a sandbox and starts its monitor; its id. It
  // runs once started.
  Result<std::string> create(const SandboxOptions& options);
  Status start(const std::string& sandbox);
  // create + start.
  Result<std::string> run(const SandboxOptions& options);

  // `sandbox` is an id, an id prefix or a name everywhere below.
  Result<ExecOutput> exec(const std::string& sandbox, const ExecOptions& options,
                          const ExecCollectLimits& limits = {});
  Result<ExecOutcome> exec(const std::string& sandbox, const ExecOptions& options, const ExecStreams& streams);

  // Writes atomically (a reader sees the old file or the new one), making
  // missing parent directories.
  Status write_file(const std::string& sandbox, const std::string& path, std::string_view data, uint32_t mode = 0644);
  // Fails when the file is bigger than max_bytes.
  Result<std::string> read_file(const std::string& sandbox, const std::string& path, size_t max_bytes = 64u << 20);
  Result<FileInfo> stat(const std::string& sandbox, const std::string& path);

  Status stop(const std::string& sandbox, std::chrono::milliseconds grace = std::chrono::seconds(10));
  Status kill(const std::string& sandbox, int signal);
  Status pause(const std::string& sandbox);
  Status resume(const std::string& sandbox);
  // Removes every trace; a running sandbox only with force (stops it first).
  Status remove(const std::string& sandbox, bool force = false);

  // Checkpoints (qemu sandboxes; docs/checkpoints.md). Saves the running
  // sandbox as checkpoint `name`; it stops afterwards unless leave_running.
  Status checkpoint(const std::string& sandbox, const std::string& name, bool leave_running = false);
  // A new sandbox that goes on from checkpoint `name`, started (several are
  // forks); its id.
  Result<std::string> restore(const std::string& checkpoint, const std::string& new_name = "");
  Status remove_checkpoint(const std::string& name);
  // Saves the sandbox and stops it, so it holds no memory; resume() restores it.
  Status pause_to_disk(const std::string& sandbox);

  Result<SandboxInfo> inspect(const std::string& sandbox);
  // Every sandbox, or those with all of `labels` (KEY=VALUE, or KEY: set).
  Result<std::vector<SandboxInfo>> list(const std::vector<std::string>& labels = {});

 private:
  struct Impl;
  explicit Runtime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace krunbox::api
