// put/get/stat and shutdown through the agent, in both launch modes.
#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>

#include <random>
#include <thread>

#include "base/fs.h"
#include "harness.h"
#include "proto/frame.h"

namespace krunbox::testing {
namespace {

using namespace std::chrono_literals;

class AgentFilesTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    if (GetParam() == Mode::kPid1)
      if (auto why = pid1_unavailable(); !why.empty()) GTEST_SKIP() << why;
    auto d = TempDir::create("agent-files-");
    ASSERT_TRUE(d.ok());
    scratch_ = std::move(*d);
  }
  std::unique_ptr<AgentProcess> start(const LaunchOptions& o = {}) {
    auto a = launch(GetParam(), o);
    EXPECT_TRUE(a.ok()) << a.error().what();
    return a.ok() ? std::move(*a) : nullptr;
  }
  // A guest directory the test can also see from the host.
  std::string guest_dir(const AgentProcess& a) {
    if (GetParam() == Mode::kPid1) return "/tmp";
    (void)a;
    return scratch_.path();
  }
  TempDir scratch_;
};

std::string random_bytes(size_t n) {
  std::mt19937_64 rng(12345);
  std::string s(n, '\0');
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, 8);
  }
  return s;
}

TEST_P(AgentFilesTest, PutAndGetRoundTripTenMiB) {
  auto a = start();
  ASSERT_TRUE(a);
  std::string data = random_bytes(10u << 20);
  std::string path = guest_dir(*a) + "/blob.bin";
  proto::PutOptions o;
  o.mode = 0640;
  ASSERT_TRUE(a->client->put_file(path, data, o).ok());
  auto back = a->client->get_file(path);
  ASSERT_TRUE(back.ok()) << back.error().what();
  EXPECT_EQ(back->size(), data.size());
  EXPECT_TRUE(*back == data);
  auto st = a->client->stat(path);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->type, "file");
  EXPECT_EQ(st->size, data.size());
  EXPECT_EQ(st->mode, 0640u);
  // The host sees the same bytes.
  auto host = read_file(a->host_path(path), 32u << 20);
  ASSERT_TRUE(host.ok());
  EXPECT_TRUE(*host == data);
}

TEST_P(AgentFilesTest, PutReplacesAndMakesParents) {
  auto a = start();
  ASSERT_TRUE(a);
  std::string path = guest_dir(*a) + "/a/b/c.txt";
  proto::PutOptions o;
  EXPECT_FALSE(a->client->put_file(path, "x", o).ok());  // no parents
  o.make_parents = true;
  o.uid = 1000;
  o.gid = 77;
  ASSERT_TRUE(a->client->put_file(path, "first", o).ok());
  ASSERT_TRUE(a->client->put_file(path, "second", o).ok());
  EXPECT_EQ(*a->client->get_file(path), "second");
  auto st = a->client->stat(path);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->uid, 1000u);
  EXPECT_EQ(st->gid, 77u);
  auto missing = a->client->get_file(guest_dir(*a) + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  auto dir = a->client->stat(guest_dir(*a) + "/a");
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ(dir->type, "dir");
}

std::vector<std::string> list_dir(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = ::opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d))
    if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
  ::closedir(d);
  return out;
}

TEST_P(AgentFilesTest, PutCutOffMidStreamLeavesNoPartialFile) {
  LaunchOptions raw;
  raw.raw = true;
  auto a = start(raw);
  ASSERT_TRUE(a);
  std::string dir = guest_dir(*a);
  // An existing file must survive a failed replacement untouched.
  ASSERT_TRUE(write_file_atomic(a->host_path(dir + "/keep.txt"), "old").ok());
  int fd = a->host_fd.get();
  auto send = [&](proto::FrameType t, uint32_t ch, uint8_t s, std::string_view p) {
    std::string f = proto::encode_frame(t, ch, s, p);
    ASSERT_TRUE(write_all(fd, f.data(), f.size()).ok());
  };
  send(proto::FrameType::kHello, 0, 0, proto::encode(proto::ClientHello{1, 1, "test"}));
  proto::PutRequest put{dir + "/keep.txt", 0644, 0, 0, false};
  send(proto::FrameType::kRequest, 1, 0, proto::encode_request(put));
  put.path = dir + "/new.txt";
  send(proto::FrameType::kRequest, 3, 0, proto::encode_request(put));
  std::string chunk(256 << 10, 'p');
  send(proto::FrameType::kData, 1, 0, chunk);
  send(proto::FrameType::kData, 3, 0, chunk);
  // Let the agent write the partial data, then hang up without EOF.
  std::this_thread::sleep_for(300ms);
  a->host_fd.reset();
  ASSERT_TRUE(a->wait_exit(10s)) << "agent did not end after losing its only connection";
  EXPECT_EQ(*read_file(a->host_path(dir + "/keep.txt")), "old");
  EXPECT_FALSE(path_exists(a->host_path(dir + "/new.txt")));
  for (const auto& name : list_dir(a->host_path(dir)))
    EXPECT_EQ(name.find("krunbox-"), std::string::npos) << "leftover temp file " << name;
}

TEST_P(AgentFilesTest, ShutdownEndsStragglersWithinTheGrace) {
  auto a = start();
  ASSERT_TRUE(a);
  auto polite = a->client->exec(cmd({"sleep", "1000"}));
  ASSERT_TRUE(polite.ok());
  auto stubborn = a->client->exec(testing::sh("trap '' TERM; echo armed; sleep 1000; sleep 1000"));
  ASSERT_TRUE(stubborn.ok());
  char buf[16];
  auto n = (*stubborn)->read_stdout(buf, sizeof buf);  // the trap is set
  ASSERT_TRUE(n.ok() && *n > 0);
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(a->client->shutdown(500ms).ok());
  auto p = (*polite)->wait_for(5s);
  ASSERT_TRUE(p.ok() && p->has_value()) << (p.ok() ? "no exit" : p.error().what());
  EXPECT_EQ((*p)->status, ExitStatus::killed(SIGTERM));
  auto s = (*stubborn)->wait_for(5s);
  ASSERT_TRUE(s.ok() && s->has_value()) << (s.ok() ? "no exit" : s.error().what());
  EXPECT_EQ((*s)->status, ExitStatus::killed(SIGKILL));
  ASSERT_TRUE(a->wait_exit(5s)) << "agent still running after shutdown";
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 450ms);
  EXPECT_LT(took, 2500ms);
}

INSTANTIATE_TEST_SUITE_P(Modes, AgentFilesTest, ::testing::Values(Mode::kChild, Mode::kPid1), mode_name);

}  // namespace
}  // namespace krunbox::testing
