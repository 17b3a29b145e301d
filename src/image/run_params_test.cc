#include "image/run_params.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox::image {
namespace {

ImageConfig config() {
  ImageConfig c;
  c.entrypoint = std::vector<std::string>{"/docker-entrypoint.sh"};
  c.cmd = std::vector<std::string>{"nginx", "-g", "daemon off;"};
  c.env = {"PATH=/usr/bin", "NGINX_VERSION=1.25"};
  c.working_dir = "/srv";
  c.user = "nginx";
  return c;
}

TEST(RunParamsTest, ImageDefaults) {
  auto p = resolve_run_params(config(), {}, "nginx");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->argv, (std::vector<std::string>{"/docker-entrypoint.sh", "nginx", "-g", "daemon off;"}));
  EXPECT_EQ(p->env, (std::vector<std::string>{"PATH=/usr/bin", "NGINX_VERSION=1.25"}));
  EXPECT_EQ(p->workdir, "/srv");
  EXPECT_EQ(p->user, "nginx");
}

TEST(RunParamsTest, DockerOverrideRules) {
  RunOverrides o;
  o.args = {"sh"};
  EXPECT_EQ(resolve_run_params(config(), o, "i")->argv, (std::vector<std::string>{"/docker-entrypoint.sh", "sh"}));
  o = {};
  o.entrypoint = "/bin/true";
  EXPECT_EQ(resolve_run_params(config(), o, "i")->argv, (std::vector<std::string>{"/bin/true"}));
  o.entrypoint = "";
  o.args = {"ls", "-l"};
  EXPECT_EQ(resolve_run_params(config(), o, "i")->argv, (std::vector<std::string>{"ls", "-l"}));
  o = {};
  o.env = {"NGINX_VERSION=2", "NEW=1", "PATH"};
  std::string saved_path = ::getenv("PATH") ? ::getenv("PATH") : "";
  ::setenv("PATH", "/from/this/process", 1);  // never consulted
  auto p = resolve_run_params(config(), o, "i");
  ::setenv("PATH", saved_path.c_str(), 1);
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(p->env[0], "NGINX_VERSION=2");
  EXPECT_EQ(p->env.back(), "NEW=1");
  for (const auto& e : p->env) EXPECT_FALSE(e.starts_with("PATH=")) << e;
  o = {};
  o.workdir = "/tmp";
  o.user = "0:0";
  EXPECT_EQ(resolve_run_params(config(), o, "i")->workdir, "/tmp");
  EXPECT_EQ(resolve_run_params(config(), o, "i")->user, "0:0");
  o.workdir = "relative";
  EXPECT_FALSE(resolve_run_params(config(), o, "i").ok());
  ImageConfig empty;
  auto none = resolve_run_params(empty, {}, "scratch");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message().find("scratch"), std::string::npos);
  empty.cmd = std::vector<std::string>{"x"};
  auto def = resolve_run_params(empty, {}, "i");
  EXPECT_EQ(def->env[0], std::string("PATH=") + kDefaultPath);
  EXPECT_EQ(def->workdir, "/");
}

TEST(RunParamsTest, ResolvesUsersInsideRoot) {
  auto dir = TempDir::create();
  ASSERT_TRUE(make_dirs(dir->path() + "/etc").ok());
  ASSERT_TRUE(write_file_atomic(dir->path() + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101::/var/www:/bin/false\n").ok());
  ASSERT_TRUE(write_file_atomic(dir->path() + "/etc/group", "root:x:0:\nnginx:x:101:\nwww:x:33:nginx\n").ok());
  auto u = resolve_user(dir->path(), "nginx");
  ASSERT_TRUE(u.ok()) << u.error().what();
  EXPECT_EQ(u->uid, 101u);
  EXPECT_EQ(u->gid, 101u);
  EXPECT_EQ(u->home, "/var/www");
  EXPECT_EQ(u->groups, std::vector<gid_t>{33});
  EXPECT_EQ(resolve_user(dir->path(), "nginx:www")->gid, 33u);
  EXPECT_EQ(resolve_user(dir->path(), "4242")->uid, 4242u);
  EXPECT_FALSE(resolve_user(dir->path(), "nobody").ok());
  // An /etc/passwd symlinked to an absolute path is read inside the root.
  ASSERT_EQ(::unlink((dir->path() + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(::symlink("/etc/shadow-does-not-exist-here", (dir->path() + "/etc/passwd").c_str()), 0);
  EXPECT_FALSE(resolve_user(dir->path(), "nginx").ok());
}

}  // namespace
}  // namespace krunbox::image
