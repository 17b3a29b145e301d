#include "agent/config.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::agent {
namespace {

Result<AgentConfig> parse(std::vector<const char*> args) {
  args.insert(args.begin(), "krunbox-agent");
  return parse_args(static_cast<int>(args.size()), args.data());
}

TEST(ConfigTest, ParsesTransports) {
  auto a = parse_transport("fd:3");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->kind, TransportKind::kFd);
  EXPECT_EQ(a->fd, 3);
  auto b = parse_transport("vsock-connect:1024");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->cid, 2u);
  EXPECT_EQ(b->port, 1024u);
  auto c = parse_transport("vsock-connect:3:99");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->cid, 3u);
  EXPECT_EQ(parse_transport("virtio-serial:krunbox.agent")->name, "krunbox.agent");
  EXPECT_EQ(parse_transport("vsock-listen:5")->describe(), "vsock-listen:5");
  for (const char* bad :
       {"fd", "fd:x", "fd:-1", "tcp:80", "virtio-serial:", "virtio-serial:a/b", "unix-listen:rel", "vsock-listen:"})
    EXPECT_FALSE(parse_transport(bad).ok()) << bad;
}

TEST(ConfigTest, ParsesFlags) {
  auto c = parse({"--fd", "3", "--load-modules=/a.ko,/b.ko", "--hostname", "box", "--shutdown-action", "exit",
                  "--no-init", "--log-level", "debug"});
  ASSERT_TRUE(c.ok()) << c.error().what();
  EXPECT_EQ(c->transport->fd, 3);
  EXPECT_EQ(c->modules, (std::vector<std::string>{"/a.ko", "/b.ko"}));
  EXPECT_EQ(c->hostname, "box");
  EXPECT_EQ(c->shutdown_action, proto::ShutdownAction::kExit);
  EXPECT_EQ(c->init, InitMode::kOff);
  EXPECT_EQ(*c->log_level, LogLevel::kDebug);
  EXPECT_FALSE(parse({"--bogus"}).ok());
  EXPECT_FALSE(parse({"--fd"}).ok());
  EXPECT_FALSE(parse({"--shutdown-action", "explode"}).ok());
}

TEST(ConfigTest, BootParamsFillOnlyWhatFlagsLeftUnset) {
  AgentConfig c;
  c.hostname = "fromflag";
  ASSERT_TRUE(apply_boot_params(c,
                                "console=ttyS0 krunbox.transport=virtio-serial:krunbox.agent "
                                "krunbox.hostname=fromcmdline krunbox.modules=/m1.ko,/m2.ko quiet",
                                {"KRUNBOX_AGENT_LOG=debug", "KRUNBOX_AGENT_TRANSPORT=fd:9"})
                  .ok());
  EXPECT_EQ(c.transport->kind, TransportKind::kVirtioSerial);
  EXPECT_EQ(c.hostname, "fromflag");
  EXPECT_EQ(c.modules.size(), 2u);
  EXPECT_EQ(*c.log_level, LogLevel::kDebug);
  AgentConfig d;
  ASSERT_TRUE(apply_boot_params(d, "", {"KRUNBOX_AGENT_TRANSPORT=fd:9"}).ok());
  EXPECT_EQ(d.transport->fd, 9);
  AgentConfig e;
  EXPECT_FALSE(apply_boot_params(e, "krunbox.transport=nope", {}).ok());
}

TEST(ConfigTest, ModulesFileKeepsOrderAndSkipsComments) {
  auto dir = TempDir::create("cfg-");
  ASSERT_TRUE(dir.ok());
  std::string f = dir->path() + "/modules";
  ASSERT_TRUE(write_file_atomic(f, "# virtio\n/lib/a.ko\n\n  /lib/b.ko.xz  \n#x\n/lib/c.ko").ok());
  AgentConfig c;
  c.modules = {"/first.ko"};
  c.modules_file = f;
  ASSERT_TRUE(load_modules_file(c).ok());
  EXPECT_EQ(c.modules, (std::vector<std::string>{"/first.ko", "/lib/a.ko", "/lib/b.ko.xz", "/lib/c.ko"}));
  c.modules_file = dir->path() + "/missing";
  EXPECT_FALSE(load_modules_file(c).ok());
}

TEST(ConfigTest, ModuleEntriesCarryTheirParameters) {
  auto e = parse_module_entry("  /lib/modules/virtio_blk.ko   queue_depth=64 foo=\"a b\"  ");
  EXPECT_EQ(e.path, "/lib/modules/virtio_blk.ko");
  EXPECT_EQ(e.params, "queue_depth=64 foo=\"a b\"");
  e = parse_module_entry("/lib/a.ko");
  EXPECT_EQ(e.path, "/lib/a.ko");
  EXPECT_EQ(e.params, "");
  e = parse_module_entry("\t/lib/b.ko\t");
  EXPECT_EQ(e.path, "/lib/b.ko");
  EXPECT_EQ(e.params, "");
  EXPECT_EQ(parse_module_entry("   ").path, "");
}

}  // namespace
}  // namespace krunbox::agent
