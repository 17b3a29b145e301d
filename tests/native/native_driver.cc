// A small program over the native backend's C++ API, for the integration
// tests (an owner process to kill mid-way) and the start-up benchmark.
//   krunbox-native-driver run ROOTFS [--memory MIB] -- CMD [ARGS...]
//       create, start, run CMD through the agent, stop; exits with CMD's code
//   krunbox-native-driver hold ROOTFS
//       start a sandbox, print "ready PID1 RUN_DIR", and wait to be killed
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "backend/native/native_backend.h"
#include "backend/native/native_sandbox.h"
#include "backend/sandbox_spec.h"
#include "proto/agent_client.h"

using namespace krunbox;

namespace {

int usage() {
  std::fprintf(stderr, "usage: krunbox-native-driver run ROOTFS [--memory MIB] -- CMD [ARGS...]\n"
                       "       krunbox-native-driver hold ROOTFS\n");
  return 2;
}

int fail(const Error& e) {
  std::fprintf(stderr, "krunbox-native-driver: %s\n", e.what().c_str());
  return 125;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  std::string mode = argv[1];
  SandboxSpecBuilder builder;
  builder.rootfs(argv[2]);
  std::vector<std::string> cmd;
  int i = 3;
  for (; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--memory" && i + 1 < argc) builder.memory_mib(static_cast<uint32_t>(std::stoul(argv[++i])));
    else return usage();
  }
  for (; i < argc; ++i) cmd.emplace_back(argv[i]);
  if (mode == "run" && cmd.empty()) return usage();
  if (mode == "run") builder.command(cmd);
  auto spec = builder.build();
  if (!spec.ok()) return fail(spec.error());

  // KRUNBOX_DRIVER_TIMING=1 prints how long each phase took, to stderr.
  bool timing = std::getenv("KRUNBOX_DRIVER_TIMING") != nullptr;
  auto t0 = std::chrono::steady_clock::now();
  auto lap = [&](const char* what) {
    if (!timing) return;
    auto now = std::chrono::steady_clock::now();
    std::fprintf(stderr, "%s: %.2f ms\n", what, std::chrono::duration<double, std::milli>(now - t0).count());
    t0 = now;
  };
  auto backend = make_native_backend();
  auto sandbox = backend->create(*spec);
  if (!sandbox.ok()) return fail(sandbox.error());
  auto& sb = **sandbox;
  if (auto st = sb.start(); !st.ok()) return fail(st.error());
  lap("start");

  if (mode == "hold") {
    auto* native = static_cast<native::NativeSandbox*>(&sb);
    std::printf("ready %d %s\n", native->pid1(), native->run_dir().c_str());
    std::fflush(stdout);
    for (;;) ::pause();
  }
  if (mode != "run") return usage();
  proto::ExecRequest req;
  req.argv = cmd;
  req.stdin_open = false;
  // KRUNBOX_DRIVER_REPEAT=N runs the command N-1 more times first (warm execs).
  if (const char* repeat = std::getenv("KRUNBOX_DRIVER_REPEAT")) {
    for (int r = 1; r < std::atoi(repeat); ++r) {
      (void)sb.agent()->run(req);
      lap("exec (extra)");
    }
  }
  auto out = sb.agent()->run(req);
  if (!out.ok()) {
    (void)sb.stop(std::chrono::seconds(1));
    return fail(out.error());
  }
  lap("exec");
  std::fwrite(out->out.data(), 1, out->out.size(), stdout);
  std::fwrite(out->err.data(), 1, out->err.size(), stderr);
  if (auto st = sb.stop(std::chrono::seconds(2)); !st.ok()) return fail(st.error());
  lap("stop");
  return out->status.shell_code();
}
