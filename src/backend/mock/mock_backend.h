// The mock backend: no isolation and no engine, for testing everything above
// the backend (sandbox lifecycle, monitors, CLI) on every failure path.
// Deterministic: faults are drawn from a seeded generator or fire on the Nth
// call of an operation, and every call is logged. Workloads still run for
// real — the sandbox starts krunbox-agent as a plain child process, so exec,
// streams and exit codes behave as on the real backends.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "backend/sandbox.h"

namespace krunbox {

enum class MockOp { kCreate, kStart, kStop, kKill, kWait, kPause, kResume, kSnapshot, kRestore };
std::string_view to_string(MockOp op);

struct MockFault {
  double probability = 0.0;   // drawn from the seeded generator on every call
  int fail_on_call = 0;       // 1-based call number that fails; 0 = none
  ErrorCode code = ErrorCode::kInternal;
  std::string message = "injected fault";
  std::chrono::milliseconds delay{0};  // added before the operation, fault or not
  // For kStart/kWait: the engine "crashes" instead of the call returning an error.
  bool crash = false;
};

struct MockConfig {
  uint64_t seed = 0;
  std::map<MockOp, MockFault> faults;
  // Start krunbox-agent as a child so agent() works; off for pure state-machine tests.
  bool run_agent = true;
  // What capabilities() states; default: mock_capabilities(). A test narrows
  // it to stand in for a real backend's refusals.
  std::optional<BackendCapabilities> capabilities;
};

// A fake's table: every field taken, none applied (BackendCapabilities::fake).
BackendCapabilities mock_capabilities();

class MockBackend;

class MockSandbox : public Sandbox {
 public:
  ~MockSandbox() override;
  std::string_view backend_name() const override { return "mock"; }
  Status start() override;
  Status stop(std::chrono::milliseconds grace) override;
  Status kill(int signal) override;
  Result<ExitStatus> wait() override;
  proto::AgentClient* agent() override;
  Status pause() override;
  Status resume() override;
  Status snapshot(const std::string& path) override;
  Status restore(const std::string& path) override;

  // Makes the engine die now, as a crash would: the state becomes Crashed.
  void inject_crash(const std::string& reason);

 private:
  friend class MockBackend;
  MockSandbox(SandboxSpec spec, MockBackend* backend);
  void teardown();

  MockBackend* backend_;
  std::mutex mu_;
  UniquePid agent_pid_;
  std::unique_ptr<proto::AgentClient> agent_;
  std::optional<ExitStatus> exit_status_;
};

class MockBackend : public Backend {
 public:
  explicit MockBackend(MockConfig config = {});
  ~MockBackend() override;
  std::string_view name() const override { return "mock"; }
  BackendReport probe() const override { return probe_mock(); }
  BackendCapabilities capabilities() const override;

  // "create", "start", ... in call order, each with the sandbox id prefix.
  std::vector<std::string> calls() const;
  int call_count(MockOp op) const;

 protected:
  Result<std::unique_ptr<Sandbox>> make_sandbox(const SandboxSpec& spec) override;

 private:
  friend class MockSandbox;
  // Logs the call, sleeps the delay, and returns the injected error if one fires.
  Status enter(MockOp op, const std::string& id, bool* crash = nullptr);

  MockConfig config_;
  mutable std::mutex mu_;
  std::mt19937_64 rng_;
  std::map<MockOp, int> counts_;
  std::vector<std::string> calls_;
};

std::unique_ptr<Backend> make_mock_backend(MockConfig config = {});

}  // namespace krunbox
