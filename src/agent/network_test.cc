#include "agent/network.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/config.h"
#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::agent {
namespace {

TEST(GuestNetworkTest, ParsesWhatTheQemuBackendSends) {
  auto n = parse_guest_network("10.0.2.15/24", "10.0.2.2", "10.0.2.3");
  ASSERT_TRUE(n.ok()) << n.error().what();
  EXPECT_EQ(n->prefix, 24u);
  EXPECT_EQ(n->describe(), "10.0.2.15/24 via 10.0.2.2, dns 10.0.2.3");
  auto bare = parse_guest_network("192.168.1.7/32", "", "");
  ASSERT_TRUE(bare.ok());
  EXPECT_FALSE(bare->gateway);
  EXPECT_FALSE(bare->dns);
}

TEST(GuestNetworkTest, RefusesHostileOrBrokenValues) {
  for (const char* ip : {"10.0.2.15", "10.0.2.15/", "10.0.2.15/0", "10.0.2.15/33", "10.0.2.15/24x", "10.0.2/24",
                         "010.0.2.15/24 ", "::1/64", "/24", "10.0.2.15/-1", "a.b.c.d/8"}) {
    auto n = parse_guest_network(ip, "", "");
    EXPECT_FALSE(n.ok()) << ip;
  }
  auto outside = parse_guest_network("10.0.2.15/24", "10.0.3.2", "");
  ASSERT_FALSE(outside.ok());
  EXPECT_NE(outside.error().what().find("outside the guest's subnet"), std::string::npos);
  EXPECT_FALSE(parse_guest_network("10.0.2.15/24", "10.0.2.2", "dns.example").ok());
}

TEST(GuestNetworkTest, BootParamsCarryTheNetwork) {
  AgentConfig c;
  ASSERT_TRUE(apply_boot_params(c, "quiet krunbox.ip=10.0.2.15/24 krunbox.gateway=10.0.2.2 krunbox.dns=10.0.2.3", {})
                  .ok());
  ASSERT_TRUE(c.network);
  EXPECT_EQ(c.network->describe(), "10.0.2.15/24 via 10.0.2.2, dns 10.0.2.3");
  AgentConfig none;
  ASSERT_TRUE(apply_boot_params(none, "quiet", {}).ok());
  EXPECT_FALSE(none.network);
  AgentConfig bad;
  auto st = apply_boot_params(bad, "krunbox.ip=10.0.2.15/99", {});
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().what().find("krunbox.ip"), std::string::npos);
}

TEST(GuestNetworkTest, ResolvConfReplacesASymlinkWithAFile) {
  auto dir = TempDir::create("kb-net-");
  ASSERT_TRUE(dir.ok());
  std::string root = dir->path();
  ASSERT_TRUE(make_dirs(join_path(root, "etc")).ok());
  std::string outside = join_path(root, "stub-resolv.conf");
  ASSERT_TRUE(write_file_atomic(outside, "nameserver 127.0.0.53\n").ok());
  ASSERT_EQ(::symlink(outside.c_str(), join_path(root, "etc/resolv.conf").c_str()), 0);
  auto net = parse_guest_network("10.0.2.15/24", "10.0.2.2", "10.0.2.3");
  ASSERT_TRUE(net.ok());
  ASSERT_TRUE(write_resolv_conf(*net, root).ok());
  struct stat st {};
  ASSERT_EQ(::lstat(join_path(root, "etc/resolv.conf").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_EQ(read_file(join_path(root, "etc/resolv.conf")).value_or(""), "nameserver 10.0.2.3\n");
  EXPECT_EQ(read_file(outside).value_or(""), "nameserver 127.0.0.53\n") << "the symlink's target was written";
}

}  // namespace
}  // namespace krunbox::agent
