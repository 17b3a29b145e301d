// Hostile layers: every one is rejected with an error naming the entry, or
// extracted with everything confined inside the root. Nothing outside the
// root changes: the canary directory beside it stays byte-for-byte the
// same and none of its files gains a hardlink.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <functional>

#include "base/fs.h"
#include "base/temp_dir.h"
#include "base/unique_fd.h"
#include "image/extract.h"
#include "image/test_tar.h"
#include "tree_snapshot.h"

namespace krunbox::image {
namespace {

using testing::TarBuilder;
using testing::TarSpec;

enum class Outcome { kRejected, kConfined };

struct HostileCase {
  std::string name;
  std::function<std::string(const std::string& canary)> layer;
  Outcome outcome;
  std::string mention;  // text the error must contain (the entry)
  std::function<void(ExtractOptions&)> tweak = nullptr;
  std::function<void(const std::string& root, const std::string& canary)> check = nullptr;
};

std::string tar(const std::function<void(TarBuilder&)>& f) {
  TarBuilder b;
  f(b);
  return b.end().str();
}

std::vector<HostileCase> cases() {
  std::vector<HostileCase> c;
  auto reject = [&](std::string name, std::function<std::string(const std::string&)> layer, std::string mention,
                    std::function<void(ExtractOptions&)> tweak = nullptr) {
    c.push_back({std::move(name), std::move(layer), Outcome::kRejected, std::move(mention), std::move(tweak)});
  };
  auto confine = [&](std::string name, std::function<std::string(const std::string&)> layer,
                     std::function<void(const std::string&, const std::string&)> check) {
    c.push_back({std::move(name), std::move(layer), Outcome::kConfined, "", nullptr, std::move(check)});
  };
  reject("dotdot traversal", [](auto&) { return tar([](auto& b) { b.file("../escape", "x"); }); }, "../escape");
  reject("deep dotdot traversal", [](auto&) { return tar([](auto& b) { b.file("a/b/../../../../escape", "x"); }); }, "a/b/../../../../escape");
  reject("dotdot in GNU long name", [](auto&) {
    return tar([](auto& b) { b.add({.name = std::string(120, 'a') + "/../../../escape", .data = "x", .gnu_long_name = true}); });
  }, "escape");
  reject("pax path overrides a benign name", [](auto&) {
    return tar([](auto& b) { b.add({.name = "benign", .data = "x", .pax = {{"path", "../../pax-escape"}}}); });
  }, "pax-escape");
  confine("absolute path", [](const std::string& canary) { return tar([&](auto& b) { b.file(canary + "/abs", "x"); }); },
          [](const std::string& root, const std::string& canary) { EXPECT_TRUE(path_exists(root + canary + "/abs")); });
  confine("symlink then write through it", [](const std::string& canary) {
    return tar([&](auto& b) { b.symlink("evil", canary).file("evil/pwned", "x"); });
  }, [](const std::string& root, const std::string& canary) { EXPECT_TRUE(path_exists(root + canary + "/pwned")); });
  confine("relative symlink climbing out", [](const std::string&) {
    return tar([&](auto& b) { b.dir("a/").symlink("a/up", "../../../../../../canary").file("a/up/pwned", "x"); });
  }, [](const std::string& root, const std::string&) { EXPECT_TRUE(path_exists(root + "/canary/pwned")); });
  confine("file replaces a symlink to outside", [](const std::string& canary) {
    return tar([&](auto& b) { b.symlink("f", canary + "/secret").file("f", "overwrite"); });
  }, [](const std::string& root, const std::string&) { EXPECT_EQ(*read_file(root + "/f"), "overwrite"); });
  confine("directory replaced by symlink, then written", [](const std::string& canary) {
    return tar([&](auto& b) { b.dir("d/").file("d/x", "1").symlink("d", canary).file("d/y", "2"); });
  }, [](const std::string& root, const std::string& canary) { EXPECT_TRUE(path_exists(root + canary + "/y")); });
  reject("symlink chain deeper than 40", [](auto&) {
    return tar([](auto& b) {
      for (int i = 0; i < 45; ++i) b.symlink("c" + std::to_string(i), "c" + std::to_string(i + 1));
      b.file("c0/x", "x");
    });
  }, "c0/x");
  reject("symlink cycle", [](auto&) { return tar([](auto& b) { b.symlink("a", "b").symlink("b", "a").file("a/x", "x"); }); }, "a/x");
  reject("self-referencing symlink", [](auto&) { return tar([](auto& b) { b.symlink("loop", "loop/x").file("loop/y", "y"); }); }, "loop/y");
  reject("hardlink climbing out", [](auto&) { return tar([](auto& b) { b.hardlink("h", "../../canary/secret"); }); }, "\"h\"");
  reject("hardlink to an absolute host path", [](const std::string& canary) {
    return tar([&](auto& b) { b.hardlink("h", canary + "/secret"); });
  }, "\"h\"");
  reject("hardlink through a symlinked directory", [](const std::string& canary) {
    return tar([&](auto& b) { b.symlink("d", canary).hardlink("h", "d/secret"); });
  }, "\"h\"");
  reject("hardlink via pax linkpath", [](auto&) {
    return tar([](auto& b) { b.add({.name = "h", .type = '1', .link = "ok", .pax = {{"linkpath", "../../../canary/secret"}}}); });
  }, "\"h\"");
  confine("hardlink to a symlink pointing outside", [](const std::string& canary) {
    return tar([&](auto& b) { b.symlink("s", canary + "/secret").hardlink("h", "s").file("h2", "x"); });
  }, [](const std::string& root, const std::string&) {
    struct stat st {};
    ASSERT_EQ(::lstat((root + "/h").c_str(), &st), 0);
    EXPECT_TRUE(S_ISLNK(st.st_mode));
  });
  reject("hardlink to a directory", [](auto&) { return tar([](auto& b) { b.dir("d/").hardlink("h", "d"); }); }, "\"h\"");
  reject("hardlink to a missing file", [](auto&) { return tar([](auto& b) { b.hardlink("h", "nothing"); }); }, "\"h\"");
  reject("whiteout of ..", [](auto&) { return tar([](auto& b) { b.dir("a/").file("a/.wh...", ""); }); }, ".wh...");
  reject("whiteout of .", [](auto&) { return tar([](auto& b) { b.file(".wh..", ""); }); }, ".wh.");
  reject("whiteout with empty name", [](auto&) { return tar([](auto& b) { b.dir("a/").file("a/.wh.", ""); }); }, "a/.wh.");
  reject("entry under a whiteout name", [](auto&) { return tar([](auto& b) { b.file(".wh.x/y", "y"); }); }, ".wh.x/y");
  confine("whiteout through a symlink to outside", [](const std::string& canary) {
    return tar([&](auto& b) { b.symlink("d", canary).file("d/.wh.secret", ""); });
  }, nullptr);
  confine("opaque marker through a symlink to outside", [](const std::string& canary) {
    return tar([&](auto& b) { b.symlink("d", canary).file("d/.wh..wh..opq", ""); });
  }, nullptr);
  reject("character device", [](auto&) { return tar([](auto& b) { b.add({.name = "mem", .type = '3', .dev_major = 1, .dev_minor = 1}); }); }, "mem");
  reject("block device", [](auto&) { return tar([](auto& b) { b.add({.name = "sda", .type = '4', .dev_major = 8, .dev_minor = 0}); }); }, "sda");
  reject("0/0 device posing as a whiteout", [](auto&) { return tar([](auto& b) { b.add({.name = "fake", .type = '3'}); }); }, "fake",
         [](ExtractOptions& o) { o.allow_devices = true; });
  reject("huge declared size", [](auto&) {
    return tar([](auto& b) { b.add({.name = "huge", .data = "tiny", .declared_size = 1LL << 40}); });
  }, "huge");
  reject("gzip bomb over the uncompressed limit", [](auto&) {
    return TarBuilder::gzip(tar([](auto& b) { b.file("zeros", std::string(64 << 20, '\0')); }));
  }, "limit", [](ExtractOptions& o) { o.limits.max_layer_uncompressed_size = 16 << 20; });
  reject("root size over the limit", [](auto&) {
    return tar([](auto& b) { b.file("a", std::string(3000, 'a')).file("b", std::string(3000, 'b')); });
  }, "\"b\"", [](ExtractOptions& o) { o.limits.max_rootfs_size = 5000; });
  reject("too many files", [](auto&) {
    return tar([](auto& b) {
      for (int i = 0; i < 60; ++i) b.file("f" + std::to_string(i), "");
    });
  }, "entries", [](ExtractOptions& o) { o.limits.max_files_per_layer = 50; });
  reject("NUL byte in a pax name", [](auto&) {
    return tar([](auto& b) { b.add({.name = "x", .data = "x", .pax = {{"path", std::string("ok\0/../../evil", 14)}}}); });
  }, "NUL");
  reject("NUL byte in a GNU long name", [](auto&) {
    return tar([](auto& b) { b.add({.name = std::string("long\0", 5) + std::string(120, 'n'), .data = "x", .gnu_long_name = true}); });
  }, "NUL");
  reject("name over PATH_MAX", [](auto&) {
    return tar([](auto& b) { b.add({.name = "x", .data = "x", .pax = {{"path", std::string(5000, 'p')}}}); });
  }, "PATH_MAX");
  reject("truncated archive", [](auto&) {
    std::string t = tar([](auto& b) { b.file("cut", std::string(5000, 'c')); });
    return t.substr(0, 2048);
  }, "cut");
  reject("truncated gzip stream", [](auto&) {
    std::string gz = TarBuilder::gzip(tar([](auto& b) { b.file("z", testing::TarBuilder::gzip(std::string(100000, 'q'))); }));
    return gz.substr(0, gz.size() / 2);
  }, "truncated");
  reject("write below a regular file", [](auto&) { return tar([](auto& b) { b.file("f", "x").file("f/under", "y"); }); }, "f/under");
  reject("GNU sparse entry", [](auto&) { return tar([](auto& b) { b.add({.name = "sparse", .type = 'S', .data = "x"}); }); }, "sparse");
  reject("corrupt header checksum", [](auto&) {
    std::string t = tar([](auto& b) { b.file("ok", "x").file("bad", "y"); });
    t[512 * 2 + 5] ^= 0x20;
    return t;
  }, "checksum");
  confine("forged overlay xattr is dropped", [](auto&) {
    return tar([](auto& b) { b.add({.name = "d", .type = '5', .mode = 0755, .pax = {{"SCHILY.xattr.trusted.overlay.opaque", "y"}}}); });
  }, [](const std::string& root, const std::string&) {
    char v[4];
    EXPECT_LT(::getxattr((root + "/d").c_str(), "trusted.overlay.opaque", v, sizeof v), 0);
  });
  confine("setuid bits stripped when not allowed", [](auto&) {
    return tar([](auto& b) { b.file("su", "x", 06755); });
  }, nullptr);
  c.back().tweak = [](ExtractOptions& o) { o.allow_setid = false; };
  c.back().check = [](const std::string& root, const std::string&) {
    struct stat st {};
    ASSERT_EQ(::stat((root + "/su").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0755u);
  };
  return c;
}

class HostileTest : public ::testing::TestWithParam<HostileCase> {};

std::string listing(const std::string& dir) {
  std::string out;
  auto names = testing::snapshot_tree(dir);
  for (const auto& [p, n] : names)
    if (p.find('/', 1) == std::string::npos) out += p + ",";
  return out;
}

void run_case(const HostileCase& hc, ExtractMode mode) {
  auto tmp = TempDir::create("krunbox-hostile-");
  ASSERT_TRUE(tmp.ok());
  std::string canary = tmp->path() + "/canary";
  std::string work = tmp->path() + "/work";
  std::string root = work + "/root";
  ASSERT_TRUE(make_dirs(canary + "/sub").ok());
  ASSERT_TRUE(write_file_atomic(canary + "/secret", "canary").ok());
  ASSERT_TRUE(write_file_atomic(canary + "/sub/inner", "canary2").ok());
  ASSERT_TRUE(make_dirs(root).ok());
  std::string lower = work + "/lower";
  ASSERT_TRUE(make_dirs(lower).ok());
  auto before = testing::snapshot_tree(canary);
  std::string before_tmp = listing(tmp->path());
  std::string before_work = listing(work);

  ExtractOptions o;
  o.mode = mode;
  o.chown = ::geteuid() == 0;
  o.opaque_xattr = ::geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque";
  if (hc.tweak) hc.tweak(o);
  UniqueFd lower_fd(::open(lower.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (mode == ExtractMode::kOverlay) {
    // A lower layer holding a symlink to the canary, as a base image might.
    ExtractOptions base = o;
    std::string lt = tar([&](auto& b) { b.symlink("lowlink", canary).dir("etc/"); });
    auto r = extract_layer(memory_source(lt), lower_fd.get(), {}, base, nullptr);
    ASSERT_TRUE(r.ok()) << r.error().what();
  }
  std::string layer = hc.layer(canary);
  UniqueFd target(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  std::vector<int> lowers;
  if (mode == ExtractMode::kOverlay) lowers.push_back(lower_fd.get());
  auto r = extract_layer(memory_source(layer), target.get(), lowers, o, nullptr);
  if (hc.outcome == Outcome::kRejected) {
    ASSERT_FALSE(r.ok()) << hc.name << ": the layer was accepted";
    EXPECT_NE(r.error().what().find(hc.mention), std::string::npos) << hc.name << ": error does not mention \"" << hc.mention
                                                                    << "\": " << r.error().what();
  } else {
    ASSERT_TRUE(r.ok()) << hc.name << ": " << r.error().what();
    if (hc.check) hc.check(root, canary);
  }
  EXPECT_EQ(testing::diff_trees(before, testing::snapshot_tree(canary)), "") << hc.name << ": the canary changed";
  struct stat st {};
  ASSERT_EQ(::stat((canary + "/secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 1u) << hc.name << ": a file outside the root gained a hardlink";
  EXPECT_EQ(listing(tmp->path()), before_tmp) << hc.name << ": something was created beside the root";
  EXPECT_EQ(listing(work), before_work) << hc.name;
}

TEST_P(HostileTest, FlatExtraction) { run_case(GetParam(), ExtractMode::kFlat); }
TEST_P(HostileTest, OverlaySnapshot) { run_case(GetParam(), ExtractMode::kOverlay); }

TEST(HostileSuite, HasAtLeast25Cases) { EXPECT_GE(cases().size(), 25u); }

TEST(HostileSuite, LowerLayerSymlinkIsResolvedInsideRoot) {
  auto tmp = TempDir::create("krunbox-hostile-");
  std::string canary = tmp->path() + "/canary", lower = tmp->path() + "/lower", upper = tmp->path() + "/upper";
  for (const auto& d : {canary, lower, upper}) ASSERT_TRUE(make_dirs(d).ok());
  ExtractOptions o;
  o.chown = ::geteuid() == 0;
  o.opaque_xattr = ::geteuid() == 0 ? "trusted.overlay.opaque" : "user.overlay.opaque";
  UniqueFd lfd(::open(lower.c_str(), O_RDONLY | O_DIRECTORY)), ufd(::open(upper.c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_TRUE(extract_layer(memory_source(tar([&](auto& b) { b.symlink("out", canary); })), lfd.get(), {}, o, nullptr).ok());
  auto r = extract_layer(memory_source(tar([&](auto& b) { b.file("out/pwned", "x").hardlink("out/h", "out/pwned"); })), ufd.get(),
                         {lfd.get()}, o, nullptr);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_TRUE(path_exists(upper + canary + "/pwned"));
  EXPECT_FALSE(path_exists(canary + "/pwned"));
  EXPECT_FALSE(path_exists(lower + canary));
}

INSTANTIATE_TEST_SUITE_P(Layers, HostileTest, ::testing::ValuesIn(cases()), [](const auto& param_info) {
  std::string n;
  for (char ch : param_info.param.name) n += isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return n;
});

}  // namespace
}  // namespace krunbox::image
