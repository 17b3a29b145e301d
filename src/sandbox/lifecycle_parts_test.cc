// The small parts of the lifecycle: frames, secrets, scripts, logs, ports.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"
#include "base/test_util.h"
#include "base/unique_fd.h"
#include "sandbox/host_ports.h"
#include "sandbox/monitor_messages.h"
#include "sandbox/monitor_protocol.h"
#include "sandbox/output_log.h"
#include "sandbox/script_runner.h"
#include "sandbox/secrets.h"

namespace krunbox {
namespace {

TEST(MonitorProtocolTest, FramesRoundTripOverASocket) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  ASSERT_TRUE(monitor::write_frame(a.get(), monitor::FrameType::kRequest, R"({"op":"status"})").ok());
  ASSERT_TRUE(monitor::write_frame(a.get(), monitor::FrameType::kStdout, "").ok());
  a.reset();
  auto f = monitor::read_frame(b.get());
  ASSERT_TRUE(f.ok() && *f);
  EXPECT_EQ((*f)->type, monitor::FrameType::kRequest);
  EXPECT_EQ((*f)->payload, R"({"op":"status"})");
  f = monitor::read_frame(b.get());
  ASSERT_TRUE(f.ok() && *f);
  EXPECT_EQ((*f)->payload, "");
  f = monitor::read_frame(b.get());
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(*f);  // clean EOF
}

TEST(MonitorProtocolTest, HostileHeadersAreRejected) {
  EXPECT_FALSE(monitor::decode_header(std::string("\x63\0\0\0\0", 5)).ok());           // unknown type
  EXPECT_FALSE(monitor::decode_header(std::string("\x01\xff\xff\xff\xff", 5)).ok());  // 4 GiB
  EXPECT_FALSE(monitor::decode_header("Q").ok());
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd a(sv[0]), b(sv[1]);
  ASSERT_TRUE(write_all(a.get(), "Q\0\0\0\x09{}", 7).ok());  // promises 9 bytes, sends 2
  a.reset();
  auto f = monitor::read_frame(b.get());
  EXPECT_FALSE(f.ok());
  EXPECT_FALSE(monitor::parse_reply("[1]").ok());
}

TEST(SecretsTest, ParsesValuesAndFiles) {
  auto d = TempDir::create();
  ASSERT_TRUE(d.ok());
  std::string file = join_path(d->path(), "tok");
  ASSERT_TRUE(write_file_atomic(file, "s3cr=t\n").ok());
  auto s = parse_secrets({"API_KEY=a=b", "TOK=@" + file, "EMPTY="});
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_EQ((*s)[0].value, "a=b");
  EXPECT_EQ((*s)[1].value, "s3cr=t");
  EXPECT_EQ(secret_env(*s)[1], "TOK=s3cr=t");
  auto back = decode_secrets(encode_secrets(*s));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)[1].value, "s3cr=t");
  wipe(*s);
  EXPECT_TRUE(s->empty());
}

TEST(SecretsTest, RejectsHostileInput) {
  for (const char* bad : {"NOEQUALS", "=x", "1A=x", "A B=x", "A-B=x", "A=@/nonexistent/file"})
    EXPECT_FALSE(parse_secret(bad).ok()) << bad;
  EXPECT_FALSE(parse_secret(std::string("A=x\0y", 5)).ok());
  EXPECT_FALSE(parse_secret("A=" + std::string(kMaxSecretBytes + 1, 'x')).ok());
  EXPECT_FALSE(parse_secrets({"A=1", "A=2"}).ok());
  EXPECT_FALSE(decode_secrets("{").ok());
  EXPECT_FALSE(decode_secrets(R"([{"name":1,"value":"x"}])").ok());
  EXPECT_FALSE(decode_secrets(R"({"name":"a"})").ok());
}

TEST(ScriptTest, SkipsBlanksAndComments) {
  auto lines = parse_script("echo one\n\n   # comment\n\t\ncd /tmp\r\n  ls -l # not a comment\nlast");
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 4u);
  EXPECT_EQ((*lines)[0].text, "echo one");
  EXPECT_EQ((*lines)[1].text, "cd /tmp");
  EXPECT_EQ((*lines)[1].line_no, 5u);
  EXPECT_EQ((*lines)[2].text, "  ls -l # not a comment");
  EXPECT_EQ((*lines)[3].text, "last");
  EXPECT_TRUE(parse_script("")->empty());
  EXPECT_TRUE(parse_script("\n\n#x\n")->empty());
}

TEST(ScriptTest, RejectsHostileInput) {
  auto nul = parse_script(std::string("ok\nbad\0line\n", 12));
  ASSERT_FALSE(nul.ok());
  EXPECT_NE(nul.error().what().find("line 2"), std::string::npos);
  EXPECT_FALSE(parse_script(std::string(kMaxScriptLineBytes + 1, 'x')).ok());
  ScriptOptions o;
  o.spec.rootfs = "/nonexistent";
  EXPECT_FALSE(preflight_script(o).ok());
  o.spec.rootfs = "/";
  o.shell = "sh";
  EXPECT_FALSE(preflight_script(o).ok());
  o.shell = "/no/such/shell";
  auto st = preflight_script(o);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().what().find("--shell"), std::string::npos);
}

TEST(OutputLogTest, RotatesAtTheLimitAndTails) {
  auto d = TempDir::create();
  ASSERT_TRUE(d.ok());
  std::string path = join_path(d->path(), "output.log");
  auto log = RotatingLog::open(path, 64);
  ASSERT_TRUE(log.ok());
  std::string all;
  for (int i = 0; i < 40; ++i) {
    std::string line = "line " + std::to_string(i) + "\n";
    all += line;
    ASSERT_TRUE((*log)->write(line).ok());
  }
  EXPECT_LE(read_file(path)->size(), 64u);
  EXPECT_LE(read_file(path + ".1")->size(), 64u);
  auto everything = read_log_tail(path, -1);
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(all.substr(all.size() - everything->size()), *everything);  // the newest bytes, in order
  EXPECT_EQ(*read_log_tail(path, 2), "line 38\nline 39\n");
  EXPECT_EQ(*read_log_tail(path, 0), "");
  EXPECT_EQ(*read_log_tail(join_path(d->path(), "none"), 5), "");
}

TEST(HostPortsTest, PicksFreePortsAndRejectsTakenOnes) {
  auto picked = reserve_host_ports({{"127.0.0.1", 0, 80, PortProtocol::kTcp}, {"127.0.0.1", 0, 53, PortProtocol::kUdp}});
  ASSERT_TRUE(picked.ok()) << picked.error().what();
  EXPECT_NE((*picked)[0].host_port, 0);
  EXPECT_NE((*picked)[1].host_port, 0);

  uint16_t port = 0;
  UniqueFd taken = testing::listen_on_loopback(&port);
  ASSERT_TRUE(taken);
  auto clash = reserve_host_ports({{"127.0.0.1", port, 80, PortProtocol::kTcp}});
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.error().what().find("already in use"), std::string::npos);
  EXPECT_FALSE(reserve_host_ports({{"not-an-ip", 0, 80, PortProtocol::kTcp}}).ok());
}

}  // namespace
}  // namespace krunbox
