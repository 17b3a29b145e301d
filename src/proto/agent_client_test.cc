// AgentClient against a scripted fake agent, to check the client's side of
// the protocol, including how it treats an agent that breaks the rules.
#include "proto/agent_client.h"

#include <gtest/gtest.h>

#include <thread>

#include "proto/frame.h"

namespace krunbox::proto {
namespace {

class FakeAgent {
 public:
  explicit FakeAgent(UniqueFd fd) : fd_(std::move(fd)) {}

  Frame read_frame() {
    for (;;) {
      auto f = dec_.next();
      if (!f.ok()) ADD_FAILURE() << f.error().what();
      if (!f.ok()) return Frame{};
      if (*f) return std::move(**f);
      if (pending_.empty()) {
        char buf[4096];
        ssize_t n = ::read(fd_.get(), buf, sizeof buf);
        if (n <= 0) return Frame{FrameHeader{0, FrameType::kHello, 0, 0xffffffff}, ""};  // marks EOF
        pending_.assign(buf, static_cast<size_t>(n));
      }
      pending_.erase(0, dec_.feed(pending_.data(), pending_.size()));
    }
  }
  void send(FrameType t, uint32_t ch, uint8_t s, std::string_view payload) {
    std::string f = encode_frame(t, ch, s, payload);
    ASSERT_TRUE(write_all(fd_.get(), f.data(), f.size()).ok());
  }
  void handshake() {
    Frame f = read_frame();
    ASSERT_EQ(f.type(), FrameType::kHello);
    ASSERT_TRUE(parse_client_hello(f.payload).ok());
    AgentHello h;
    h.agent_version = "fake";
    h.capabilities = {"exec"};
    send(FrameType::kHello, 0, 0, encode(h));
  }

 private:
  UniqueFd fd_;
  FrameDecoder dec_;
  std::string pending_;
};

struct Pair {
  std::unique_ptr<AgentClient> client;
  std::unique_ptr<FakeAgent> agent;
};

Pair connect_pair() {
  auto sp = make_socketpair();
  EXPECT_TRUE(sp.ok());
  auto agent = std::make_unique<FakeAgent>(std::move(sp->second));
  std::thread t([&] { agent->handshake(); });
  auto c = AgentClient::connect(std::move(sp->first));
  t.join();
  EXPECT_TRUE(c.ok()) << c.error().what();
  return {std::move(*c), std::move(agent)};
}

TEST(AgentClientTest, HandshakeAndPing) {
  Pair pair = connect_pair();
  auto& client = pair.client;
  auto& agent = pair.agent;
  EXPECT_EQ(client->hello().agent_version, "fake");
  EXPECT_TRUE(client->hello().has("exec"));
  std::thread t([&] {
    Frame f = agent->read_frame();
    ASSERT_EQ(f.type(), FrameType::kRequest);
    ASSERT_TRUE(std::holds_alternative<PingRequest>(*parse_request(f.payload)));
    agent->send(FrameType::kResponse, f.channel(), 0, encode_ok(to_json(PingReply{77})));
  });
  auto p = client->ping();
  t.join();
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(p->uptime_ms, 77u);
}

TEST(AgentClientTest, HandshakeRefusedByAgent) {
  auto sp = make_socketpair();
  ASSERT_TRUE(sp.ok());
  FakeAgent agent(std::move(sp->second));
  std::thread t([&] {
    agent.read_frame();
    agent.send(FrameType::kError, 0, 0, encode_error(Error(ErrorCode::kUnsupported, "no common version")));
  });
  auto c = AgentClient::connect(std::move(sp->first));
  t.join();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kUnsupported);
}

TEST(AgentClientTest, ExecStreamsAndExit) {
  Pair pair = connect_pair();
  auto& client = pair.client;
  auto& agent = pair.agent;
  std::thread t([&] {
    Frame f = agent->read_frame();
    uint32_t ch = f.channel();
    agent->send(FrameType::kResponse, ch, 0, encode_ok(to_json(ExecStarted{42})));
    agent->send(FrameType::kData, ch, kStdout, "out\n");
    agent->send(FrameType::kData, ch, kStderr, "err\n");
    agent->send(FrameType::kEof, ch, kStdout, "");
    agent->send(FrameType::kEof, ch, kStderr, "");
    agent->send(FrameType::kExit, ch, 0, encode(ExitMessage{ExitStatus::exited(3), false}));
  });
  ExecRequest req;
  req.argv = {"x"};
  auto r = client->run(req);
  t.join();
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");
  EXPECT_EQ(r->status, ExitStatus::exited(3));
}

TEST(AgentClientTest, StdinRespectsTheWindow) {
  Pair pair = connect_pair();
  auto& client = pair.client;
  auto& agent = pair.agent;
  std::string data(kInitialWindow + 1000, 'z');
  std::atomic<size_t> received{0};
  std::thread t([&] {
    Frame f = agent->read_frame();
    uint32_t ch = f.channel();
    agent->send(FrameType::kResponse, ch, 0, encode_ok(to_json(ExecStarted{1})));
    while (received < kInitialWindow) received += agent->read_frame().payload.size();
    EXPECT_EQ(received.load(), kInitialWindow);  // nothing beyond the window
    agent->send(FrameType::kWindow, ch, kStdin, encode_window(4096));
    Frame more = agent->read_frame();
    EXPECT_EQ(more.payload.size(), 1000u);
    EXPECT_EQ(agent->read_frame().type(), FrameType::kEof);
    agent->send(FrameType::kEof, ch, kStdout, "");
    agent->send(FrameType::kEof, ch, kStderr, "");
    agent->send(FrameType::kExit, ch, 0, encode(ExitMessage{ExitStatus::exited(0), false}));
  });
  ExecRequest req;
  req.argv = {"cat"};
  auto s = client->exec(req);
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE((*s)->write_stdin(data).ok());
  ASSERT_TRUE((*s)->close_stdin().ok());
  auto st = (*s)->wait();
  t.join();
  ASSERT_TRUE(st.ok());
}

// Each case: the fake agent answers an exec and then breaks a rule; the client
// must fail with kProtocol and tell the agent with an ERROR frame.
void expect_protocol_violation(const std::function<void(FakeAgent&, uint32_t)>& misbehave) {
  Pair pair = connect_pair();
  auto& client = pair.client;
  auto& agent = pair.agent;
  Frame error_frame;
  std::thread t([&] {
    Frame f = agent->read_frame();
    agent->send(FrameType::kResponse, f.channel(), 0, encode_ok(to_json(ExecStarted{1})));
    misbehave(*agent, f.channel());
    do {
      error_frame = agent->read_frame();
    } while (error_frame.type() != FrameType::kError && error_frame.channel() != 0xffffffff);
  });
  ExecRequest req;
  req.argv = {"x"};
  auto s = client->exec(req);
  ASSERT_TRUE(s.ok());
  t.join();  // nothing is read meanwhile, so no window is returned
  EXPECT_EQ(error_frame.type(), FrameType::kError);
  EXPECT_FALSE(client->connected());
  EXPECT_EQ(client->error().code(), ErrorCode::kProtocol) << client->error().what();
  EXPECT_FALSE(client->ping().ok());
}

TEST(AgentClientTest, DataBeyondWindowIsAProtocolError) {
  expect_protocol_violation([](FakeAgent& a, uint32_t ch) {
    std::string chunk(kMaxPayload, 'a');
    a.send(FrameType::kData, ch, kStdout, chunk);
    a.send(FrameType::kData, ch, kStdout, "b");
  });
}

TEST(AgentClientTest, SecondExitIsAProtocolError) {
  expect_protocol_violation([](FakeAgent& a, uint32_t ch) {
    a.send(FrameType::kData, ch, kStdout, "x");
    std::string exit = encode(ExitMessage{ExitStatus::exited(0), false});
    // Streams stay open, so the first EXIT does not close the channel on the client.
    a.send(FrameType::kExit, ch, 0, exit);
    a.send(FrameType::kExit, ch, 0, exit);
  });
}

TEST(AgentClientTest, GarbageIsAProtocolError) {
  expect_protocol_violation([](FakeAgent& a, uint32_t) {
    a.send(FrameType::kResponse, 99, 0, "not json");  // unknown channel: dropped
    a.send(FrameType::kRequest, 5, 0, "{}");          // agents do not send requests
  });
}

TEST(AgentClientTest, ConnectionLossFailsPendingCalls) {
  Pair pair = connect_pair();
  auto& client = pair.client;
  auto& agent = pair.agent;
  std::thread t([&] {
    agent->read_frame();
    agent.reset();  // closes the fake's end
  });
  auto p = client->ping();
  t.join();
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), ErrorCode::kUnavailable);
}

}  // namespace
}  // namespace krunbox::proto
