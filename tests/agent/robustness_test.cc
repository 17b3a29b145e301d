// Hostile bytes, listening transports and the static binary.
#include <sys/socket.h>
#include <sys/un.h>

#include <thread>

#include "base/fs.h"
#include "base/subprocess.h"
#include "harness.h"
#include "proto/frame.h"

namespace krunbox::testing {
namespace {

using namespace std::chrono_literals;

Result<UniqueFd> connect_unix(const std::string& path) {
  for (int i = 0; i < 200; ++i) {
    UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return s;
    std::this_thread::sleep_for(10ms);
  }
  return Error::from_errno("connect " + path);
}

// Reads frames until EOF; returns the ERROR frames' bodies.
std::vector<std::string> drain_errors(int fd) {
  std::vector<std::string> errors;
  proto::FrameDecoder d;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    size_t off = 0;
    while (off < static_cast<size_t>(n)) {
      off += d.feed(buf + off, static_cast<size_t>(n) - off);
      for (auto f = d.next(); f.ok() && *f; f = d.next())
        if ((*f)->type() == proto::FrameType::kError) errors.push_back((*f)->payload);
    }
  }
  return errors;
}

class ListeningAgent : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create("agent-listen-");
    ASSERT_TRUE(d.ok());
    dir_ = std::move(*d);
    sock_ = dir_.path() + "/agent.sock";
    SpawnOptions so;
    so.env = std::vector<std::string>{"PATH=/usr/bin:/bin", "KRUNBOX_LOG=warn"};
    auto sub = Subprocess::spawn({agent_binary(), "--transport", "unix-listen:" + sock_}, so);
    ASSERT_TRUE(sub.ok()) << sub.error().what();
    agent_ = std::move(sub->process());
  }
  Result<std::unique_ptr<proto::AgentClient>> client() {
    KRUNBOX_ASSIGN_OR_RETURN(UniqueFd fd, connect_unix(sock_));
    return proto::AgentClient::connect(std::move(fd));
  }
  void expect_rejected(const std::string& bytes) {
    auto fd = connect_unix(sock_);
    ASSERT_TRUE(fd.ok());
    ASSERT_TRUE(write_all(fd->get(), bytes.data(), bytes.size()).ok());
    auto errors = drain_errors(fd->get());  // returns when the agent hangs up
    ASSERT_EQ(errors.size(), 1u);
    auto e = proto::parse_error(errors[0]);
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->error.code(), ErrorCode::kProtocol);
    // The agent is still serving.
    auto c = client();
    ASSERT_TRUE(c.ok()) << c.error().what();
    EXPECT_TRUE((*c)->ping().ok());
  }
  TempDir dir_;
  std::string sock_;
  UniquePid agent_;
};

std::string hello() {
  return proto::encode_frame(proto::FrameType::kHello, 0, 0, proto::encode(proto::ClientHello{1, 1, "t"}));
}

TEST_F(ListeningAgent, GarbageGetsAnErrorFrameAndTheAgentStaysUp) {
  expect_rejected(std::string(64, '\xff'));
}

TEST_F(ListeningAgent, OversizedFrameIsRejectedBeforeItsPayload) {
  uint8_t h[proto::kHeaderSize];
  proto::encode_header(proto::FrameHeader{0x7fffffff, proto::FrameType::kData, 0, 1}, h);
  expect_rejected(hello() + std::string(reinterpret_cast<char*>(h), sizeof h));
}

TEST_F(ListeningAgent, InvalidRequestsAndOrderAreRejected) {
  expect_rejected(proto::encode_frame(proto::FrameType::kRequest, 1, 0, "{\"op\":\"ping\"}"));  // before HELLO
  expect_rejected(hello() + proto::encode_frame(proto::FrameType::kRequest, 1, 0, "{not json"));
  expect_rejected(hello() + proto::encode_frame(proto::FrameType::kRequest, 1, 0, "{\"op\":\"exec\",\"argv\":[]}"));
  expect_rejected(hello() + proto::encode_frame(proto::FrameType::kExit, 1, 0, "{\"code\":0}"));
}

TEST_F(ListeningAgent, StdinBeyondTheWindowIsRejected) {
  std::string req = proto::encode_request(cmd({"sleep", "10"}));
  std::string bytes = hello() + proto::encode_frame(proto::FrameType::kRequest, 1, 0, req);
  std::string chunk(proto::kMaxPayload, 'x');
  // sleep never reads: the agent can return at most a pipe's worth (64 KiB) of window.
  bytes += proto::encode_frame(proto::FrameType::kData, 1, 0, chunk);
  bytes += proto::encode_frame(proto::FrameType::kData, 1, 0, chunk);
  expect_rejected(bytes);
}

TEST_F(ListeningAgent, UnknownOpIsAnsweredNotFatal) {
  auto fd = connect_unix(sock_);
  ASSERT_TRUE(fd.ok());
  std::string bytes = hello() + proto::encode_frame(proto::FrameType::kRequest, 1, 0, "{\"op\":\"teleport\"}");
  ASSERT_TRUE(write_all(fd->get(), bytes.data(), bytes.size()).ok());
  proto::FrameDecoder d;
  char buf[4096];
  bool answered = false;
  while (!answered) {
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    ASSERT_GT(n, 0);
    size_t off = 0;
    while (off < static_cast<size_t>(n)) {
      off += d.feed(buf + off, static_cast<size_t>(n) - off);
      for (auto f = d.next(); f.ok() && *f; f = d.next())
        if ((*f)->type() == proto::FrameType::kResponse) {
          auto r = proto::parse_response((*f)->payload);
          ASSERT_TRUE(r.ok());
          ASSERT_FALSE(r->ok());
          EXPECT_EQ(r->error().code(), ErrorCode::kUnsupported);
          answered = true;
        }
    }
  }
}

TEST_F(ListeningAgent, KeptSessionOutlivesItsConnectionAndIsAdopted) {
  auto first = client();
  ASSERT_TRUE(first.ok()) << first.error().what();
  proto::ExecRequest req = sh("echo one; read x; echo got-$x; exit 7");
  req.keep = true;
  auto kept = (*first)->exec(req);
  ASSERT_TRUE(kept.ok()) << kept.error().what();
  auto plain = (*first)->exec(cmd({"sleep", "100"}));
  ASSERT_TRUE(plain.ok()) << plain.error().what();
  char buf[64];
  auto n = (*kept)->read_stdout(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "one\n");
  const uint32_t session = (*kept)->id();
  const int64_t pid = (*kept)->pid();
  const pid_t plain_pid = static_cast<pid_t>((*plain)->pid());
  (*first)->close();  // the host goes; the sessions' objects go after it, cancelling nothing
  kept->reset();
  plain->reset();

  auto second = client();
  ASSERT_TRUE(second.ok()) << second.error().what();
  auto adopted = (*second)->adopt(session);
  ASSERT_TRUE(adopted.ok()) << adopted.error().what();
  EXPECT_EQ((*adopted)->pid(), pid);
  ASSERT_TRUE((*adopted)->write_stdin("x\n").ok());
  n = (*adopted)->read_stdout(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "got-x\n");
  auto exit = (*adopted)->wait();
  ASSERT_TRUE(exit.ok()) << exit.error().what();
  EXPECT_EQ(exit->status.code, 7);
  // A session that was not kept ended with its connection.
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = ::kill(plain_pid, 0) != 0;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone) << "the unkept session's process outlived its connection";
  // Taken once; an unknown session is not_found.
  auto again = (*second)->adopt(session);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE((*second)->adopt(4242).ok());
}

TEST_F(ListeningAgent, SecondHelloBeginsANewHostOnTheSameConnection) {
  auto fd = connect_unix(sock_);
  ASSERT_TRUE(fd.ok());
  proto::ExecRequest req = sh("read x; echo got-$x");
  req.keep = true;
  std::string bytes = hello() + proto::encode_frame(proto::FrameType::kRequest, 3, 0, proto::encode_request(req));
  ASSERT_TRUE(write_all(fd->get(), bytes.data(), bytes.size()).ok());
  // Then a new host speaks on the same connection, as after a restore.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  bytes = hello() + proto::encode_frame(proto::FrameType::kRequest, 1, 0,
                                        proto::encode_request(proto::AdoptRequest{3}));
  ASSERT_TRUE(write_all(fd->get(), bytes.data(), bytes.size()).ok());
  proto::FrameDecoder d;
  int hellos = 0;
  bool adopted = false;
  char buf[4096];
  while (!adopted) {
    ssize_t n = ::read(fd->get(), buf, sizeof buf);
    ASSERT_GT(n, 0) << "the agent hung up";
    size_t off = 0;
    while (off < static_cast<size_t>(n)) {
      off += d.feed(buf + off, static_cast<size_t>(n) - off);
      for (auto f = d.next(); f.ok() && *f; f = d.next()) {
        ASSERT_NE((*f)->type(), proto::FrameType::kError) << (*f)->payload;
        if ((*f)->type() == proto::FrameType::kHello) ++hellos;
        if ((*f)->type() == proto::FrameType::kResponse && (*f)->channel() == 1) {
          auto r = proto::parse_response((*f)->payload);
          ASSERT_TRUE(r.ok());
          ASSERT_TRUE(r->ok()) << r->error().what();
          adopted = true;
        }
      }
    }
  }
  EXPECT_EQ(hellos, 2);
}

TEST_F(ListeningAgent, ServesSeveralConnections) {
  auto a = client();
  auto b = client();
  ASSERT_TRUE(a.ok() && b.ok());
  auto ra = (*a)->run(sh("echo a"));
  auto rb = (*b)->run(sh("echo b"));
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->out, "a\n");
  EXPECT_EQ(rb->out, "b\n");
  // A session dies with its connection.
  auto s = (*a)->exec(sh("sleep 100"));
  ASSERT_TRUE(s.ok());
  pid_t pid = static_cast<pid_t>((*s)->pid());
  a->reset();
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = ::kill(pid, 0) != 0;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(gone);
  EXPECT_TRUE((*b)->ping().ok());
}

TEST(AgentBinary, IsStatic) {
#ifdef KRUNBOX_SANITIZE_BUILD
  GTEST_SKIP() << "the sanitizer build links krunbox-agent dynamically (ASan cannot be static)";
#else
  auto readelf = find_program("readelf");
  if (!readelf) GTEST_SKIP() << "readelf (binutils) is not installed";
  auto headers = run_capture({*readelf, "-l", "-d", agent_binary()});
  ASSERT_TRUE(headers.ok()) << headers.error().what();
  EXPECT_EQ(headers->out.find("INTERP"), std::string::npos) << headers->out;
  EXPECT_EQ(headers->out.find("(NEEDED)"), std::string::npos) << headers->out;
  EXPECT_NE(headers->out.find("LOAD"), std::string::npos) << "readelf printed no program headers";
#endif
}

}  // namespace
}  // namespace krunbox::testing
