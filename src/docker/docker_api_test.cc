#include "docker/docker_api.h"

#include <gtest/gtest.h>

#include "base/json.h"

namespace krunbox::docker {
namespace {

TEST(DockerRoutes, VersionedAndBare) {
  EXPECT_EQ(route_name("GET", "/_ping"), "ping");
  EXPECT_EQ(route_name("HEAD", "/_ping"), "ping");
  EXPECT_EQ(route_name("GET", "/v1.43/version"), "version");
  EXPECT_EQ(route_name("POST", "/v1.50/containers/create"), "create");
  EXPECT_EQ(route_name("GET", "/v1.43/containers/json"), "list");
  EXPECT_EQ(route_name("GET", "/containers/abc/json"), "inspect");
  EXPECT_EQ(route_name("DELETE", "/containers/abc"), "remove");
  EXPECT_EQ(route_name("POST", "/containers/abc/wait"), "wait");
  EXPECT_EQ(route_name("POST", "/containers/abc/stop"), "stop");
  EXPECT_EQ(route_name("PUT", "/containers/abc/archive"), "archive");
  EXPECT_EQ(route_name("HEAD", "/containers/abc/archive"), "archive");
  EXPECT_EQ(route_name("POST", "/exec/abc/start"), "exec-start");
  EXPECT_EQ(route_name("GET", "/images/docker.io/library/busybox/json"), "image-inspect");
  EXPECT_EQ(route_name("DELETE", "/images/busybox:latest"), "image-remove");
  EXPECT_EQ(route_name("POST", "/images/create"), "pull");
}

TEST(DockerRoutes, WrongMethodsAndUnknownPaths) {
  EXPECT_EQ(route_name("POST", "/containers/json"), "!");
  EXPECT_EQ(route_name("GET", "/containers/abc/start"), "!");
  EXPECT_EQ(route_name("GET", "/networks"), "");
  EXPECT_EQ(route_name("GET", "/containers/abc/nope"), "");
  EXPECT_EQ(route_name("GET", "/v1.2/info"), "");
}

TEST(DockerApiHandle, ErrorsAreDockersShape) {
  DockerApi api("0.0.0");
  serve::HttpRequest req;
  req.method = "GET";
  req.path = "/v1.43/networks";
  auto r = api.handle(req);
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(Json::parse(r.body).contains("message"));
  req.path = "/v1.43/containers/%2e%2e/json";
  r = api.handle(req);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(Json::parse(r.body)["message"], "No such container: ..");
  req.method = "HEAD";
  req.path = "/_ping";
  r = api.handle(req);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
}

}  // namespace
}  // namespace krunbox::docker
