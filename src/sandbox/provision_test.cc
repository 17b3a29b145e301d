#include "sandbox/provision.h"

#include <stdlib.h>

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/temp_dir.h"
#include "base/test_util.h"
#include "image/test_layout.h"

namespace krunbox {
namespace {

using image::testing::LayoutBuilder;
using image::testing::TarBuilder;

// A data root of its own (KRUNBOX_ROOT) holding one image, "app:1".
class ProvisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto tmp = TempDir::create("krunbox-provision-");
    ASSERT_TRUE(tmp.ok()) << tmp.error().what();
    tmp_ = std::move(*tmp);
    const char* old = ::getenv("KRUNBOX_ROOT");
    saved_root_ = old ? std::optional<std::string>(old) : std::nullopt;
    ::setenv("KRUNBOX_ROOT", (tmp_.path() + "/data").c_str(), 1);
    LayoutBuilder b(tmp_.path() + "/layout");
    b.image({TarBuilder().dir("bin/").file("bin/sh", "shell", 0755).dir("w/").end().str()},
            {{"Entrypoint", {"/ep"}}, {"Cmd", {"default"}}, {"Env", {"A=1", "B=2"}}, {"WorkingDir", "w"},
             {"User", "5"}},
            "1");
    auto store = open_image_store();
    ASSERT_TRUE(store.ok()) << store.error().what();
    image::LoadOptions load;
    load.name = "app";
    ASSERT_TRUE((*store)->load(b.dir(), load).ok());
  }
  void TearDown() override {
    if (saved_root_) ::setenv("KRUNBOX_ROOT", saved_root_->c_str(), 1);
    else ::unsetenv("KRUNBOX_ROOT");
  }
  std::string roots_dir() const { return tmp_.path() + "/data/roots"; }
  static ProvisionRequest image_request() {
    ProvisionRequest r;
    r.image = "app:1";
    r.pull = image::PullPolicy::kNever;
    return r;
  }

  TempDir tmp_;
  std::optional<std::string> saved_root_;
};

TEST_F(ProvisionTest, DockerOverrideRules) {
  ProvisionRequest r = image_request();
  auto p = provision(r);
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(p->spec.argv, (std::vector<std::string>{"/ep", "default"}));
  EXPECT_EQ(p->spec.cwd, "/w");
  EXPECT_EQ(p->spec.user, "5");

  r.command = {"x", "y"};
  p = provision(r);
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(p->spec.argv, (std::vector<std::string>{"/ep", "x", "y"}));

  // An entrypoint override drops the image's Cmd too; "" clears it.
  r.command = {};
  r.entrypoint = "/other";
  p = provision(r);
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(p->spec.argv, (std::vector<std::string>{"/other"}));
  r.entrypoint = "";
  r.command = {"ls", "-l"};
  r.workdir = "/tmp";
  r.user = "0:0";
  p = provision(r);
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(p->spec.argv, (std::vector<std::string>{"ls", "-l"}));
  EXPECT_EQ(p->spec.cwd, "/tmp");
  EXPECT_EQ(p->spec.user, "0:0");

  r.entrypoint = "";
  r.command = {};
  auto none = provision(r);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().what().find("app:1"), std::string::npos) << none.error().what();
}

TEST_F(ProvisionTest, EnvironmentNeverComesFromThisProcess) {
  ::setenv("B", "from-the-host", 1);
  ProvisionRequest r = image_request();
  r.env = {"A=9", "B", "C=3"};
  auto p = provision(r);
  ::unsetenv("B");
  ASSERT_TRUE(p.ok()) << p.error().what();
  const auto& env = p->spec.env;
  EXPECT_NE(std::find(env.begin(), env.end(), "A=9"), env.end());
  EXPECT_NE(std::find(env.begin(), env.end(), "C=3"), env.end());
  for (const auto& e : env) EXPECT_FALSE(e.starts_with("B=")) << e;
  r.env = {"=x"};
  EXPECT_FALSE(provision(r).ok());
  r.env = {std::string("K=a\0b", 5)};
  EXPECT_FALSE(provision(r).ok());
}

TEST_F(ProvisionTest, TheBaseSpecPassesAndProvisioningOwnsTheRest) {
  ProvisionRequest r = image_request();
  r.base.name = "web";
  r.base.vcpus = 2;
  r.base.memory_mib = 256;
  r.base.ports.push_back(PortMapping{"127.0.0.1", 8080, 80, PortProtocol::kTcp});
  r.base.argv = {"ignored"};
  r.base.rootfs = "/ignored";
  r.base.id = "ignored";
  auto p = provision(r);
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(p->spec.name, "web");
  EXPECT_EQ(p->spec.vcpus, 2u);
  EXPECT_EQ(p->spec.memory_mib, 256u);
  ASSERT_EQ(p->spec.ports.size(), 1u);
  EXPECT_EQ(p->spec.argv, (std::vector<std::string>{"/ep", "default"}));
  EXPECT_NE(p->spec.id, "ignored");
  EXPECT_EQ(p->spec.rootfs, p->root.path());
  EXPECT_TRUE(p->spec.rootfs_is_private);
  EXPECT_EQ(p->image, "app:1");
  EXPECT_EQ(p->image_label(), "app:1");
  EXPECT_TRUE(p->image_digest.starts_with("sha256:"));
}

TEST_F(ProvisionTest, TheRootGoesWithThePreparedSandbox) {
  {
    auto p = provision(image_request());
    ASSERT_TRUE(p.ok()) << p.error().what();
    ASSERT_TRUE(is_directory(p->root.path()));
    EXPECT_EQ(krunbox::testing::dir_entries(roots_dir()).size(), 1u);
  }
  EXPECT_TRUE(krunbox::testing::dir_entries(roots_dir()).empty());
}

TEST_F(ProvisionTest, BadInputCostsNoRoot) {
  ProvisionRequest r = image_request();
  r.base.name = "bad name/..";
  EXPECT_FALSE(provision(r).ok());
  r = image_request();
  r.base.vcpus = 100000;
  auto too_many = provision(r);
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.error().what().find("cpus"), std::string::npos) << too_many.error().what();
  r = image_request();
  r.workdir = "relative";
  EXPECT_FALSE(provision(r).ok());
  EXPECT_TRUE(krunbox::testing::dir_entries(roots_dir()).empty());
}

TEST_F(ProvisionTest, PullPolicyNeverFindsOnlyTheStore) {
  ProvisionRequest r = image_request();
  r.image = "registry.invalid/nothing:1";
  auto missing = provision(r);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound) << missing.error().what();
  EXPECT_NE(missing.error().what().find("registry.invalid/nothing:1"), std::string::npos) << missing.error().what();
}

TEST_F(ProvisionTest, TheDefaultImageNeedsTheBundledLayout) {
  ProvisionRequest r;
  r.pull = image::PullPolicy::kNever;
  auto p = provision(r);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().what().find("scripts/setup.sh"), std::string::npos) << p.error().what();
}

TEST_F(ProvisionTest, RootDirectories) {
  std::string dir = tmp_.path() + "/rootfs";
  ASSERT_TRUE(make_dirs(dir).ok());
  ProvisionRequest r;
  r.rootfs = dir;
  r.env = {"A=1", "UNSET_BARE"};
  auto p = provision(r);
  ASSERT_TRUE(p.ok()) << p.error().what();
  EXPECT_EQ(p->spec.argv, (std::vector<std::string>{"/bin/sh"}));
  EXPECT_EQ(p->spec.env, (std::vector<std::string>{"A=1"}));
  EXPECT_EQ(p->spec.cwd, "/");
  EXPECT_TRUE(p->root.empty());
  EXPECT_EQ(p->image_label(), "rootfs:" + dir);

  r.entrypoint = "/x";
  EXPECT_FALSE(provision(r).ok());
  r.entrypoint.reset();
  r.image = "app:1";
  EXPECT_FALSE(provision(r).ok());
  r.image.clear();
  r.rootfs = dir + "/missing";
  auto missing = provision(r);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST(CheckLabelsTest, HostileLabels) {
  EXPECT_TRUE(check_labels({{"app", "web"}, {"io.krunbox.x", ""}}).ok());
  EXPECT_FALSE(check_labels({{"", "v"}}).ok());
  EXPECT_FALSE(check_labels({{"a b", "v"}}).ok());
  EXPECT_FALSE(check_labels({{"a=b", "v"}}).ok());
  EXPECT_FALSE(check_labels({{"\x1b[2J", "v"}}).ok());
  EXPECT_FALSE(check_labels({{std::string(129, 'k'), "v"}}).ok());
  EXPECT_FALSE(check_labels({{"k", std::string(4097, 'v')}}).ok());
  EXPECT_FALSE(check_labels({{"k", std::string("a\0b", 3)}}).ok());
  EXPECT_FALSE(check_labels({{"k", "a\nb"}}).ok());
  std::map<std::string, std::string> many;
  for (int i = 0; i < 65; ++i) many["k" + std::to_string(i)] = "v";
  EXPECT_FALSE(check_labels(many).ok());
}

}  // namespace
}  // namespace krunbox
