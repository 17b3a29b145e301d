#include "docker/errors.h"

#include <gtest/gtest.h>

#include "base/json.h"

namespace krunbox::docker {
namespace {

TEST(DockerErrors, NoSuchContainerIs404WithDockersWords) {
  auto r = docker_error(no_such_container("abc"));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Json::parse(r.body)["message"], "No such container: abc");
}

TEST(DockerErrors, StatesAndUnsupported) {
  EXPECT_EQ(docker_error(Error(ErrorCode::kIllegalState, "x")).status, 409);
  EXPECT_EQ(docker_error(Error(ErrorCode::kUnsupported, "x")).status, 400);
  EXPECT_EQ(docker_error(Error(ErrorCode::kLimitExceeded, "x")).status, 400);
  EXPECT_EQ(docker_error(Error(ErrorCode::kInternal, "x")).status, 500);
}

TEST(DockerErrors, InvalidUtf8IsReplaced) {
  auto r = docker_error(400, std::string("bad \xff byte"));
  EXPECT_TRUE(Json::parse(r.body).is_object());
}

}  // namespace
}  // namespace krunbox::docker
