// Routing and errors of the /v1 API without the listener: requests that
// never reach a sandbox (no root, no monitor), in a data root of their own.
#include "serve/api.h"

#include <stdlib.h>

#include <gtest/gtest.h>

#include <optional>

#include "base/json.h"
#include "base/temp_dir.h"

namespace krunbox::serve {
namespace {

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tmp = TempDir::create("krunbox-api-");
    ASSERT_TRUE(tmp.ok());
    tmp_ = std::move(*tmp);
    for (const char* var : {"KRUNBOX_ROOT", "KRUNBOX_RUN_DIR"}) {
      const char* old = ::getenv(var);
      saved_.emplace_back(var, old ? std::optional<std::string>(old) : std::nullopt);
    }
    ::setenv("KRUNBOX_ROOT", (tmp_.path() + "/d").c_str(), 1);
    ::setenv("KRUNBOX_RUN_DIR", (tmp_.path() + "/r").c_str(), 1);
  }
  void TearDown() override {
    for (const auto& [var, value] : saved_) {
      if (value) ::setenv(var.c_str(), value->c_str(), 1);
      else ::unsetenv(var.c_str());
    }
  }

  HttpResponse call(std::string method, std::string target, std::string body = "") {
    HttpRequest r;
    r.method = std::move(method);
    size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.body = std::move(body);
    return api_.handle(r);
  }
  // The error code of an error response, after checking its shape.
  static std::string code_of(const HttpResponse& r) {
    auto j = parse_json(r.body, "response");
    EXPECT_TRUE(j.ok()) << r.body;
    if (!j.ok() || !j->is_object() || !j->contains("error")) return "(not an error: " + r.body + ")";
    EXPECT_EQ(j->size(), 1u);
    EXPECT_TRUE((*j)["error"]["message"].is_string());
    return (*j)["error"].value("code", "");
  }

  TempDir tmp_;
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
  Api api_{"9.9.9"};
};

TEST_F(ApiTest, VersionAndHealth) {
  auto v = call("GET", "/v1/version");
  EXPECT_EQ(v.status, 200);
  EXPECT_EQ((*parse_json(v.body, "v"))["version"], "9.9.9");
  auto h = call("GET", "/v1/health");
  EXPECT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(call("POST", "/v1/version").status, 405);
}

TEST_F(ApiTest, EmptyList) {
  auto r = call("GET", "/v1/sandboxes");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "[]");
  EXPECT_EQ(call("GET", "/v1/sandboxes?label=a=b").body, "[]");
  EXPECT_EQ(code_of(call("GET", "/v1/sandboxes?state=running")), "invalid_argument");
}

TEST_F(ApiTest, Routes) {
  for (const char* path : {"/", "/v1", "/v1/", "/v2/version", "/v1/nope", "/v1//sandboxes", "/v1/sandboxes/",
                           "/v1/sandboxes/a/b/c", "/v1/sandboxes/a/reboot", "/v1/version/"}) {
    auto r = call("GET", path);
    EXPECT_EQ(r.status, 404) << path;
    EXPECT_EQ(code_of(r), "no_route") << path;
  }
  auto r = call("PATCH", "/v1/sandboxes");
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Allow", "GET, POST"}));
  EXPECT_EQ(call("PUT", "/v1/sandboxes/abc").status, 405);
  EXPECT_EQ(call("GET", "/v1/sandboxes/abc/stop").status, 405);
}

TEST_F(ApiTest, UnknownAndHostileIds) {
  auto r = call("GET", "/v1/sandboxes/abc");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(code_of(r), "not_found");
  EXPECT_EQ(call("DELETE", "/v1/sandboxes/abc").status, 404);
  EXPECT_EQ(call("POST", "/v1/sandboxes/abc/kill").status, 404);
  for (const char* path : {"/v1/sandboxes/..", "/v1/sandboxes/%2e%2e", "/v1/sandboxes/a%2fb", "/v1/sandboxes/%00",
                           "/v1/sandboxes/%zz", "/v1/sandboxes/-rf", "/v1/sandboxes/..%2f..%2fetc/start"}) {
    auto bad = call(std::string(path).find("start") != std::string::npos ? "POST" : "GET", path);
    EXPECT_EQ(bad.status, 400) << path;
    EXPECT_EQ(code_of(bad), "invalid_argument") << path;
  }
}

TEST_F(ApiTest, BadBodiesAndQueries) {
  EXPECT_EQ(code_of(call("POST", "/v1/sandboxes", "{")), "invalid_argument");
  EXPECT_EQ(code_of(call("POST", "/v1/sandboxes?x=1", "{}")), "invalid_argument");
  // Input is checked before the sandbox is looked up.
  EXPECT_EQ(code_of(call("POST", "/v1/sandboxes/abc/stop?timeout=soon")), "invalid_argument");
  EXPECT_EQ(code_of(call("POST", "/v1/sandboxes/abc/kill?signal=NOPE")), "invalid_argument");
  EXPECT_EQ(code_of(call("POST", "/v1/sandboxes/abc/pause", "junk")), "invalid_argument");
  EXPECT_EQ(code_of(call("POST", "/v1/sandboxes/abc/start", R"({"secrets": 1})")), "invalid_argument");
  EXPECT_EQ(code_of(call("POST", "/v1/sandboxes/abc/pause", "{}")), "not_found");
}

}  // namespace
}  // namespace krunbox::serve
