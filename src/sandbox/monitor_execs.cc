#include "sandbox/monitor_execs.h"

#include <algorithm>
#include <chrono>

#include "backend/sandbox_spec.h"

namespace krunbox {

KeptExec::KeptExec(std::string exec_id, std::unique_ptr<proto::ExecSession> session, std::vector<std::string> argv,
                   bool tty)
    : exec_id_(std::move(exec_id)),
      session_(std::move(session)),
      argv_(std::move(argv)),
      tty_(tty),
      started_unix_ms_(
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
              .count()),
      output_(kKeptOutputBytes) {
  out_ = std::thread([this] { pump(false); });
  err_ = std::thread([this] { pump(true); });
  waiter_ = std::thread([this] { wait_for_end(); });
}

KeptExec::~KeptExec() {
  // Only ended execs are dropped, and the monitor ends with _exit, so the
  // threads are done or about to be.
  (void)session_->cancel();
  for (auto* t : {&out_, &err_, &waiter_})
    if (t->joinable()) t->join();
}

void KeptExec::pump(bool err) {
  char buf[32768];
  for (;;) {
    auto n = err ? session_->read_stderr(buf, sizeof buf) : session_->read_stdout(buf, sizeof buf);
    if (!n.ok() || *n == 0) return;
    output_.append(err ? OutputStream::kStderr : OutputStream::kStdout, std::string_view(buf, *n));
  }
}

void KeptExec::wait_for_end() {
  // The streams first: output read after wait() would be gone.
  out_.join();
  err_.join();
  auto exit = session_->wait();
  {
    std::lock_guard lock(mu_);
    if (exit.ok()) {
      exit_ = *exit;
    } else {
      crash_reason_ = "the sandbox stopped or restarted before the command ended (" + exit.error().what() + ")";
    }
  }
  output_.close();
}

bool KeptExec::ended() const {
  std::lock_guard lock(mu_);
  return exit_.has_value() || !crash_reason_.empty();
}

monitor::KeptExecInfo KeptExec::info() const {
  monitor::KeptExecInfo i;
  i.exec_id = exec_id_;
  i.pid = session_->pid();
  i.argv = argv_;
  i.tty = tty_;
  i.started_unix_ms = started_unix_ms_;
  i.output_bytes = output_.end();
  std::lock_guard lock(mu_);
  i.exit = exit_;
  i.crash_reason = crash_reason_;
  return i;
}

Result<std::shared_ptr<KeptExec>> KeptExecs::add(std::unique_ptr<proto::ExecSession> session,
                                                 std::vector<std::string> argv, bool tty) {
  std::vector<std::shared_ptr<KeptExec>> dropped;  // destroyed (joined) outside the lock
  std::lock_guard lock(mu_);
  size_t running = 0;
  std::vector<std::string> ended;
  for (const auto& id : order_) {
    if (execs_.at(id)->ended()) {
      ended.push_back(id);
    } else {
      ++running;
    }
  }
  if (running >= kMaxRunningKeptExecs) {
    (void)session->cancel();
    return Error(ErrorCode::kBusy,
                 std::to_string(kMaxRunningKeptExecs) +
                     " background commands already run in this sandbox; wait for one to end or signal one");
  }
  size_t excess = ended.size() > kMaxEndedKeptExecs ? ended.size() - kMaxEndedKeptExecs : 0;
  for (size_t i = 0; i < excess; ++i) {
    dropped.push_back(execs_.at(ended[i]));
    execs_.erase(ended[i]);
    order_.erase(std::find(order_.begin(), order_.end(), ended[i]));
  }
  std::string exec_id;
  do {
    exec_id = generate_sandbox_id().substr(0, 16);
  } while (execs_.contains(exec_id));
  auto exec = std::make_shared<KeptExec>(exec_id, std::move(session), std::move(argv), tty);
  execs_[exec_id] = exec;
  order_.push_back(exec_id);
  return exec;
}

Result<std::shared_ptr<KeptExec>> KeptExecs::find(const std::string& exec_id) const {
  std::lock_guard lock(mu_);
  auto it = execs_.find(exec_id);
  if (it == execs_.end())
    return Error(ErrorCode::kNotFound, "no background command " + exec_id +
                                           " in this sandbox (ended ones are kept while fewer than " +
                                           std::to_string(kMaxEndedKeptExecs) + " ended after it)");
  return it->second;
}

bool KeptExecs::any_running() const {
  std::lock_guard lock(mu_);
  for (const auto& [id, exec] : execs_)
    if (!exec->ended()) return true;
  return false;
}

std::vector<monitor::KeptExecInfo> KeptExecs::list() const {
  std::vector<std::shared_ptr<KeptExec>> execs;
  {
    std::lock_guard lock(mu_);
    for (const auto& id : order_) execs.push_back(execs_.at(id));
  }
  std::vector<monitor::KeptExecInfo> out;
  for (const auto& e : execs) out.push_back(e->info());
  return out;
}

}  // namespace krunbox
