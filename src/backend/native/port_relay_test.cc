#include "backend/native/port_relay.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "base/test_util.h"

namespace krunbox::native {
namespace {

TEST(PortRelayTest, TakenPortIsAClearError) {
  uint16_t port = 0;
  UniqueFd taken = testing::listen_on_loopback(&port);
  ASSERT_TRUE(taken);
  PortMapping m;
  m.host_port = port;
  m.guest_port = 80;
  auto relay = PortRelay::bind(m);
  ASSERT_FALSE(relay.ok());
  EXPECT_EQ(relay.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(relay.error().what().find("127.0.0.1:" + std::to_string(port) + " is already in use"), std::string::npos)
      << relay.error().what();
}

TEST(PortRelayTest, RefusesUdpAndBadAddresses) {
  PortMapping udp;
  udp.guest_port = 53;
  udp.protocol = PortProtocol::kUdp;
  EXPECT_EQ(PortRelay::bind(udp).error().code(), ErrorCode::kUnsupported);
  PortMapping bad;
  bad.host_ip = "localhost:1";
  bad.guest_port = 1;
  EXPECT_EQ(PortRelay::bind(bad).error().code(), ErrorCode::kInvalidArgument);
}

TEST(PortRelayTest, PortZeroPicksAFreePort) {
  PortMapping m;
  m.guest_port = 80;
  auto relay = PortRelay::bind(m);
  ASSERT_TRUE(relay.ok()) << relay.error().what();
  EXPECT_NE((*relay)->host_port(), 0);
  // Bound and listening before start(): a second bind of that port fails.
  m.host_port = (*relay)->host_port();
  EXPECT_FALSE(PortRelay::bind(m).ok());
}

TEST(PortRelayTest, RelaysBothWaysIntoANetworkNamespace) {
  if (::geteuid() != 0) GTEST_SKIP() << "setns needs CAP_SYS_ADMIN";
  uint16_t guest_port = 0;
  UniqueFd guest = testing::listen_on_loopback(&guest_port);
  ASSERT_TRUE(guest);
  PortMapping m;
  m.guest_port = guest_port;
  auto relay = PortRelay::bind(m);
  ASSERT_TRUE(relay.ok());
  // Our own namespace stands in for the sandbox's: the path through setns is the same.
  UniqueFd netns(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE((*relay)->start(std::move(netns)).ok());

  UniqueFd client = testing::connect_to_loopback((*relay)->host_port());
  ASSERT_TRUE(client);
  UniqueFd server(::accept4(guest.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(server);
  ASSERT_TRUE(write_all(client.get(), "ping", 4).ok());
  char buf[4];
  ASSERT_TRUE(read_exact(server.get(), buf, 4).ok());
  EXPECT_EQ(std::string(buf, 4), "ping");
  ASSERT_TRUE(write_all(server.get(), "pong", 4).ok());
  ASSERT_TRUE(read_exact(client.get(), buf, 4).ok());
  EXPECT_EQ(std::string(buf, 4), "pong");
  // Half-close travels through: the server sees EOF, then still answers.
  ::shutdown(client.get(), SHUT_WR);
  EXPECT_EQ(::read(server.get(), buf, 1), 0);
  ASSERT_TRUE(write_all(server.get(), "bye", 3).ok());
  ASSERT_TRUE(read_exact(client.get(), buf, 3).ok());
  EXPECT_EQ(std::string(buf, 3), "bye");

  // stop() ends live connections too.
  UniqueFd second = testing::connect_to_loopback((*relay)->host_port());
  ASSERT_TRUE(second);
  (*relay)->stop();
  // EOF, or a reset when the connection was still in the listen backlog.
  EXPECT_LE(::read(second.get(), buf, 1), 0);
  EXPECT_FALSE(testing::connect_to_loopback((*relay)->host_port()));
}

TEST(PortRelayTest, GuestNotListeningClosesTheClient) {
  if (::geteuid() != 0) GTEST_SKIP() << "setns needs CAP_SYS_ADMIN";
  uint16_t unused = 0;
  { UniqueFd probe = testing::listen_on_loopback(&unused); }  // a port nobody listens on now
  PortMapping m;
  m.guest_port = unused;
  auto relay = PortRelay::bind(m);
  ASSERT_TRUE(relay.ok());
  ASSERT_TRUE((*relay)->start(UniqueFd(::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC))).ok());
  UniqueFd client = testing::connect_to_loopback((*relay)->host_port());
  ASSERT_TRUE(client);
  char c;
  EXPECT_LE(::read(client.get(), &c, 1), 0);
}

}  // namespace
}  // namespace krunbox::native
