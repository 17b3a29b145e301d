// Files in long-lived sandboxes through the library's client
// (sandbox/files_client.h): the sandbox is made by the CLI, as a user would,
// and the test then talks to its monitor as a program linking krunbox would.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/temp_dir.h"
#include "library_env.h"
#include "lifecycle_env.h"
#include "sandbox/files_client.h"
#include "sandbox/lifecycle.h"

namespace krunbox {
namespace {

using lifecycle_test::bundled_rootfs;
using lifecycle_test::lifecycle_of;
using lifecycle_test::trim;
using lifecycle_test::World;
using namespace std::chrono_literals;

// 5 MiB that a dropped or reordered chunk would not survive.
std::string payload() {
  std::string s(5u << 20, '\0');
  uint32_t x = 2463534242u;
  for (auto& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

// Writes, reads back, stats and misses a file in a running sandbox.
void exercise_files(const World& w, const std::string& id) {
  Lifecycle lc = lifecycle_of(w);
  const std::string data = payload();
  auto put = put_file(lc, id, "/tmp/krunbox-files/big.bin", data, {.mode = 0640, .make_parents = true});
  ASSERT_TRUE(put.ok()) << put.error().what();

  auto back = get_file(lc, id, "/tmp/krunbox-files/big.bin");
  ASSERT_TRUE(back.ok()) << back.error().what();
  ASSERT_EQ(back->size(), data.size());
  EXPECT_TRUE(*back == data) << "the file read back differs from the one written";

  auto st = stat_file(lc, id, "/tmp/krunbox-files/big.bin");
  ASSERT_TRUE(st.ok()) << st.error().what();
  EXPECT_EQ(st->type, FileStat::Type::kFile);
  EXPECT_EQ(st->size, data.size());
  EXPECT_EQ(st->mode & 07777, 0640u);
  auto dir = stat_file(lc, id, "/tmp/krunbox-files");
  ASSERT_TRUE(dir.ok()) << dir.error().what();
  EXPECT_EQ(dir->type, FileStat::Type::kDirectory);

  // The workload sees what was written.
  auto sum = w.kb({"exec", id, "--", "wc", "-c", "/tmp/krunbox-files/big.bin"}, "", 300s);
  ASSERT_TRUE(sum.ok());
  EXPECT_NE(sum->out.find(std::to_string(data.size())), std::string::npos) << sum->out << sum->err;

  // Streamed both ways through fds.
  auto tmp = TempDir::create();
  ASSERT_TRUE(tmp.ok());
  std::string src = join_path(tmp->path(), "src"), dst = join_path(tmp->path(), "dst");
  ASSERT_TRUE(write_file_atomic(src, data.substr(0, 1u << 20)).ok());
  {
    UniqueFd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(in.valid());
    auto streamed = put_file_from_fd(lc, id, "/tmp/krunbox-files/small.bin", in.get());
    ASSERT_TRUE(streamed.ok()) << streamed.error().what();
  }
  {
    UniqueFd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    ASSERT_TRUE(out.valid());
    auto n = get_file_to_fd(lc, id, "/tmp/krunbox-files/small.bin", out.get());
    ASSERT_TRUE(n.ok()) << n.error().what();
    EXPECT_EQ(*n, 1u << 20);
  }
  auto copied = read_file(dst, 2u << 20);
  ASSERT_TRUE(copied.ok());
  EXPECT_TRUE(*copied == data.substr(0, 1u << 20));

  // Bounded reads, and clear errors that name the path and the sandbox.
  auto bounded = get_file(lc, id, "/tmp/krunbox-files/big.bin", 1024);
  ASSERT_FALSE(bounded.ok());
  EXPECT_EQ(bounded.error().code(), ErrorCode::kLimitExceeded) << bounded.error().what();

  auto missing = get_file(lc, id, "/no/such/file");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound) << missing.error().what();
  EXPECT_NE(missing.error().what().find("/no/such/file"), std::string::npos) << missing.error().what();
  EXPECT_NE(missing.error().what().find(id.substr(0, 12)), std::string::npos) << missing.error().what();
  auto missing_stat = stat_file(lc, id, "/no/such/file");
  ASSERT_FALSE(missing_stat.ok());
  EXPECT_EQ(missing_stat.error().code(), ErrorCode::kNotFound) << missing_stat.error().what();
  auto no_parent = put_file(lc, id, "/no/such/dir/f", "x");
  ASSERT_FALSE(no_parent.ok());
  EXPECT_NE(no_parent.error().what().find("/no/such/dir/f"), std::string::npos) << no_parent.error().what();
  auto relative = get_file(lc, id, "etc/hostname");
  ASSERT_FALSE(relative.ok());
  EXPECT_EQ(relative.error().code(), ErrorCode::kInvalidArgument);

  // Still usable after all the refusals.
  auto again = get_file(lc, id, "/tmp/krunbox-files/small.bin");
  ASSERT_TRUE(again.ok()) << again.error().what();
  EXPECT_EQ(again->size(), 1u << 20);

  // The tree: make, list, move, remove.
  auto made = make_dir(lc, id, "/tmp/krunbox-files/d/e", {.mode = 0700, .parents = true});
  ASSERT_TRUE(made.ok()) << made.error().what();
  EXPECT_EQ(make_dir(lc, id, "/tmp/krunbox-files/d").error().code(), ErrorCode::kAlreadyExists);
  auto moved = move_path(lc, id, "/tmp/krunbox-files/small.bin", "/tmp/krunbox-files/d/small.bin");
  ASSERT_TRUE(moved.ok()) << moved.error().what();
  auto listing = list_dir(lc, id, "/tmp/krunbox-files", 3);
  ASSERT_TRUE(listing.ok()) << listing.error().what();
  EXPECT_FALSE(listing->truncated);
  std::vector<std::string> names;
  for (const auto& e : listing->entries) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"big.bin", "d", "d/e", "d/small.bin"}));
  ASSERT_EQ(listing->entries.size(), 4u);
  EXPECT_EQ(listing->entries[2].stat.type, FileStat::Type::kDirectory);
  EXPECT_EQ(listing->entries[2].stat.mode & 07777, 0700u);
  EXPECT_EQ(listing->entries[3].stat.size, 1u << 20);
  EXPECT_EQ(remove_path(lc, id, "/tmp/krunbox-files/d").error().code(), ErrorCode::kIllegalState);
  ASSERT_TRUE(remove_path(lc, id, "/tmp/krunbox-files/d", /*recursive=*/true).ok());
  auto after = list_dir(lc, id, "/tmp/krunbox-files");
  ASSERT_TRUE(after.ok()) << after.error().what();
  ASSERT_EQ(after->entries.size(), 1u);
  EXPECT_EQ(after->entries[0].name, "big.bin");
  EXPECT_EQ(list_dir(lc, id, "/tmp/krunbox-files", 0).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(list_dir(lc, id, "/no/such").error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(remove_path(lc, id, "/", true).ok());
}

// `krunbox cp` both ways, as a user types it.
void exercise_cp(const World& w, const std::string& id) {
  auto tmp = TempDir::create();
  ASSERT_TRUE(tmp.ok());
  std::string tree = join_path(tmp->path(), "tree");
  ASSERT_TRUE(make_dirs(join_path(tree, "sub"), 0755).ok());
  ASSERT_TRUE(write_file_atomic(join_path(tree, "top.txt"), "top\n").ok());
  ASSERT_TRUE(write_file_atomic(join_path(tree, "sub/deep.bin"), payload().substr(0, 200000)).ok());
  ::chmod(join_path(tree, "top.txt").c_str(), 0600);
  auto in = w.kb({"cp", tree, id.substr(0, 12) + ":/tmp"}, "", 300s);
  ASSERT_TRUE(in.ok());
  ASSERT_EQ(in->status.code, 0) << in->err;
  auto cat = w.kb({"exec", id, "--", "sh", "-c",
                   "cat /tmp/tree/top.txt; wc -c < /tmp/tree/sub/deep.bin; stat -c %a /tmp/tree/top.txt"});
  ASSERT_TRUE(cat.ok());
  EXPECT_EQ(cat->out, "top\n200000\n600\n") << cat->err;
  // Out again, under a new name, and a single file into a directory.
  ASSERT_EQ(w.kb({"exec", id, "--", "ln", "-s", "top.txt", "/tmp/tree/link"})->status.code, 0);
  std::string back = join_path(tmp->path(), "back");
  auto out = w.kb({"cp", id + ":/tmp/tree", back}, "", 300s);
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out->status.code, 0) << out->err;
  auto deep = read_file(join_path(back, "sub/deep.bin"), 1u << 20);
  ASSERT_TRUE(deep.ok()) << deep.error().what();
  EXPECT_TRUE(*deep == payload().substr(0, 200000));
  char target[64] = {};
  ASSERT_GT(::readlink(join_path(back, "link").c_str(), target, sizeof target - 1), 0);
  EXPECT_STREQ(target, "top.txt");
  ASSERT_EQ(w.kb({"cp", id + ":/tmp/tree/top.txt", tmp->path()})->status.code, 0);
  EXPECT_EQ(read_file(join_path(tmp->path(), "top.txt"), 100).value_or(""), "top\n");
  // Clear refusals.
  auto both_host = w.kb({"cp", tree, join_path(tmp->path(), "x")});
  ASSERT_TRUE(both_host.ok());
  EXPECT_EQ(both_host->status.code, 125);
  EXPECT_NE(both_host->err.find("exactly one side"), std::string::npos) << both_host->err;
  auto relative = w.kb({"cp", id + ":etc/hostname", tmp->path()});
  EXPECT_NE(relative->err.find("absolute"), std::string::npos) << relative->err;
  auto missing = w.kb({"cp", id + ":/no/such", tmp->path()});
  EXPECT_EQ(missing->status.code, 125);
  EXPECT_NE(missing->err.find("/no/such"), std::string::npos) << missing->err;
  ASSERT_EQ(::symlink("/etc/passwd", join_path(tree, "hostlink").c_str()), 0);
  auto link_in = w.kb({"cp", tree, id + ":/tmp/again"});
  EXPECT_EQ(link_in->status.code, 125);
  EXPECT_NE(link_in->err.find("symlink"), std::string::npos) << link_in->err;
}

TEST(LifecycleFilesTest, NativePutGetStat) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for the native backend";
  if (!is_directory(bundled_rootfs())) GTEST_SKIP() << "no bundled rootfs; run scripts/setup.sh";
  World w;
  auto r = w.kb({"run", "-d", "--backend", "native", "--rootfs", bundled_rootfs(), "--", "sleep", "300"});
  ASSERT_TRUE(r.ok());
  if (r->status.code != 0 && r->err.find("not usable") != std::string::npos) GTEST_SKIP() << r->err;
  ASSERT_EQ(r->status.code, 0) << r->err;
  std::string id = trim(r->out);
  exercise_files(w, id);
  exercise_cp(w, id);

  // A stopped sandbox refuses with the reason, in the library's terms.
  ASSERT_EQ(w.kb({"stop", "-t", "0", id})->status.code, 0);
  Lifecycle lc = lifecycle_of(w);
  auto stopped = get_file(lc, id, "/tmp/krunbox-files/small.bin");
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.error().code(), ErrorCode::kIllegalState) << stopped.error().what();
  EXPECT_NE(stopped.error().what().find("is not running"), std::string::npos) << stopped.error().what();
}

TEST(LifecycleFilesTest, QemuPutGetStat) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (!is_directory(bundled_rootfs())) GTEST_SKIP() << "no bundled rootfs; run scripts/setup.sh";
  World w;
  auto r = w.kb({"run", "-d", "--backend", "qemu", "--rootfs", bundled_rootfs(), "--", "sleep", "300"}, "", 900s);
  ASSERT_TRUE(r.ok());
  if (r->status.code != 0 && r->err.find("not usable") != std::string::npos) GTEST_SKIP() << r->err;
  ASSERT_EQ(r->status.code, 0) << r->err;
  exercise_files(w, trim(r->out));
  exercise_cp(w, trim(r->out));
}

}  // namespace
}  // namespace krunbox
