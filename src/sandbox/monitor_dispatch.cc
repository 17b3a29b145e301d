// The monitor's control socket: one thread per connection, one typed
// request (monitor_messages.h), dispatched to the main thread (start, stop,
// remove), to the supervisor (kill, pause, resume, status) or to a relay
// (exec, put, get, stat) and kept execs (attach and the rest, monitor_kept.cc).
#include <sys/socket.h>

#include <cstring>
#include <thread>

#include "base/log.h"
#include "sandbox/monitor_protocol.h"
#include "sandbox/monitor_supervisor.h"

namespace krunbox {
namespace {

using namespace std::chrono_literals;
using monitor::FrameType;

template <typename... F>
struct Overload : F... {
  using F::operator()...;
};
template <typename... F>
Overload(F...) -> Overload<F...>;

}  // namespace

Status Monitor::post_and_wait(MonitorEvent ev, int reply_fd) {
  ev.done = std::make_shared<std::promise<Status>>();
  ev.replied = std::make_shared<std::promise<void>>();
  auto replied = ev.replied;
  auto future = ev.done->get_future();
  post(std::move(ev));
  Status st = future.get();
  (void)monitor::write_frame(reply_fd, FrameType::kReply, monitor::encode_reply(st));
  replied->set_value();
  return st;
}

void Monitor::handle_connection(UniqueFd conn) {
  int fd = conn.get();
  auto frame = monitor::read_frame(fd);
  if (!frame.ok() || !*frame || (*frame)->type != FrameType::kRequest) return;
  auto request = monitor::parse_request((*frame)->payload);
  if (!request) {
    KB_DEBUG("refused a request: {}", request.error().what());
    (void)monitor::write_frame(fd, FrameType::kReply, monitor::encode_reply(Status(std::move(request).error())));
    return;
  }
  // What clients do keeps the sandbox from its idle timeout; status reads
  // (ps, inspect, every list) do not.
  bool counts = !std::holds_alternative<monitor::StatusRequest>(*request);
  if (counts) client_began();
  struct ClientEnd {
    Monitor* m;
    bool counts;
    ~ClientEnd() {
      if (counts) m->client_ended();
    }
  } client_end{this, counts};
  auto reply = [fd](const Status& st) { (void)monitor::write_frame(fd, FrameType::kReply, monitor::encode_reply(st)); };
  auto stop_event = [this, fd](MonitorEvent::Kind kind, std::chrono::milliseconds grace) {
    MonitorEvent ev(kind);
    ev.grace = grace;
    (void)post_and_wait(std::move(ev), fd);
  };
  std::visit(Overload{
                 [&](monitor::ExecRequest& r) { relay_exec(fd, std::move(r)); },
                 [&](monitor::StartRequest&) { (void)post_and_wait(MonitorEvent(MonitorEvent::Kind::kStart), fd); },
                 [&](monitor::StopRequest& r) { stop_event(MonitorEvent::Kind::kStop, r.grace); },
                 [&](monitor::RemoveRequest& r) { stop_event(MonitorEvent::Kind::kRemove, r.grace); },
                 [&](monitor::KillRequest& r) { reply(handle_kill(r.signal)); },
                 [&](monitor::PauseRequest&) { reply(handle_pause(true)); },
                 [&](monitor::ResumeRequest&) { reply(handle_pause(false)); },
                 [&](monitor::StatusRequest&) {
                   monitor::StatusReply r;
                   {
                     std::lock_guard lock(status_mu_);
                     r.status = status_;
                   }
                   (void)monitor::write_frame(fd, FrameType::kReply, monitor::encode_reply(r));
                 },
                 [&](monitor::PutRequest& r) { relay_put(fd, r); },
                 [&](monitor::GetRequest& r) { relay_get(fd, r); },
                 [&](monitor::StatRequest& r) { relay_stat(fd, r); },
                 [&](monitor::AttachRequest& r) { relay_attach(fd, r); },
                 [&](monitor::ExecsRequest&) {
                   (void)monitor::write_frame(fd, FrameType::kReply,
                                              monitor::encode_reply(monitor::ExecsReply{kept_.list()}));
                 },
                 [&](monitor::ExecStdinRequest& r) { relay_exec_stdin(fd, r); },
                 [&](monitor::ExecSignalRequest& r) { reply(exec_signal(r)); },
                 [&](monitor::ExecResizeRequest& r) { reply(exec_resize(r)); },
                 [&](monitor::TimeoutRequest& r) { reply(handle_timeout(r.ttl)); },
                 [&](monitor::ListDirRequest& r) { relay_list(fd, r); },
                 [&](monitor::MakeDirRequest&) { reply(file_op(*request)); },
                 [&](monitor::MovePathRequest&) { reply(file_op(*request)); },
                 [&](monitor::RemovePathRequest&) { reply(file_op(*request)); },
                 [&](monitor::CheckpointRequest& r) {
                   auto session = handle_checkpoint(r.dir);
                   (void)monitor::write_frame(fd, FrameType::kReply,
                                              session ? monitor::encode_reply(monitor::CheckpointDone{*session})
                                                      : monitor::encode_reply(Status(std::move(session).error())));
                 },
             },
             *request);
}

void Monitor::serve(UniqueFd listener) {
  for (;;) {
    UniqueFd conn(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
        if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(10ms);
        continue;
      }
      KB_ERROR("accept on the control socket: {}", std::strerror(errno));
      return;
    }
    std::thread([this, c = std::move(conn)]() mutable { handle_connection(std::move(c)); }).detach();
  }
}

}  // namespace krunbox
