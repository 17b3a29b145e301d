#include "e2b/entry.h"

#include <gtest/gtest.h>

#include "e2b/handler.h"
#include "e2b/process_service.h"

namespace krunbox::e2b {
namespace {

TEST(Entry, GoModeAndPermissions) {
  FileStat dir;
  dir.type = FileStat::Type::kDirectory;
  dir.mode = 0755;
  EXPECT_EQ(go_file_mode(dir), (1u << 31) | 0755u);
  EXPECT_EQ(permissions_string(dir), "drwxr-xr-x");
  FileStat file;
  file.type = FileStat::Type::kFile;
  file.mode = 0640;
  EXPECT_EQ(go_file_mode(file), 0640u);
  EXPECT_EQ(permissions_string(file), "-rw-r-----");
  FileStat link;
  link.type = FileStat::Type::kSymlink;
  link.mode = 0777;
  EXPECT_EQ(permissions_string(link), "Lrwxrwxrwx");
}

TEST(Entry, Json) {
  FileStat st;
  st.type = FileStat::Type::kFile;
  st.mode = 0644;
  st.size = 5;
  st.uid = 1000;
  st.mtime_ns = 1700000000123456789;
  Json j = entry_info("a.txt", "/tmp/a.txt", st);
  EXPECT_EQ(j["type"], "FILE_TYPE_FILE");
  EXPECT_EQ(j["size"], "5");
  EXPECT_EQ(j["owner"], "1000");
  EXPECT_EQ(j["group"], "root");
  EXPECT_EQ(j["modifiedTime"], "2023-11-14T22:13:20.123456789Z");
  EXPECT_FALSE(j.contains("symlinkTarget"));
  EXPECT_EQ(rfc3339(0), "1970-01-01T00:00:00Z");
}

TEST(Entry, Paths) {
  EXPECT_EQ(*resolve_path("/tmp/../etc/./x", ""), "/etc/x");
  EXPECT_EQ(*resolve_path("a/b", ""), "/root/a/b");
  EXPECT_EQ(*resolve_path("a", "user"), "/home/user/a");
  EXPECT_EQ(*resolve_path("/../..", ""), "/");
  EXPECT_FALSE(resolve_path("", "").ok());
  EXPECT_FALSE(resolve_path(std::string("a\0b", 3), "").ok());
}

TEST(Entry, UserOfAuthorization) {
  EXPECT_EQ(user_of_authorization("Basic cm9vdDo="), "root");  // "root:"
  EXPECT_EQ(user_of_authorization("Bearer x"), "");
  EXPECT_EQ(user_of_authorization(""), "");
}

TEST(Process, EndEvents) {
  Json ok = end_event(WorkloadOutcome::exited(0));
  EXPECT_EQ(ok["exitCode"], 0);
  EXPECT_EQ(ok["exited"], true);
  EXPECT_EQ(ok["status"], "exit status 0");
  Json killed = end_event(WorkloadOutcome::signaled(9));
  EXPECT_EQ(killed["exitCode"], -1);
  EXPECT_EQ(killed["exited"], false);
  EXPECT_EQ(killed["status"], "signal: killed");
  Json crashed = end_event(WorkloadOutcome::crashed("vm died"));
  EXPECT_EQ(crashed["error"], "vm died");
}

TEST(Process, ArgvFallsBackToSh) {
  Json config = {{"cmd", "/bin/bash"}, {"args", {"-l", "-c", "echo hi"}}};
  EXPECT_EQ(argv_of(config, true), (std::vector<std::string>{"/bin/bash", "-l", "-c", "echo hi"}));
  EXPECT_EQ(argv_of(config, false), (std::vector<std::string>{"/bin/sh", "-l", "-c", "echo hi"}));
}

TEST(Routing, SandboxFromHeaderOrHost) {
  serve::HttpRequest r;
  r.headers = {{"e2b-sandbox-id", "0123456789abcdef0123"}};
  EXPECT_EQ(sandbox_of_request(r), "0123456789abcdef0123");
  r.headers = {{"Host", "49983-0123456789abcdef0123.sandbox.example.com"}};
  EXPECT_EQ(sandbox_of_request(r), "0123456789abcdef0123");
  r.headers = {{"Host", "api.example.com"}};
  EXPECT_EQ(sandbox_of_request(r), "");
  r.headers = {{"Host", "127.0.0.1:8080"}};
  EXPECT_EQ(sandbox_of_request(r), "");
}

TEST(Routing, ControlPlaneNeedsAKey) {
  E2bHandler h({}, Keys({"e2b_0123456789abcdef0123456789abcdef"}, "secret-secret-secret-secret-secret"));
  serve::HttpRequest r;
  r.method = "GET";
  r.path = "/v2/sandboxes";
  EXPECT_EQ(h.handle(r).status, 401);
  r.headers = {{"X-API-Key", "e2b_ffffffffffffffffffffffffffffffff"}};
  EXPECT_EQ(h.handle(r).status, 401);
  r.path = "/health";
  r.headers.clear();
  EXPECT_EQ(h.handle(r).status, 200);
}

}  // namespace
}  // namespace krunbox::e2b
