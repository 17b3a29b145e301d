// envd's process.Process service over the sandbox monitor's kept
// background commands (sandbox/kept_exec.h): every command started is kept,
// so Connect, SendInput, SendSignal, CloseStdin, Update and List reach it by
// pid (or tag) from any request, and a client that goes leaves it running.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "base/json.h"
#include "e2b/connect.h"
#include "sandbox/lifecycle.h"
#include "serve/http.h"

namespace krunbox::e2b {

// The EndEvent of a process (ProcessEvent.end), as Go's envd reports it:
// exitCode -1 and exited false for a signal, status "exit status N" or
// "signal: killed".
Json end_event(const WorkloadOutcome& outcome);

// argv for a ProcessConfig: cmd then args; the SDK's "/bin/bash -l -c"
// runs under /bin/sh when the sandbox has no bash.
std::vector<std::string> argv_of(const Json& config, bool have_bash);

class ProcessService {
 public:
  // `id`: the running sandbox's krunbox id; `user`: from the request's
  // Authorization (empty: the sandbox's own).
  serve::HttpResponse call(const std::string& method, const Json& message, const std::string& id,
                           const std::string& user, const serve::HttpRequest& request);
  // StreamInput, a client stream read from the request's streamed body:
  // start{process} first, then data{input} (written to the process's stdin
  // as each arrives) and keepalive messages until the body ends.
  serve::HttpResponse stream_input(const std::string& id, const serve::HttpRequest& request);

 private:
  struct Meta {
    std::string tag;
    Json config;
  };
  serve::HttpResponse start(const Json& message, const std::string& id, const std::string& user,
                            const serve::HttpRequest& request);
  serve::HttpResponse connect(const Json& message, const std::string& id, const serve::HttpRequest& request);
  Result<Json> list(const std::string& id);
  // The kept command `process` ({pid} or {tag}) names; kNotFound for none running.
  Result<std::string> exec_of(Lifecycle& lc, const std::string& id, const Json& selector);
  void remember(const std::string& id, const std::string& exec_id, Meta meta);

  std::mutex mu_;
  std::map<std::string, Meta> meta_;  // "<sandbox id>/<exec id>"
};

}  // namespace krunbox::e2b
