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

// The fake answers one list with `response` and then sends `stream` on
// stream 1 in `chunk`-byte DATA frames and an EOF.
Result<DirListing> list_against(const std::string& response, const std::string& stream, size_t chunk = 7) {
  Pair pair = connect_pair();
  std::thread t([&] {
    Frame f = pair.agent->read_frame();
    auto r = parse_request(f.payload);
    ASSERT_TRUE(r.ok());
    const auto& l = std::get<ListRequest>(*r);
    EXPECT_EQ(l.path, "/d");
    EXPECT_EQ(l.depth, 2u);
    pair.agent->send(FrameType::kResponse, f.channel(), 0, response);
    for (size_t off = 0; off < stream.size(); off += chunk)
      pair.agent->send(FrameType::kData, f.channel(), kStdout, std::string_view(stream).substr(off, chunk));
    pair.agent->send(FrameType::kEof, f.channel(), kStdout, "");
  });
  auto listing = pair.client->list_dir("/d", 2);
  t.join();
  // Whatever the agent sent, only this call failed: the connection is still good.
  EXPECT_TRUE(pair.client->connected());
  return listing;
}

std::string lines(const std::vector<DirEntry>& entries) {
  std::string out;
  for (const auto& e : entries) out += encode_dir_entry(e);
  return out;
}

TEST(AgentClientTest, ListDirReadsTheStreamedListing) {
  std::string body = lines({{"a", FileStat{"dir", 0755, 0, 0, 0, 1, ""}},
                            {"a/l", FileStat{"symlink", 0777, 1, 0, 0, 2, "x"}},
                            {"b", FileStat{"file", 0644, 9, 1000, 1000, 3, ""}}});
  auto l = list_against(encode_ok(to_json(ListStarted{3, body.size(), true})), body);
  ASSERT_TRUE(l.ok()) << l.error().what();
  ASSERT_EQ(l->entries.size(), 3u);
  EXPECT_TRUE(l->truncated);
  EXPECT_EQ(l->entries[1].name, "a/l");
  EXPECT_EQ(l->entries[1].stat.target, "x");
  EXPECT_EQ(l->entries[2].stat.uid, 1000u);
  auto empty = list_against(encode_ok(to_json(ListStarted{0, 0, false})), "");
  ASSERT_TRUE(empty.ok()) << empty.error().what();
  EXPECT_TRUE(empty->entries.empty());
  EXPECT_FALSE(empty->truncated);
}

// An agent that says one thing and sends another fails the call with kProtocol.
TEST(AgentClientTest, ListDirHoldsTheAgentToWhatItAnnounced) {
  std::string one = lines({{"a", FileStat{"file", 0644, 0, 0, 0, 0, ""}}});
  std::string two = one + lines({{"b", FileStat{"file", 0644, 0, 0, 0, 0, ""}}});
  struct Case {
    const char* why;
    std::string response, stream;
  };
  for (const Case& c : std::vector<Case>{
           {"more entries than announced", encode_ok(to_json(ListStarted{1, two.size(), false})), two},
           {"fewer entries than announced", encode_ok(to_json(ListStarted{2, one.size(), false})), one},
           {"more bytes than announced", encode_ok(to_json(ListStarted{2, one.size(), false})), two},
           {"an unterminated line", encode_ok(to_json(ListStarted{1, 5, false})), "{\"a\":"},
           {"announced entries beyond the bound", encode_ok(Json{{"entries", kMaxListEntries + 1}, {"size", 10}}), ""},
           {"no size", encode_ok(Json{{"entries", 0}}), ""},
       }) {
    auto l = list_against(c.response, c.stream);
    ASSERT_FALSE(l.ok()) << c.why;
    EXPECT_EQ(l.error().code(), ErrorCode::kProtocol) << c.why << ": " << l.error().what();
  }
  std::string climbing = "{\"name\":\"../etc/passwd\",\"type\":\"file\"}\n";
  auto l = list_against(encode_ok(to_json(ListStarted{1, climbing.size(), false})), climbing);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().code(), ErrorCode::kProtocol);
  // A line longer than any JSON payload may be is refused before it is buffered whole.
  std::string endless(kMaxControlPayload + 10, 'x');
  auto big = list_against(encode_ok(to_json(ListStarted{1, endless.size(), false})), endless, 4096);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code(), ErrorCode::kProtocol);
}

TEST(AgentClientTest, FileOpsSendTheirRequestsAndCarryErrors) {
  Pair pair = connect_pair();
  auto& agent = pair.agent;
  std::vector<Request> seen;
  std::thread t([&] {
    for (int i = 0; i < 4; ++i) {
      Frame f = agent->read_frame();
      auto r = parse_request(f.payload);
      ASSERT_TRUE(r.ok()) << r.error().what();
      seen.push_back(*r);
      if (i == 3)
        agent->send(FrameType::kResponse, f.channel(), 0,
                    encode_error_response(Error(ErrorCode::kIllegalState, "rmdir /r: not empty", ENOTEMPTY)));
      else
        agent->send(FrameType::kResponse, f.channel(), 0, encode_ok());
    }
  });
  MkdirOptions o;
  o.mode = 0700;
  o.uid = 5;
  o.parents = true;
  EXPECT_TRUE(pair.client->make_dir("/m", o).ok());
  EXPECT_TRUE(pair.client->move("/a", "/b").ok());
  EXPECT_TRUE(pair.client->remove("/f").ok());
  auto st = pair.client->remove("/r", false);
  t.join();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kIllegalState);
  EXPECT_NE(st.error().what().find("not empty"), std::string::npos);
  ASSERT_EQ(seen.size(), 4u);
  const auto& m = std::get<MkdirRequest>(seen[0]);
  EXPECT_EQ(m.mode, 0700u);
  EXPECT_EQ(m.uid, 5u);
  EXPECT_TRUE(m.parents);
  EXPECT_EQ(std::get<MoveRequest>(seen[1]).to, "/b");
  EXPECT_FALSE(std::get<RemoveRequest>(seen[2]).recursive);
}

// Arguments the agent would take as a protocol error (which would end the
// connection) never leave the client.
TEST(AgentClientTest, FileOpsRejectBadArgumentsLocally) {
  Pair pair = connect_pair();
  auto& client = pair.client;
  for (uint32_t depth : {0u, kMaxListDepth + 1}) {
    auto l = client->list_dir("/d", depth);
    ASSERT_FALSE(l.ok());
    EXPECT_EQ(l.error().code(), ErrorCode::kInvalidArgument);
  }
  EXPECT_EQ(client->list_dir("rel").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client->list_dir("/" + std::string(kMaxPath, 'a')).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client->make_dir("").error().code(), ErrorCode::kInvalidArgument);
  MkdirOptions o;
  o.mode = 010000;
  EXPECT_EQ(client->make_dir("/d", o).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client->move("/a", "b").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(client->remove(std::string("/a\0b", 4)).error().code(), ErrorCode::kInvalidArgument);
  // Nothing was sent: the next frame the fake sees is this ping.
  std::thread t([&] {
    Frame f = pair.agent->read_frame();
    ASSERT_TRUE(std::holds_alternative<PingRequest>(*parse_request(f.payload)));
    pair.agent->send(FrameType::kResponse, f.channel(), 0, encode_ok(to_json(PingReply{1})));
  });
  EXPECT_TRUE(client->ping().ok());
  t.join();
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
