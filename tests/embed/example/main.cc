// Runs commands in a sandbox from the bundled image through the public API:
//   embed_example [BACKEND]      (default: auto, the strongest that works)
// Exits 0 when every step did what it should, else prints what went wrong.
#include <krunbox/krunbox.h>

#include <csignal>
#include <cstdio>
#include <string>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
  if (!ok) ++failures;
}

}  // namespace

int main(int argc, char** argv) {
  auto runtime = krunbox::api::Runtime::open();
  if (!runtime) {
    std::fprintf(stderr, "embed_example: %s\n", runtime.error().what().c_str());
    return 1;
  }

  // Bad input is refused with an error that names it, before anything runs.
  krunbox::api::SandboxOptions bad;
  bad.memory_mib = 1;
  auto refused = runtime->create(bad);
  check(!refused && refused.error().what().find("memory") != std::string::npos,
        "a sandbox with 1 MiB of memory is refused: " + (refused ? std::string("created") : refused.error().what()));
  auto missing = runtime->inspect("no-such-sandbox");
  check(!missing && missing.error().code() == krunbox::ErrorCode::kNotFound, "an unknown sandbox is not found");

  krunbox::api::SandboxOptions options;
  options.backend = argc > 1 ? argv[1] : "auto";
  options.command = {"sleep", "86400"};
  options.labels = {{"purpose", "embed-example"}};
  options.secrets = {{"TOKEN", "s3cret"}};
  auto id = runtime->run(options);
  if (!id) {
    std::fprintf(stderr, "embed_example: run: %s\n", id.error().what().c_str());
    return 1;
  }
  auto info = runtime->inspect(*id);
  check(info && info->state == "running", "the sandbox runs" + (info ? " on " + info->backend : std::string()));

  krunbox::api::ExecOptions exec;
  exec.argv = {"sh", "-c", "echo hello from $(uname -s); echo oops >&2; exit 3"};
  auto out = runtime->exec(*id, exec);
  check(out && out->stdout_data == "hello from Linux\n" && out->stderr_data == "oops\n" && out->exit_code == 3,
        "exec collects stdout, stderr and the exit code" +
            (out ? ": " + out->stdout_data.substr(0, 40) : ": " + out.error().what()));

  exec.argv = {"cat"};
  exec.stdin_data = "piped in";
  out = runtime->exec(*id, exec);
  check(out && out->stdout_data == "piped in" && out->exit_code == 0, "exec feeds stdin");

  std::string streamed;
  int chunks = 0;
  krunbox::api::ExecStreams streams;
  streams.on_stdout = [&](std::string_view data) {
    streamed.append(data);
    ++chunks;
  };
  exec.argv = {"sh", "-c", "for i in 1 2 3; do echo $i; sleep 0.2; done"};
  exec.stdin_data.reset();
  auto streamed_outcome = runtime->exec(*id, exec, streams);
  check(streamed_outcome && streamed_outcome->exit_code == 0 && streamed == "1\n2\n3\n" && chunks >= 2,
        "exec streams output as it comes (" + std::to_string(chunks) + " chunks)");

  exec.argv = {"sleep", "30"};
  exec.timeout = std::chrono::seconds(1);
  out = runtime->exec(*id, exec);
  check(out && out->timed_out, "a command past its timeout is killed");

  std::string payload(300000, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + 3);
  auto wrote = runtime->write_file(*id, "/tmp/data/blob.bin", payload, 0600);
  check(wrote.ok(), "write_file" + (wrote.ok() ? std::string() : ": " + wrote.error().what()));
  auto back = runtime->read_file(*id, "/tmp/data/blob.bin");
  check(back && *back == payload, "read_file gives back the same bytes");
  auto st = runtime->stat(*id, "/tmp/data/blob.bin");
  check(st && st->size == payload.size() && (st->mode & 0777) == 0600, "stat sees size and mode");
  auto gone = runtime->read_file(*id, "/tmp/data/none");
  check(!gone && gone.error().code() == krunbox::ErrorCode::kNotFound, "a missing file is not found");

  exec.timeout = std::chrono::seconds(0);
  exec.argv = {"sh", "-c", "echo $TOKEN"};
  out = runtime->exec(*id, exec);
  check(out && out->stdout_data == "s3cret\n", "secrets are in the sandbox's environment (never on disk)");

  auto listed = runtime->list({"purpose=embed-example"});
  check(listed && listed->size() == 1 && (*listed)[0].id == *id, "list filters by label");

  check(runtime->stop(*id, std::chrono::seconds(2)).ok(), "stop");
  info = runtime->inspect(*id);
  check(info && info->state == "stopped", "the sandbox is stopped");
  check(runtime->remove(*id).ok(), "remove");
  check(!runtime->inspect(*id), "the sandbox is gone");
  std::printf("%s\n", failures ? "embed_example: FAILED" : "embed_example: all steps passed");
  return failures ? 1 : 0;
}
