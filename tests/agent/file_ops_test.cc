// list, mkdir, move and remove through the agent, in both launch modes.
#include <fcntl.h>
#include <sys/stat.h>

#include <optional>

#include "base/fs.h"
#include "harness.h"
#include "proto/frame.h"

namespace krunbox::testing {
namespace {

class AgentFileOpsTest : public ::testing::TestWithParam<Mode> {
 protected:
  void SetUp() override {
    if (GetParam() == Mode::kPid1)
      if (auto why = pid1_unavailable(); !why.empty()) GTEST_SKIP() << why;
    auto d = TempDir::create("agent-file-ops-");
    ASSERT_TRUE(d.ok());
    scratch_ = std::move(*d);
    auto a = launch(GetParam());
    ASSERT_TRUE(a.ok()) << a.error().what();
    agent_ = std::move(*a);
    // A guest directory the test can also see from the host.
    base_ = GetParam() == Mode::kPid1 ? "/tmp/ops" : scratch_.path() + "/ops";
    ASSERT_TRUE(make_dirs(host(base_)).ok());
  }
  proto::AgentClient& client() { return *agent_->client; }
  std::string g(const std::string& rel) const { return base_ + "/" + rel; }
  std::string host(const std::string& guest) const { return agent_->host_path(guest); }
  void put(const std::string& rel, std::string_view data = "x") {
    proto::PutOptions o;
    o.make_parents = true;
    auto st = client().put_file(g(rel), data, o);
    ASSERT_TRUE(st.ok()) << st.error().what();
  }

  TempDir scratch_;
  std::unique_ptr<AgentProcess> agent_;
  std::string base_;
};

std::vector<std::string> names(const proto::DirListing& l) {
  std::vector<std::string> out;
  for (const auto& e : l.entries) out.push_back(e.name);
  return out;
}

TEST_P(AgentFileOpsTest, HandshakeOffersTheOps) {
  for (const char* op : {"list", "mkdir", "move", "remove"}) EXPECT_TRUE(client().hello().has(op)) << op;
}

TEST_P(AgentFileOpsTest, MkdirListMoveRemove) {
  proto::MkdirOptions o;
  o.mode = 0750;
  o.uid = 1000;
  o.gid = 77;
  auto orphan = client().make_dir(g("a/b"), o);
  ASSERT_FALSE(orphan.ok());
  EXPECT_EQ(orphan.error().code(), ErrorCode::kNotFound) << orphan.error().what();
  o.parents = true;
  ASSERT_TRUE(client().make_dir(g("a/b"), o).ok());
  auto again = client().make_dir(g("a/b"), {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kAlreadyExists);
  ASSERT_TRUE(client().make_dir(g("a/b"), o).ok());  // -p: already there is fine
  put("a/b/f", "hello");
  put("a/top");
  ASSERT_EQ(::symlink("b/f", host(g("a/link")).c_str()), 0);

  auto one = client().list_dir(g("a"));
  ASSERT_TRUE(one.ok()) << one.error().what();
  EXPECT_EQ(names(*one), (std::vector<std::string>{"b", "link", "top"}));
  EXPECT_FALSE(one->truncated);
  const auto& b = one->entries[0].stat;
  EXPECT_EQ(b.type, "dir");
  EXPECT_EQ(b.mode, 0750u);
  EXPECT_EQ(b.uid, 1000u);
  EXPECT_EQ(b.gid, 77u);
  EXPECT_EQ(one->entries[1].stat.type, "symlink");
  EXPECT_EQ(one->entries[1].stat.target, "b/f");
  auto two = client().list_dir(g("a"), 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(names(*two), (std::vector<std::string>{"b", "b/f", "link", "top"}));
  EXPECT_EQ(two->entries[1].stat.size, 5u);

  ASSERT_TRUE(client().move(g("a/b/f"), g("a/moved")).ok());
  EXPECT_EQ(*client().get_file(g("a/moved")), "hello");
  auto gone = client().stat(g("a/b/f"));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code(), ErrorCode::kNotFound);
  auto missing = client().move(g("a/nope"), g("a/x"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);

  auto not_empty = client().remove(g("a"));
  ASSERT_FALSE(not_empty.ok());
  EXPECT_EQ(not_empty.error().code(), ErrorCode::kIllegalState) << not_empty.error().what();
  ASSERT_TRUE(client().remove(g("a/top")).ok());
  ASSERT_TRUE(client().remove(g("a/b")).ok());  // empty now
  ASSERT_TRUE(client().remove(g("a"), true).ok());
  EXPECT_FALSE(path_exists(host(g("a"))));
  auto twice = client().remove(g("a"), true);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code(), ErrorCode::kNotFound);
}

TEST_P(AgentFileOpsTest, ListErrors) {
  auto missing = client().list_dir(g("nope"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  put("file");
  auto not_dir = client().list_dir(g("file"));
  ASSERT_FALSE(not_dir.ok());
  EXPECT_EQ(not_dir.error().code(), ErrorCode::kInvalidArgument) << not_dir.error().what();
  auto deep = client().list_dir(base_, proto::kMaxListDepth + 1);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.error().code(), ErrorCode::kInvalidArgument);
  // None of that cost the connection.
  EXPECT_TRUE(client().ping().ok());
}

// Symlinks inside the tree point out of it, one of them at the guest's own
// /etc: remove -r takes the links and leaves what they point to.
TEST_P(AgentFileOpsTest, RecursiveRemoveDoesNotFollowSymlinks) {
  put("outside/precious", "keep me");
  put("tree/sub/f");
  ASSERT_EQ(::symlink(g("outside").c_str(), host(g("tree/to-outside")).c_str()), 0);
  ASSERT_EQ(::symlink("/etc", host(g("tree/sub/to-etc")).c_str()), 0);
  auto listing = client().list_dir(g("tree"), proto::kMaxListDepth);
  ASSERT_TRUE(listing.ok());
  EXPECT_EQ(names(*listing), (std::vector<std::string>{"sub", "sub/f", "sub/to-etc", "to-outside"}));
  ASSERT_TRUE(client().remove(g("tree"), true).ok());
  EXPECT_FALSE(path_exists(host(g("tree"))));
  EXPECT_EQ(*client().get_file(g("outside/precious")), "keep me");
  EXPECT_TRUE(client().stat("/etc/passwd").ok());
  auto root = client().remove("/", true);
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.error().code(), ErrorCode::kInvalidArgument);
}

// More entries than a listing may hold: the first 10,000 in order, flagged as
// truncated, and more bytes than the initial window, so the stream needs WINDOWs.
TEST_P(AgentFileOpsTest, BigListingIsTruncatedAndFlowControlled) {
  std::string dir = host(g("many"));
  ASSERT_TRUE(make_dirs(dir).ok());
  std::vector<std::string> expect;
  for (size_t i = 0; i <= proto::kMaxListEntries; ++i) {
    std::string name = "entry-with-a-longish-name-" + std::to_string(100000 + i);
    UniqueFd fd(::open((dir + "/" + name).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd) << name;
    expect.push_back(name);
  }
  expect.pop_back();  // the one past the limit
  auto l = client().list_dir(g("many"));
  ASSERT_TRUE(l.ok()) << l.error().what();
  EXPECT_TRUE(l->truncated);
  EXPECT_EQ(names(*l), expect);
  size_t bytes = 0;
  for (const auto& e : l->entries) bytes += proto::encode_dir_entry(e).size();
  EXPECT_GT(bytes, proto::kInitialWindow);
}

// mkdir's owner is what lets a workload running as that user use the directory.
TEST_P(AgentFileOpsTest, MkdirForAWorkloadUser) {
  proto::MkdirOptions o;
  o.mode = 0700;
  o.uid = 1000;
  o.gid = 1000;
  ASSERT_TRUE(client().make_dir(g("home"), o).ok());
  if (GetParam() == Mode::kChild) ::chmod(scratch_.path().c_str(), 0755);  // mkdtemp made it 0700
  auto req = sh("echo made > " + g("home/f") + " && cat " + g("home/f"));
  req.user = "1000:1000";
  auto r = client().run(req);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->status, ExitStatus::exited(0)) << r->err;
  EXPECT_EQ(r->out, "made\n");
}

INSTANTIATE_TEST_SUITE_P(Modes, AgentFileOpsTest, ::testing::Values(Mode::kChild, Mode::kPid1), mode_name);

// Hostile bytes for the new ops end the connection like any bad request.
TEST(AgentFileOpsRawTest, MalformedFileOpRequestsAreProtocolErrors) {
  for (const char* bad : {R"({"op":"list","path":"/","depth":11})", R"({"op":"mkdir","path":"rel"})",
                          R"({"op":"move","from":"/a"})", R"({"op":"remove","path":"/x","recursive":1})"}) {
    LaunchOptions raw;
    raw.raw = true;
    auto a = launch(Mode::kChild, raw);
    ASSERT_TRUE(a.ok()) << a.error().what();
    int fd = (*a)->host_fd.get();
    std::string bytes =
        proto::encode_frame(proto::FrameType::kHello, 0, 0, proto::encode(proto::ClientHello{1, 1, "test"})) +
        proto::encode_frame(proto::FrameType::kRequest, 1, 0, bad);
    ASSERT_TRUE(write_all(fd, bytes.data(), bytes.size()).ok());
    proto::FrameDecoder d;
    std::optional<Error> error;
    char buf[4096];
    while (!error) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      ASSERT_GT(n, 0) << bad;
      size_t off = 0;
      while (off < static_cast<size_t>(n)) {
        off += d.feed(buf + off, static_cast<size_t>(n) - off);
        for (auto f = d.next(); f.ok() && *f; f = d.next())
          if ((*f)->type() == proto::FrameType::kError) error = proto::parse_error((*f)->payload)->error;
      }
    }
    EXPECT_EQ(error->code(), ErrorCode::kProtocol) << bad;
  }
}

}  // namespace
}  // namespace krunbox::testing
