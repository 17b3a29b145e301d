#include "sandbox/monitor_messages.h"

#include <gtest/gtest.h>

namespace krunbox::monitor {
namespace {

template <typename T>
T round_trip(const Request& request) {
  auto parsed = parse_request(encode_request(request));
  EXPECT_TRUE(parsed.ok()) << parsed.error().what();
  if (!parsed.ok()) return T{};
  EXPECT_TRUE(std::holds_alternative<T>(*parsed)) << request_op(*parsed);
  return std::holds_alternative<T>(*parsed) ? std::get<T>(*parsed) : T{};
}

std::string error_of(std::string_view payload) {
  auto parsed = parse_request(payload);
  return parsed.ok() ? std::string("(parsed)") : parsed.error().what();
}

TEST(MonitorMessagesTest, RequestsRoundTrip) {
  ExecRequest exec;
  exec.workload.argv = {"sh", "-c", "echo hi"};
  exec.workload.env = {"A=1"};
  exec.workload.cwd = "/tmp";
  exec.workload.user = "1000:1000";
  exec.workload.tty = true;
  exec.workload.stdin_open = true;
  exec.workload.tty_size = std::pair<uint16_t, uint16_t>{40, 120};
  exec.workload.timeout = std::chrono::seconds(30);
  auto e = round_trip<ExecRequest>(exec);
  EXPECT_EQ(e.workload.timeout.count(), 30);
  EXPECT_EQ(e.workload.argv, exec.workload.argv);
  EXPECT_EQ(e.workload.env, exec.workload.env);
  EXPECT_EQ(e.workload.cwd, "/tmp");
  EXPECT_EQ(e.workload.user, "1000:1000");
  EXPECT_TRUE(e.workload.tty);
  EXPECT_TRUE(e.workload.stdin_open);
  ASSERT_TRUE(e.workload.tty_size.has_value());
  EXPECT_EQ(e.workload.tty_size->first, 40);
  EXPECT_EQ(e.workload.tty_size->second, 120);

  EXPECT_EQ(round_trip<StopRequest>(StopRequest{std::chrono::milliseconds(2500)}).grace.count(), 2500);
  EXPECT_EQ(round_trip<RemoveRequest>(RemoveRequest{std::chrono::milliseconds(0)}).grace.count(), 0);
  EXPECT_EQ(round_trip<KillRequest>(KillRequest{15}).signal, 15);
  (void)round_trip<StartRequest>(StartRequest{});
  (void)round_trip<PauseRequest>(PauseRequest{});
  (void)round_trip<ResumeRequest>(ResumeRequest{});
  (void)round_trip<StatusRequest>(StatusRequest{});
  auto put = round_trip<PutRequest>(PutRequest{"/srv/a b", 0750, true});
  EXPECT_EQ(put.path, "/srv/a b");
  EXPECT_EQ(put.mode, 0750u);
  EXPECT_TRUE(put.make_parents);
  EXPECT_EQ(round_trip<GetRequest>(GetRequest{"/etc/hostname"}).path, "/etc/hostname");
  EXPECT_EQ(round_trip<StatRequest>(StatRequest{"/"}).path, "/");
}

TEST(MonitorMessagesTest, KeptExecRequestsRoundTrip) {
  ExecRequest exec;
  exec.workload.argv = {"sleep", "9"};
  exec.keep = true;
  EXPECT_TRUE(round_trip<ExecRequest>(exec).keep);
  exec.keep = false;
  EXPECT_FALSE(round_trip<ExecRequest>(exec).keep);
  auto attach = round_trip<AttachRequest>(AttachRequest{"0123456789abcdef", false, 77});
  EXPECT_EQ(attach.exec_id, "0123456789abcdef");
  EXPECT_FALSE(attach.follow);
  EXPECT_EQ(attach.offset, 77u);
  (void)round_trip<ExecsRequest>(ExecsRequest{});
  EXPECT_TRUE(round_trip<ExecStdinRequest>(ExecStdinRequest{"0123456789abcdef", true}).close);
  EXPECT_EQ(round_trip<ExecSignalRequest>(ExecSignalRequest{"0123456789abcdef", 2}).signal, 2);
  auto resize = round_trip<ExecResizeRequest>(ExecResizeRequest{"0123456789abcdef", 50, 200});
  EXPECT_EQ(resize.rows, 50);
  EXPECT_EQ(resize.cols, 200);
  EXPECT_EQ(round_trip<TimeoutRequest>(TimeoutRequest{std::chrono::seconds(90)}).ttl.count(), 90);
}

TEST(MonitorMessagesTest, HostileKeptExecRequestsNameTheField) {
  EXPECT_NE(error_of(R"({"op":"attach","exec_id":"../../x","follow":true,"offset":0})").find("exec_id"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"attach","exec_id":"0123456789ABCDEF","follow":true,"offset":0})").find("exec_id"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"attach","exec_id":"0123456789abcdef","follow":1,"offset":0})").find("follow"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"attach","exec_id":"0123456789abcdef","follow":true,"offset":-1})").find("offset"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"exec_signal","exec_id":"0123456789abcdef","signal":0})").find("signal"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"exec_resize","exec_id":"0123456789abcdef","rows":0,"cols":1})").find("rows"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"exec","argv":["a"],"env":[],"cwd":"","user":"","tty":false,"stdin":false,"keep":"y"})")
                .find("keep"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"timeout","ttl_s":99999999999})").find("ttl_s"), std::string::npos);
  EXPECT_NE(error_of(R"({"op":"timeout"})").find("ttl_s"), std::string::npos);
}

TEST(MonitorMessagesTest, KeptExecRepliesRoundTrip) {
  auto started = parse_reply(encode_reply(ExecStarted{7, "00000000000000aa"}));
  ASSERT_TRUE(started.ok()) << started.error().what();
  auto s = parse_exec_started(*started);
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_EQ(s->exec_id, "00000000000000aa");
  auto attach = parse_reply(encode_reply(AttachStarted{5, 9}));
  ASSERT_TRUE(attach.ok());
  auto a = parse_attach_started(*attach);
  ASSERT_TRUE(a.ok()) << a.error().what();
  EXPECT_EQ(a->first_kept, 5u);
  EXPECT_EQ(a->from, 9u);

  KeptExecInfo running;
  running.exec_id = "0123456789abcdef";
  running.pid = 12;
  running.argv = {"sleep", "1"};
  running.started_unix_ms = 1700000000000;
  running.output_bytes = 3;
  KeptExecInfo ended = running;
  ended.exec_id = "fedcba9876543210";
  ended.exit = proto::ExitMessage{};
  ended.exit->status.code = 3;
  KeptExecInfo crashed = running;
  crashed.exec_id = "fedcba987654321f";
  crashed.crash_reason = "the sandbox stopped";
  auto body = parse_reply(encode_reply(ExecsReply{{running, ended, crashed}}));
  ASSERT_TRUE(body.ok());
  auto list = parse_execs_reply(*body);
  ASSERT_TRUE(list.ok()) << list.error().what();
  ASSERT_EQ(list->execs.size(), 3u);
  EXPECT_TRUE(list->execs[0].running());
  EXPECT_EQ(list->execs[0].argv, running.argv);
  EXPECT_EQ(list->execs[0].started_unix_ms, 1700000000000);
  ASSERT_TRUE(list->execs[1].exit.has_value());
  EXPECT_EQ(list->execs[1].exit->status.code, 3);
  EXPECT_FALSE(list->execs[1].running());
  EXPECT_EQ(list->execs[2].crash_reason, "the sandbox stopped");
  EXPECT_FALSE(list->execs[2].running());
  // A hostile monitor's list is refused, not trusted.
  EXPECT_FALSE(parse_execs_reply(Json{{"execs", {{{"exec_id", "x"}}}}}).ok());
  EXPECT_FALSE(parse_execs_reply(Json{{"execs", "no"}}).ok());
}

TEST(MonitorMessagesTest, HostileRequestsNameTheField) {
  EXPECT_NE(error_of("[1]").find("not a JSON object"), std::string::npos);
  EXPECT_NE(error_of("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("{}").find("field 'op' is missing"), std::string::npos);
  EXPECT_NE(error_of(R"({"op":7})").find("field 'op' is not a string"), std::string::npos);
  EXPECT_NE(error_of(R"({"op":"fly"})").find("unknown monitor request 'fly'"), std::string::npos);
  EXPECT_NE(error_of(R"({"op":"stop"})").find("field 'grace_ms' is missing"), std::string::npos);
  EXPECT_NE(error_of(R"({"op":"stop","grace_ms":-1})").find("'grace_ms' is out of range"), std::string::npos);
  EXPECT_NE(error_of(R"({"op":"stop","grace_ms":"10"})").find("'grace_ms' is not an integer"), std::string::npos);
  EXPECT_NE(error_of(R"({"op":"kill","signal":0})").find("'signal' is out of range"), std::string::npos);
  EXPECT_NE(error_of(R"({"op":"kill","signal":1e3})").find("'signal' is not an integer"), std::string::npos);
  EXPECT_NE(error_of(R"({"op":"kill","signal":18446744073709551615})").find("out of range"), std::string::npos);
  std::string exec = R"({"op":"exec","argv":["true"],"env":[],"cwd":"","user":"","tty":false)";
  EXPECT_NE(error_of(exec + "}").find("field 'stdin' is missing"), std::string::npos);
  EXPECT_NE(error_of(exec + R"(,"stdin":1})").find("field 'stdin' is not a boolean"), std::string::npos);
  EXPECT_EQ(error_of(exec + R"(,"stdin":false})"), "(parsed)");
  EXPECT_NE(error_of(exec + R"(,"stdin":false,"rows":0,"cols":80})").find("'rows' is out of range"), std::string::npos);
  EXPECT_NE(error_of(exec + R"(,"stdin":false,"rows":24})").find("field 'cols' is missing"), std::string::npos);
  EXPECT_NE(error_of(exec + R"(,"stdin":false,"timeout_s":0})").find("'timeout_s' is out of range"), std::string::npos);
  EXPECT_NE(error_of(exec + R"(,"stdin":false,"timeout_s":99999999})").find("'timeout_s' is out of range"),
            std::string::npos);
  EXPECT_NE(error_of(exec + R"(,"stdin":false,"timeout_s":"5"})").find("'timeout_s' is not an integer"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"exec","argv":[],"env":[],"cwd":"","user":"","tty":false,"stdin":false})")
                .find("'argv' is empty"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"exec","argv":["a",1],"env":[],"cwd":"","user":"","tty":false,"stdin":false})")
                .find("'argv' is not an array of strings"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"exec","argv":["a\u0000b"],"env":[],"cwd":"","user":"","tty":false,"stdin":false})")
                .find("'argv' holds a NUL byte"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"get","path":"relative"})").find("'path' is not an absolute path"), std::string::npos);
  EXPECT_NE(error_of(R"({"op":"get","path":")" + std::string(5000, 'a') + "\"}").find("'path' is longer"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"put","path":"/x","mode":65536,"make_parents":false})").find("'mode' is out of range"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"op":"put","path":"/x","mode":420})").find("'make_parents' is missing"), std::string::npos);
  EXPECT_NE(error_of(std::string(2u << 20, ' ')).find("1 MiB"), std::string::npos);
}

TEST(MonitorMessagesTest, RequestsAreRejectedAsProtocolErrors) {
  auto r = parse_request(R"({"op":"kill"})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kProtocol);
}

TEST(MonitorMessagesTest, RepliesCarryTheirErrorCode) {
  auto ok = parse_reply(encode_reply(Status{}));
  ASSERT_TRUE(ok.ok()) << ok.error().what();
  auto err = parse_reply(encode_reply(Status(Error(ErrorCode::kNotFound, "no such file: /x").wrap("get"))));
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(err.error().what(), "get: no such file: /x");
  // A monitor from before the typed protocol sent no code.
  auto old = parse_reply(R"({"ok":false,"error":"sandbox x is paused"})");
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.error().code(), ErrorCode::kIllegalState);
  EXPECT_FALSE(parse_reply(R"({"ok":"yes"})").ok());
  EXPECT_FALSE(parse_reply(R"({"ok":false})").ok());
  EXPECT_FALSE(parse_reply("").ok());

  auto pid = parse_reply(encode_reply(ExecStarted{4242, {}}));
  ASSERT_TRUE(pid.ok());
  auto started = parse_exec_started(*pid);
  ASSERT_TRUE(started.ok()) << started.error().what();
  EXPECT_EQ(started->pid, 4242);
  auto put = parse_reply(encode_reply(PutDone{5u << 20}));
  ASSERT_TRUE(put.ok());
  auto done = parse_put_done(*put);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->size, 5u << 20);
  auto got = parse_reply(encode_reply(GetDone{7}));
  ASSERT_TRUE(got.ok());
  auto get_done = parse_get_done(*got);
  ASSERT_TRUE(get_done.ok());
  EXPECT_EQ(get_done->size, 7u);
  EXPECT_FALSE(parse_get_done(Json{{"ok", true}, {"size", -1}}).ok());
  EXPECT_FALSE(parse_exec_started(Json{{"ok", true}}).ok());

  proto::FileStat st;
  st.type = "file";
  st.mode = 0640;
  st.size = 12;
  st.mtime_ns = 99;
  auto stat_body = parse_reply(encode_reply(st));
  ASSERT_TRUE(stat_body.ok());
  auto stat = parse_stat_reply(*stat_body);
  ASSERT_TRUE(stat.ok()) << stat.error().what();
  EXPECT_EQ(stat->type, "file");
  EXPECT_EQ(stat->mode, 0640u);
  EXPECT_EQ(stat->size, 12u);
  EXPECT_FALSE(parse_stat_reply(Json{{"ok", true}, {"stat", 3}}).ok());

  SandboxStatus status;
  status.state = SandboxState::kPaused;
  status.run = 3;
  auto status_body = parse_reply(encode_reply(StatusReply{status}));
  ASSERT_TRUE(status_body.ok());
  auto parsed_status = parse_status_reply(*status_body);
  ASSERT_TRUE(parsed_status.ok()) << parsed_status.error().what();
  EXPECT_EQ(parsed_status->status.state, SandboxState::kPaused);
  EXPECT_EQ(parsed_status->status.run, 3);
}

TEST(MonitorMessagesTest, StreamFramesRoundTripAndRejectJunk) {
  auto sig = parse_signal_frame(encode_frame_body(SignalFrame{2}));
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->signal, 2);
  EXPECT_FALSE(parse_signal_frame(R"({"signal":-3})").ok());
  EXPECT_FALSE(parse_signal_frame(R"({})").ok());
  auto size = parse_resize_frame(encode_frame_body(ResizeFrame{50, 200}));
  ASSERT_TRUE(size.ok());
  EXPECT_EQ(size->rows, 50);
  EXPECT_EQ(size->cols, 200);
  EXPECT_FALSE(parse_resize_frame(R"({"rows":70000,"cols":1})").ok());
  proto::ExitMessage exit{ExitStatus::killed(9), true};
  auto e = parse_exit_frame(encode_frame_body(exit));
  ASSERT_TRUE(e.ok()) << e.error().what();
  EXPECT_EQ(e->status, ExitStatus::killed(9));
  EXPECT_TRUE(e->timed_out);
  auto missing = parse_exit_frame(R"({"code":0,"signaled":false,"signal":0})");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().what().find("'timed_out' is missing"), std::string::npos);
}

}  // namespace
}  // namespace krunbox::monitor
