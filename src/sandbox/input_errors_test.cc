// The sandbox layer's parsers of caller input name the input in their errors
// (Error::field), worded in the library's terms, so front ends can add
// their own spelling; a secret's value never appears in either.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include "backend/capabilities.h"
#include "base/unique_fd.h"
#include "sandbox/host_ports.h"
#include "sandbox/secrets.h"
#include "sandbox/state_store.h"

namespace krunbox {
namespace {

TEST(InputErrorsTest, SecretErrorsNameTheSecretButNeverItsValue) {
  struct Case {
    std::string text;
    std::string field_value;
  };
  for (const Case& c : std::vector<Case>{{"NOEQUALS-hunter2", ""},
                                         {"1A=hunter2", ""},
                                         {"A=hunter2" + std::string(1, '\0'), "A"},
                                         {"A=" + std::string(kMaxSecretBytes + 1, 'h'), "A"},
                                         {"A=@/nonexistent/hunter2", "A"}}) {
    auto s = parse_secret(c.text);
    ASSERT_FALSE(s.ok()) << c.field_value;
    EXPECT_EQ(s.error().field().name, kSecretField);
    EXPECT_EQ(s.error().field().value, c.field_value);
    EXPECT_EQ(s.error().what().find("--secret"), std::string::npos) << s.error().what();
    if (c.text.find('@') == std::string::npos) {
      EXPECT_EQ(s.error().what().find("hunter2"), std::string::npos) << s.error().what();
    }
  }
  auto twice = parse_secrets({"A=1", "A=2"});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().field().value, "A");
  EXPECT_NE(twice.error().what().find("secret A is given twice"), std::string::npos) << twice.error().what();
}

TEST(InputErrorsTest, RestartPolicyErrorNamesTheValue) {
  auto r = parse_restart_policy("sometimes");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().field().name, kRestartField);
  EXPECT_EQ(r.error().field().value, "sometimes");
  EXPECT_EQ(r.error().what().find("--restart"), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find("restart policy 'sometimes'"), std::string::npos) << r.error().what();
}

TEST(InputErrorsTest, ATakenHostPortNamesTheMapping) {
  UniqueFd taken(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(taken);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(taken.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(taken.get(), 1), 0);
  ASSERT_EQ(::getsockname(taken.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  uint16_t port = ntohs(a.sin_port);

  auto r = reserve_host_ports({PortMapping{"127.0.0.1", port, 80, PortProtocol::kTcp}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(r.error().field().name, spec_field::kPorts);
  EXPECT_EQ(r.error().field().value, "127.0.0.1:" + std::to_string(port) + ":80/tcp");
  EXPECT_NE(r.error().what().find("already in use"), std::string::npos) << r.error().what();
  EXPECT_EQ(r.error().what().find("-p"), std::string::npos) << r.error().what();
}

}  // namespace
}  // namespace krunbox
