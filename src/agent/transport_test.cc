#include "agent/transport.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::agent {
namespace {

TEST(TransportTest, FindsVirtioPortByName) {
  auto dir = TempDir::create("sysfs-");
  ASSERT_TRUE(dir.ok());
  std::string ports = dir->path() + "/class/virtio-ports";
  ASSERT_TRUE(make_dirs(ports + "/vport0p1").ok());
  ASSERT_TRUE(make_dirs(ports + "/vport0p2").ok());
  ASSERT_TRUE(write_file_atomic(ports + "/vport0p1/name", "org.qemu.guest_agent.0\n").ok());
  ASSERT_TRUE(write_file_atomic(ports + "/vport0p2/name", "krunbox.agent\n").ok());
  auto p = find_virtio_port("krunbox.agent", dir->path());
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(*p, "/dev/vport0p2");
  EXPECT_EQ(find_virtio_port("other", dir->path()).error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(find_virtio_port("x", dir->path() + "/nothing").ok());
}

TEST(TransportTest, FdTransportDialsOnce) {
  auto sp = make_socketpair();
  ASSERT_TRUE(sp.ok());
  TransportSpec spec;
  spec.kind = TransportKind::kFd;
  spec.fd = sp->first.release();
  auto t = Transport::open(spec);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(t->serves_again());
  auto c = t->dial();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->get(), spec.fd);
  EXPECT_FALSE(t->dial().ok());
  spec.fd = 9999;
  EXPECT_FALSE(Transport::open(spec).ok());
}

TEST(TransportTest, UnixListenAccepts) {
  auto dir = TempDir::create("unix-");
  ASSERT_TRUE(dir.ok());
  auto spec = parse_transport("unix-listen:" + dir->path() + "/s");
  ASSERT_TRUE(spec.ok());
  auto t = Transport::open(*spec);
  ASSERT_TRUE(t.ok()) << t.error().what();
  EXPECT_GE(t->listen_fd(), 0);
  EXPECT_TRUE(t->serves_again());
}

TEST(TransportTest, VsockOpensOrSaysWhy) {
  auto listen = Transport::open(*parse_transport("vsock-listen:47001"));
  if (!listen.ok()) {
    // No vsock here (EAFNOSUPPORT); the error must name what failed.
    EXPECT_NE(listen.error().what().find("vsock"), std::string::npos) << listen.error().what();
  } else {
    EXPECT_GE(listen->listen_fd(), 0);
    EXPECT_TRUE(listen->serves_again());
  }
  // No host listens on this port: dialing fails with an error, and may be retried.
  auto dialer = Transport::open(*parse_transport("vsock-connect:2:47002"));
  ASSERT_TRUE(dialer.ok());
  EXPECT_TRUE(dialer->serves_again());
  auto c = dialer->dial();
  if (!c.ok()) {
    EXPECT_NE(c.error().what().find("vsock"), std::string::npos) << c.error().what();
  }
}

}  // namespace
}  // namespace krunbox::agent
