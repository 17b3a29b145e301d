#include "sandbox/exec_request.h"

#include "proto/frame.h"
#include "sandbox/secrets.h"

namespace krunbox {
namespace {

size_t total_bytes(const std::vector<std::string>& strings) {
  size_t n = 0;
  for (const auto& s : strings) n += s.size();
  return n;
}

}  // namespace

proto::ExecRequest main_process_request(const SandboxSpec& spec, const std::vector<std::string>& secret_env) {
  proto::ExecRequest req;
  req.argv = spec.argv;
  req.env = spec.env;
  req.env.insert(req.env.end(), secret_env.begin(), secret_env.end());
  req.env_mode = proto::EnvMode::kMerge;
  req.cwd = spec.cwd;
  req.user = spec.user;
  req.stdin_open = false;
  req.timeout_ms = static_cast<uint64_t>(spec.timeout.count()) * 1000;
  return req;
}

Status check_exec_request_size(const proto::ExecRequest& request) {
  if (request.argv.size() > proto::kMaxArgs)
    return Error(ErrorCode::kLimitExceeded, "the command has " + std::to_string(request.argv.size()) +
                                                " arguments (argv), over the sandbox agent's limit of " +
                                                std::to_string(proto::kMaxArgs));
  if (request.env.size() > proto::kMaxEnv)
    return Error(ErrorCode::kLimitExceeded, "the environment has " + std::to_string(request.env.size()) +
                                                " variables (env), over the sandbox agent's limit of " +
                                                std::to_string(proto::kMaxEnv));
  std::string encoded = proto::encode_request(request);
  size_t size = encoded.size();
  wipe(encoded);  // it may hold secrets
  if (size <= proto::kMaxControlPayload) return {};
  return Error(ErrorCode::kLimitExceeded,
               "the command and its environment take " + std::to_string(size) +
                   " bytes in the request that starts it (the command's arguments, argv, " +
                   std::to_string(total_bytes(request.argv)) + " bytes; the environment, env (-e/--env, --env-file, "
                   "the image's Env and secrets), " + std::to_string(total_bytes(request.env)) +
                   " bytes), over the sandbox agent's limit of " + std::to_string(proto::kMaxControlPayload) +
                   " bytes (64 KiB) for both together; pass large data in a file (-v) or on stdin instead");
}

}  // namespace krunbox
