// One run compares, on this machine and at this moment:
//   exec of /bin/true through krunbox-agent over a socketpair
//     vs posix_spawn + waitpid of /bin/true;
//   stdout throughput of `head -c N /dev/zero` through the agent
//     vs the same program writing into a plain pipe.
// It prints the medians and both ratios. Usage:
//   agent_exec_bench [--execs N] [--mib M] [--rounds R]
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "base/subprocess.h"
#include "base/unique_fd.h"
#include "proto/agent_client.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
using krunbox::proto::AgentClient;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "agent_exec_bench: %s\n", what.c_str());
  std::exit(1);
}

double spawn_true() {
  auto t = Clock::now();
  pid_t pid;
  char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
  if (::posix_spawn(&pid, "/bin/true", nullptr, nullptr, argv, environ) != 0) die("posix_spawn");
  int st;
  ::waitpid(pid, &st, 0);
  return seconds_since(t);
}

double agent_true(AgentClient& client) {
  krunbox::proto::ExecRequest req;
  req.argv = {"/bin/true"};
  req.stdin_open = false;
  auto t = Clock::now();
  auto r = client.run(req);
  double s = seconds_since(t);
  if (!r.ok() || !r->status.success()) die("exec through the agent failed");
  return s;
}

double pipe_throughput(uint64_t bytes) {
  auto p = krunbox::make_pipe();
  if (!p.ok()) die("pipe");
  posix_spawn_file_actions_t fa;
  ::posix_spawn_file_actions_init(&fa);
  ::posix_spawn_file_actions_adddup2(&fa, p->write.get(), 1);
  std::string count = std::to_string(bytes);
  char* argv[] = {const_cast<char*>("head"), const_cast<char*>("-c"), count.data(), const_cast<char*>("/dev/zero"),
                  nullptr};
  auto t = Clock::now();
  pid_t pid;
  if (::posix_spawnp(&pid, "head", &fa, nullptr, argv, environ) != 0) die("posix_spawn head");
  ::posix_spawn_file_actions_destroy(&fa);
  p->write.reset();
  std::vector<char> buf(64 << 10);
  uint64_t total = 0;
  for (ssize_t n; (n = ::read(p->read.get(), buf.data(), buf.size())) > 0;) total += static_cast<uint64_t>(n);
  int st;
  ::waitpid(pid, &st, 0);
  double s = seconds_since(t);
  if (total != bytes) die("short read from the pipe");
  return static_cast<double>(bytes) / s;
}

double agent_throughput(AgentClient& client, uint64_t bytes) {
  krunbox::proto::ExecRequest req;
  req.argv = {"head", "-c", std::to_string(bytes), "/dev/zero"};
  req.stdin_open = false;
  auto t = Clock::now();
  auto s = client.exec(req);
  if (!s.ok()) die("exec head: " + s.error().what());
  std::vector<char> buf(64 << 10);
  uint64_t total = 0;
  for (;;) {
    auto n = (*s)->read_stdout(buf.data(), buf.size());
    if (!n.ok()) die(n.error().what());
    if (*n == 0) break;
    total += *n;
  }
  if (!(*s)->wait().ok()) die("wait");
  double secs = seconds_since(t);
  if (total != bytes) die("short read through the agent");
  return static_cast<double>(bytes) / secs;
}

}  // namespace

int main(int argc, char** argv) {
  int execs = 300, rounds = 5;
  uint64_t mib = 512;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--execs") execs = std::atoi(argv[i + 1]);
    else if (a == "--mib") mib = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--rounds") rounds = std::atoi(argv[i + 1]);
    else die("unknown argument " + a);
  }
  auto sp = krunbox::make_socketpair();
  if (!sp.ok()) die("socketpair");
  krunbox::SpawnOptions so;
  so.keep_fds = {{sp->second.get(), 3}};
  auto agent = krunbox::Subprocess::spawn({KRUNBOX_AGENT_BIN, "--fd", "3", "--log-level", "warn"}, so);
  if (!agent.ok()) die(agent.error().what());
  sp->second.reset();
  auto client = AgentClient::connect(std::move(sp->first));
  if (!client.ok()) die(client.error().what());

  // Warm both paths (page cache, first fork of the agent).
  for (int i = 0; i < 20; ++i) {
    spawn_true();
    agent_true(**client);
  }
  std::vector<double> direct, through;
  for (int i = 0; i < execs; ++i) {
    // Interleaved, so drift in machine load hits both alike.
    direct.push_back(spawn_true());
    through.push_back(agent_true(**client));
  }
  uint64_t bytes = mib << 20;
  std::vector<double> pipe_bps, agent_bps;
  for (int i = 0; i < rounds; ++i) {
    pipe_bps.push_back(pipe_throughput(bytes));
    agent_bps.push_back(agent_throughput(**client, bytes));
  }
  double d = median(direct), a = median(through);
  double pb = median(pipe_bps), ab = median(agent_bps);
  std::printf("exec /bin/true (median of %d)\n", execs);
  std::printf("  posix_spawn+waitpid   %8.3f ms\n", d * 1e3);
  std::printf("  through krunbox-agent %8.3f ms\n", a * 1e3);
  std::printf("  agent overhead        %8.3f ms per exec (goal <= 0.5)\n", (a - d) * 1e3);
  std::printf("  ratio agent/direct    %8.2f\n", a / d);
  std::printf("stdout throughput, %llu MiB (median of %d)\n", static_cast<unsigned long long>(mib), rounds);
  std::printf("  plain pipe            %8.0f MB/s\n", pb / 1e6);
  std::printf("  through krunbox-agent %8.0f MB/s (goal >= 1000)\n", ab / 1e6);
  std::printf("  ratio agent/pipe      %8.2f\n", ab / pb);
  (*client)->close();
  return 0;
}
