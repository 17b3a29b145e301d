#include "backend/sandbox_spec.h"

#include <gtest/gtest.h>

namespace krunbox {
namespace {

SandboxSpecBuilder base() { return std::move(SandboxSpecBuilder().rootfs("/").command({"/bin/true"})); }

TEST(SandboxSpecTest, DefaultsAreFilled) {
  auto s = base().build();
  ASSERT_TRUE(s.ok()) << s.error().what();
  EXPECT_EQ(s->id.size(), 64u);
  EXPECT_EQ(s->hostname, s->id.substr(0, 12));
  EXPECT_EQ(s->vcpus, 1u);
}

TEST(SandboxSpecTest, LimitsNameTheField) {
  struct Case {
    SandboxSpecBuilder b;
    const char* field;
  };
  std::vector<Case> cases;
  cases.push_back({base().vcpus(0), "cpus"});
  cases.push_back({base().vcpus(1000), "cpus"});
  cases.push_back({base().memory_mib(1), "memory"});
  cases.push_back({base().memory_mib(1u << 30), "memory"});
  cases.push_back({base().env("NOEQUALS"), "env"});
  cases.push_back({base().env("=x"), "env"});
  cases.push_back({base().env(std::string("A=b\0c", 5)), "env"});
  cases.push_back({base().cwd("relative"), "workdir"});
  cases.push_back({base().cwd("/a/../../etc"), "workdir"});
  cases.push_back({base().hostname("bad_host!"), "hostname"});
  cases.push_back({base().hostname("-lead"), "hostname"});
  cases.push_back({base().name("../evil"), "name"});
  cases.push_back({base().id("x/y"), "id"});
  cases.push_back({base().rootfs("/nonexistent/root"), "rootfs"});
  cases.push_back({base().volume({"/tmp", "/", false}), "volume"});
  cases.push_back({base().volume({"/tmp", "rel", false}), "volume"});
  cases.push_back({base().volume({"/tmp", "/a/../b", false}), "volume"});
  cases.push_back({base().volume({"/nonexistent/x", "/a", false}), "volume"});
  cases.push_back({base().volume({"/tmp", "/a", false}).volume({"/tmp", "/a", true}), "volume"});
  cases.push_back({base().port({"127.0.0.1", 8080, 80}).port({"127.0.0.1", 8080, 81}), "port"});
  cases.push_back({base().port({"127.0.0.1", 8080, 0}), "port"});
  cases.push_back({base().command({std::string("a\0b", 3)}), "command"});
  cases.push_back({base().user("../../x"), "user"});
  for (auto& c : cases) {
    auto r = c.b.build();
    ASSERT_FALSE(r.ok()) << c.field;
    EXPECT_TRUE(r.error().code() == ErrorCode::kInvalidArgument || r.error().code() == ErrorCode::kNotFound);
    EXPECT_NE(r.error().what().find(c.field), std::string::npos) << r.error().what();
  }
}

TEST(SandboxSpecTest, EnvSizeLimit) {
  SpecLimits limits;
  limits.max_env_bytes = 100;
  auto r = SandboxSpecBuilder(limits).rootfs("/").env("A=" + std::string(200, 'x')).build();
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().what().find("over the limit of 100"), std::string::npos);
}

TEST(PortMappingTest, Spellings) {
  auto a = parse_port_mapping("8080:80");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, (PortMapping{"127.0.0.1", 8080, 80, PortProtocol::kTcp}));
  auto b = parse_port_mapping("0.0.0.0:53:53/udp");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, (PortMapping{"0.0.0.0", 53, 53, PortProtocol::kUdp}));
  auto c = parse_port_mapping("[::1]:0:80");
  ASSERT_TRUE(c.ok()) << c.error().what();
  EXPECT_EQ(c->host_ip, "::1");
  EXPECT_EQ(c->host_port, 0);
}

TEST(PortMappingTest, ToStringIsReadBackAsTheSameMapping) {
  for (const char* text : {"8080:80", "0.0.0.0:53:53/udp", "[::1]:0:80/tcp"}) {
    auto m = parse_port_mapping(text);
    ASSERT_TRUE(m.ok()) << text;
    auto again = parse_port_mapping(to_string(*m));
    ASSERT_TRUE(again.ok()) << to_string(*m) << ": " << again.error().what();
    EXPECT_EQ(*again, *m) << text;
  }
  EXPECT_EQ(to_string(*parse_port_mapping("8080:80")), "127.0.0.1:8080:80/tcp");
}

TEST(PortMappingTest, HostileInput) {
  for (const char* bad : {"", ":", "80", "a:b", "70000:80", "80:0", "-1:80", "80:80/sctp", "1.2.3:80:80",
                          "999.1.1.1:80:80", "[::1:80:80", "80:80:80:80", "8080 :80", "0x50:80", "80:80/"}) {
    auto r = parse_port_mapping(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad;
    }
  }
}

TEST(VolumeTest, SpellingsAndHostileInput) {
  auto v = parse_volume("/data:/mnt:ro");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, (VolumeMount{"/data", "/mnt", true}));
  EXPECT_FALSE(parse_volume("/data:/mnt").value().read_only);
  for (const char* bad : {"", "/a", "rel:/mnt", "/a:/b:rx", "/a:/b:ro:x", "/a:/b:ro,", "/a:/b:,suid", "/a:/b:exec"})
    EXPECT_FALSE(parse_volume(bad).ok()) << bad;
  auto plain = parse_volume("/data:/mnt");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->allow_suid);
  EXPECT_FALSE(plain->allow_devices);
  auto opted = parse_volume("/data:/mnt:ro,suid,dev");
  ASSERT_TRUE(opted.ok()) << opted.error().what();
  EXPECT_TRUE(opted->read_only);
  EXPECT_TRUE(opted->allow_suid);
  EXPECT_TRUE(opted->allow_devices);
  auto last_wins = parse_volume("/data:/mnt:suid,nosuid,ro,rw");
  ASSERT_TRUE(last_wins.ok());
  EXPECT_FALSE(last_wins->allow_suid);
  EXPECT_FALSE(last_wins->read_only);
  auto err = parse_volume("/a:/b:exec");
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.error().what().find("'exec' is not one of"), std::string::npos) << err.error().what();
}

const char* fake_env(const char* key) { return std::string_view(key) == "HOME" ? "/root" : nullptr; }

TEST(EnvTest, EntriesAndFiles) {
  EXPECT_EQ(**parse_env_entry("A=1", fake_env), "A=1");
  EXPECT_EQ(**parse_env_entry("HOME", fake_env), "HOME=/root");
  EXPECT_FALSE(parse_env_entry("UNSET_THING", fake_env)->has_value());
  EXPECT_FALSE(parse_env_entry("=1", fake_env).ok());
  auto f = parse_env_file("# comment\n\nA=1\r\n  B=two words\n", "env.list");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f, (std::vector<std::string>{"A=1", "B=two words"}));
  auto bad = parse_env_file("A=1\nNOVALUE\n", "env.list");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().what().find("env.list line 2"), std::string::npos);
}

}  // namespace
}  // namespace krunbox
