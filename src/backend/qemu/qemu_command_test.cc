#include "backend/qemu/qemu_command.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace krunbox {
namespace {

QemuMachine machine() {
  QemuMachine m;
  m.assets = {"/a/vmlinux", "/a/initramfs.cpio", "6.1", ""};
  m.root_image = "/d/root.erofs";
  m.agent_socket = "/r/agent.sock";
  m.qmp_socket = "/r/qmp.sock";
  m.console_log = "/r/console.log";
  m.tsc_khz = 2096001;
  m.hostname = "box1";
  return m;
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + " ";
  return s;
}

TEST(QemuCommandTest, MicrovmWithAgentPortAndSeccomp) {
  auto argv = qemu_argv(machine());
  ASSERT_TRUE(argv.ok()) << argv.error().what();
  std::string s = joined(*argv);
  EXPECT_NE(s.find("-M microvm"), std::string::npos);
  EXPECT_NE(s.find("-accel tcg -cpu max"), std::string::npos);
  EXPECT_NE(s.find("-nodefaults -no-user-config"), std::string::npos);
  EXPECT_NE(s.find("virtserialport,chardev=agent,name=krunbox.agent"), std::string::npos);
  EXPECT_NE(s.find("readonly=on"), std::string::npos);
  EXPECT_NE(s.find("-sandbox on,"), std::string::npos);
  EXPECT_NE(s.find("tsc_early_khz=2096001"), std::string::npos);
  EXPECT_EQ(s.find("-netdev"), std::string::npos);                                          // no network unless asked
  EXPECT_NE(s.find("krunbox.modules_file=/etc/krunbox/modules "), std::string::npos) << s;  // nor its drivers
}

TEST(QemuCommandTest, PortsUseRestrictedUserNetworkingOnLoopback) {
  auto m = machine();
  m.ports = {{"127.0.0.1", 8080, 80, PortProtocol::kTcp}};
  auto argv = qemu_argv(m);
  ASSERT_TRUE(argv.ok());
  EXPECT_NE(joined(*argv).find("user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:8080-:80"), std::string::npos);
  EXPECT_NE(joined(*argv).find("krunbox.modules_file=/etc/krunbox/modules-net "), std::string::npos);
  m.outbound_network = true;
  EXPECT_FALSE(qemu_argv(m).ok()) << "outbound networking needs passt's socket";
  m.passt_socket = "/vm/net.sock";
  auto outbound = qemu_argv(m);
  ASSERT_TRUE(outbound.ok()) << outbound.error().message();
  EXPECT_EQ(joined(*outbound).find("restrict=on"), std::string::npos);
  EXPECT_EQ(joined(*outbound).find("hostfwd"), std::string::npos) << "passt publishes the ports";
  EXPECT_NE(joined(*outbound).find("stream,id=net0,server=off,addr.type=unix,addr.path=/vm/net.sock"),
            std::string::npos);
}

TEST(QemuCommandTest, PasstKeepsTheHostLoopbackOutUnlessAskedFor) {
  auto m = machine();
  m.outbound_network = true;
  m.passt_socket = "net.sock";
  m.ports = {{"127.0.0.1", 8080, 80, PortProtocol::kTcp}, {"127.0.0.1", 5353, 53, PortProtocol::kUdp}};
  auto argv = passt_argv("/usr/bin/passt", m, "1000:1000");
  ASSERT_TRUE(argv.ok()) << argv.error().message();
  std::string a = joined(*argv);
  EXPECT_NE(a.find("--no-map-gw"), std::string::npos);
  EXPECT_NE(a.find("--tcp-ports 127.0.0.1/8080:80"), std::string::npos) << a;
  EXPECT_EQ(a.find("5353"), std::string::npos) << "UDP goes through the relay port";
  EXPECT_NE(a.find("--runas 1000:1000"), std::string::npos);
  m.host_loopback = true;
  auto with_loopback = passt_argv("/usr/bin/passt", m, "");
  ASSERT_TRUE(with_loopback.ok());
  EXPECT_EQ(joined(*with_loopback).find("--no-map-gw"), std::string::npos);
  m.ports = {{"::1", 8080, 80, PortProtocol::kTcp}};
  EXPECT_FALSE(passt_argv("/usr/bin/passt", m, "").ok()) << "passt here publishes IPv4 only";
}

TEST(QemuCommandTest, ANetworkDeviceComesWithItsAddressForTheAgent) {
  auto m = machine();
  EXPECT_EQ(qemu_kernel_cmdline(m)->find("krunbox.ip="), std::string::npos);  // no NIC, nothing to configure
  m.ports = {{"127.0.0.1", 8080, 80, PortProtocol::kUdp}};
  auto cmdline = qemu_kernel_cmdline(m);
  ASSERT_TRUE(cmdline.ok());
  EXPECT_NE(cmdline->find(" krunbox.ip=10.0.2.15/24 krunbox.gateway=10.0.2.2 krunbox.dns=10.0.2.3"), std::string::npos)
      << *cmdline;
  m.udp_socket = "/r/udp.sock";
  std::string argv = joined(*qemu_argv(m));
  EXPECT_EQ(argv.find("hostfwd=udp"), std::string::npos) << "UDP goes through the relay port";
  EXPECT_NE(argv.find("virtio-serial-device,max_ports=3"), std::string::npos);
  EXPECT_NE(argv.find("socket,id=udp,path=/r/udp.sock,server=on,wait=off"), std::string::npos);
  EXPECT_NE(argv.find("virtserialport,chardev=udp,name=krunbox.udp"), std::string::npos);
  EXPECT_NE(cmdline->find(" krunbox.udp=krunbox.udp"), std::string::npos);
  m.ports.clear();
  m.outbound_network = true;
  EXPECT_NE(qemu_kernel_cmdline(m)->find(" krunbox.ip=10.0.2.15/24"), std::string::npos);
}

TEST(QemuCommandTest, WithoutARootImageTheAgentStaysInTheInitramfs) {
  auto m = machine();
  EXPECT_NE(qemu_kernel_cmdline(m)->find(" krunbox.root=/dev/vda"), std::string::npos);
  m.root_image.clear();
  EXPECT_EQ(qemu_kernel_cmdline(m)->find("krunbox.root="), std::string::npos);
  auto argv = qemu_argv(m);
  ASSERT_TRUE(argv.ok()) << argv.error().what();
  EXPECT_EQ(joined(*argv).find("virtio-blk-device"), std::string::npos);
}

TEST(QemuCommandTest, KvmUsesHostCpu) {
  auto m = machine();
  m.kvm = true;
  EXPECT_NE(joined(*qemu_argv(m)).find("-accel kvm -cpu host"), std::string::npos);
}

TEST(QemuCommandTest, HostileValuesAreRefused) {
  auto m = machine();
  m.root_image = "/d/x,if=none,file=/etc/shadow";
  EXPECT_FALSE(qemu_argv(m).ok());
  m = machine();
  m.hostname = "x init=/bin/sh";
  auto r = qemu_argv(m);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().what().find("kernel command line"), std::string::npos);
  m = machine();
  m.ports = {{"::1", 8080, 80, PortProtocol::kTcp}};
  EXPECT_FALSE(qemu_argv(m).ok());
}

TEST(QemuCommandTest, GuestLogLevelGoesOnTheCommandLineOnlyWhenSet) {
  auto m = machine();
  EXPECT_EQ(qemu_kernel_cmdline(m)->find("krunbox.log="), std::string::npos);
  m.guest_log_level = "debug";
  EXPECT_NE(qemu_kernel_cmdline(m)->find(" krunbox.log=debug"), std::string::npos);
  m.guest_log_level = "debug rdinit=/bin/sh";
  EXPECT_FALSE(qemu_kernel_cmdline(m).ok());
}

TEST(QemuCommandTest, HostTscIsRead) {
  // Every x86 Linux host reports "cpu MHz"; elsewhere 0 means "no workaround".
  uint64_t khz = host_tsc_khz();
  if (khz == 0) GTEST_SKIP() << "no cpu MHz in /proc/cpuinfo";
  EXPECT_GT(khz, 100000u);
}

}  // namespace
}  // namespace krunbox
