#include "image/reference.h"

#include <gtest/gtest.h>

#include <vector>

namespace krunbox::image {
namespace {

const std::string kHex(64, 'f');

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(ReferenceTest, NormalizesLikeDocker) {
  auto r = parse_reference("busybox");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->name, "docker.io/library/busybox");
  EXPECT_EQ(r->tag, "latest");
  EXPECT_EQ(r->familiar(), "busybox:latest");
  EXPECT_EQ(r->domain(), "docker.io");
  EXPECT_EQ(r->path(), "library/busybox");
  EXPECT_EQ(parse_reference("foo/bar:1.2")->name, "docker.io/foo/bar");
  auto reg = parse_reference("127.0.0.1:5000/x/y:v1");
  EXPECT_EQ(reg->name, "127.0.0.1:5000/x/y");
  EXPECT_EQ(reg->domain(), "127.0.0.1:5000");
  EXPECT_EQ(reg->path(), "x/y");
  EXPECT_EQ(reg->tag, "v1");
  auto dig = parse_reference("alpine@sha256:" + std::string(64, 'a'));
  ASSERT_TRUE(dig.ok());
  EXPECT_TRUE(dig->tag.empty());
  EXPECT_TRUE(dig->digest.has_value());
  EXPECT_EQ(parse_reference("localhost/app")->name, "localhost/app");
  EXPECT_EQ(parse_reference("index.docker.io/foo")->name, "docker.io/library/foo");
  EXPECT_EQ(parse_reference("docker.io/foo")->name, "docker.io/library/foo");
  EXPECT_EQ(parse_reference("docker.io/library/foo:1")->familiar(), "foo:1");
  EXPECT_EQ(parse_reference("ghcr.io/org/app:1.2@sha256:" + kHex)->str(), "ghcr.io/org/app:1.2@sha256:" + kHex);
  EXPECT_EQ(parse_reference("localhost:5000")->name, "docker.io/library/localhost");  // a tag, as in Docker
}

struct Case {
  std::string input{};
  std::string domain{};  // empty: the case must fail
  std::string path{};
  std::string tag{};
  bool digest = false;
};

// The distribution reference grammar's own test table (reference_test.go),
// seen through Docker's normalisation.
TEST(ReferenceTest, GrammarExamples) {
  std::vector<Case> cases = {
      {"test_com", "docker.io", "library/test_com", "latest"},
      {"test.com:tag", "docker.io", "library/test.com", "tag"},
      {"test.com:5000", "docker.io", "library/test.com", "5000"},
      {"test.com/repo:tag", "test.com", "repo", "tag"},
      {"test:5000/repo", "test:5000", "repo", "latest"},
      {"test:5000/repo:tag", "test:5000", "repo", "tag"},
      {"test:5000/repo@sha256:" + kHex, "test:5000", "repo", "", true},
      {"test:5000/repo:tag@sha256:" + kHex, "test:5000", "repo", "tag", true},
      {"", ""},
      {":justtag", ""},
      {"@sha256:" + kHex, ""},
      {"repo@sha256:" + kHex, "docker.io", "library/repo", "", true},
      {"validname@invaliddigest:" + kHex, ""},
      {"Uppercase:tag", ""},
      {"test:5000/Uppercase/lowercase:tag", ""},
      {"lowercase:Uppercase", "docker.io", "library/lowercase", "Uppercase"},
      {repeat("a/", 127) + "a:tag-puts-this-over-max", "docker.io", repeat("a/", 127) + "a", "tag-puts-this-over-max"},
      {repeat("a/", 128) + "a:tag", ""},
      {"aa/asdf$$^/aa", ""},
      {"sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "bar/baz/quux", "latest"},
      {"sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "bar/baz/quux", "some-long-tag"},
      {"b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "test.example.com/my-app", "test.example.com"},
      {"xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "myimage", "xn--n3h.com"},
      {"foo_bar.com:8080", "docker.io", "library/foo_bar.com", "8080"},
      {"foo/foo_bar.com:8080", "docker.io", "foo/foo_bar.com", "8080"},
      {"192.168.1.1", "docker.io", "library/192.168.1.1", "latest"},
      {"192.168.1.1:tag", "docker.io", "library/192.168.1.1", "tag"},
      {"192.168.1.1:5000", "docker.io", "library/192.168.1.1", "5000"},
      {"192.168.1.1/repo", "192.168.1.1", "repo", "latest"},
      {"192.168.1.1:5000/repo", "192.168.1.1:5000", "repo", "latest"},
      {"192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "repo", "5050"},
      {"[2001:db8::1]", ""},
      {"[2001:db8::1]:5000", ""},
      {"[2001:db8::1]/repo", "[2001:db8::1]", "repo", "latest"},
      {"[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "repo", "tag"},
      {"[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "repo", "latest"},
      {"[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "repo", "tag"},
      {"[2001:db8::]:5000/repo", "[2001:db8::]:5000", "repo", "latest"},
      {"[::1]:5000/repo", "[::1]:5000", "repo", "latest"},
      {"[fe80::1%eth0]:5000/repo", ""},
      {"[fe80::1%@invalidzone]:5000/repo", ""},
      {"foo_bar.com:8080/repo", ""},
      {"1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", ""},
      {"localhost:5000/foo__bar-baz.qux", "localhost:5000", "foo__bar-baz.qux", "latest"},
      {"a/b---c", "docker.io", "a/b---c", "latest"},
  };
  for (const auto& c : cases) {
    auto r = parse_reference(c.input);
    if (c.domain.empty()) {
      EXPECT_FALSE(r.ok()) << c.input << " parsed as " << r->str();
      continue;
    }
    ASSERT_TRUE(r.ok()) << c.input << ": " << r.error().what();
    EXPECT_EQ(r->domain(), c.domain) << c.input;
    EXPECT_EQ(r->path(), c.path) << c.input;
    EXPECT_EQ(r->tag, c.tag) << c.input;
    EXPECT_EQ(r->digest.has_value(), c.digest) << c.input;
  }
}

TEST(ReferenceTest, RejectsInvalid) {
  for (std::string bad : std::vector<std::string>{"", "UPPER", "a//b", "a:", "a:-tag", "a@sha256:xyz", "-a", "a/../b",
                                                  std::string(600, 'a'), "a/", "/a", "a..b", "a___b", "a-_b", "a_-b",
                                                  "a.-b", "a-", "a_", "a.", ":5000/x", "host:/x", "host:99999999/x",
                                                  "ho_st.com/x", "-host.com/x", "host-.com/x", "a b", "a\nb",
                                                  std::string("a\0b", 3), "a:" + std::string(129, 't'), "a@", "a@sha256:",
                                                  "a@sha256:" + std::string(64, 'F'), "a@sha256:" + std::string(63, 'f'),
                                                  "[::1/x", "[zz]/x", "[]/x", "[::1]x/y", "a:b:c", "a@b@sha256:" + kHex,
                                                  // an image ID however the library namespace is spelt
                                                  std::string(64, 'e'), "docker.io/" + std::string(64, 'e'),
                                                  "docker.io/library/" + std::string(64, 'e'),
                                                  "index.docker.io/" + std::string(64, 'e')})
    EXPECT_FALSE(parse_reference(bad).ok()) << bad;
}

TEST(ReferenceTest, LongNamesRoundTripThroughTheirFamiliarForm) {
  // 250 characters as typed fit the 255 limit; normalized (docker.io/ in
  // front) they do not, so the form that parses again is the familiar one.
  std::string typed = "a/" + std::string(248, 'b');
  auto r = parse_reference(typed);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_GT(r->name.size(), 255u);
  auto again = parse_reference(r->familiar());
  ASSERT_TRUE(again.ok()) << again.error().what();
  EXPECT_EQ(again->str(), r->str());
  EXPECT_FALSE(parse_reference("a/" + std::string(254, 'b')).ok());
}

TEST(ReferenceTest, FamiliarNameKeepsDockerIoWhenThePathLooksLikeARegistry) {
  auto r = parse_reference("docker.io/libdocker.io/libr1r1:54J");
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r->familiar(), "docker.io/libdocker.io/libr1r1:54J");
  auto again = parse_reference(r->familiar());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->str(), r->str());
  EXPECT_EQ(familiar_name("docker.io/org/app"), "org/app");
}

TEST(ReferenceTest, ErrorsNeverEchoControlBytes) {
  auto r = parse_reference(std::string("bad\x1b[2Jname\x07"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().what().find('\x1b'), std::string::npos);
}

}  // namespace
}  // namespace krunbox::image
