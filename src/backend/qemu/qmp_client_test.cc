#include "backend/qemu/qmp_client.h"

#include <gtest/gtest.h>

#include <thread>

namespace krunbox {
namespace {

// Plays QEMU's side of a QMP conversation from a script of replies.
void fake_qemu(UniqueFd fd, std::vector<std::string> replies, std::vector<std::string>* received) {
  auto send = [&](const std::string& s) { (void)write_all(fd.get(), s.data(), s.size()); };
  send(R"({"QMP": {"version": {"qemu": {"major": 7}}, "capabilities": []}})" "\n");
  std::string buf;
  char c;
  size_t next = 0;
  while (::read(fd.get(), &c, 1) == 1) {
    if (c != '\n') {
      buf += c;
      continue;
    }
    received->push_back(buf);
    buf.clear();
    if (next < replies.size()) send(replies[next++]);
  }
}

TEST(QmpClientTest, NegotiatesAndSkipsEvents) {
  auto pair = make_socketpair();
  ASSERT_TRUE(pair.ok());
  std::vector<std::string> received;
  std::thread server(fake_qemu, std::move(pair->second),
                     std::vector<std::string>{
                         "{\"return\": {}}\n",
                         "{\"event\": \"STOP\", \"timestamp\": {}}\n{\"return\": {}}\n",
                         "{\"return\": {\"status\": \"paused\", \"running\": false}}\n",
                         "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no such thing\"}}\n",
                     },
                     &received);
  {
    auto qmp = QmpClient::over(std::move(pair->first), std::chrono::seconds(5));
    ASSERT_TRUE(qmp.ok()) << qmp.error().what();
    ASSERT_TRUE(qmp->execute("stop").ok());
    auto status = qmp->execute("query-status");
    ASSERT_TRUE(status.ok());
    EXPECT_EQ((*status)["status"], "paused");
    auto bad = qmp->execute("bogus");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().what().find("no such thing"), std::string::npos);
  }
  server.join();
  ASSERT_EQ(received.size(), 4u);
  EXPECT_EQ(received[0], R"({"execute":"qmp_capabilities"})");
  EXPECT_EQ(received[1], R"({"execute":"stop"})");
}

TEST(QmpClientTest, TimesOutOnSilence) {
  auto pair = make_socketpair();
  auto qmp = QmpClient::over(std::move(pair->first), std::chrono::milliseconds(100));
  ASSERT_FALSE(qmp.ok());
  EXPECT_EQ(qmp.error().code(), ErrorCode::kTimeout);
}

TEST(QmpClientTest, ConnectFailsClearlyWithoutSocket) {
  auto qmp = QmpClient::connect("/nonexistent/krunbox/qmp.sock", std::chrono::milliseconds(50));
  ASSERT_FALSE(qmp.ok());
  EXPECT_NE(qmp.error().what().find("/nonexistent/krunbox/qmp.sock"), std::string::npos);
}

}  // namespace
}  // namespace krunbox
