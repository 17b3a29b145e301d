// The double itself answers like libkrun.md says libkrun does: these are the
// rules krunbox's calls are checked against.
#include <dlfcn.h>

#include <cerrno>
#include <cstdint>

#include <gtest/gtest.h>

namespace krunbox {
namespace {

class DoubleApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    handle_ = ::dlopen(LIBKRUN_DOUBLE_PATH, RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(handle_, nullptr) << ::dlerror();
  }
  template <typename Fn>
  Fn sym(const char* name) {
    auto f = reinterpret_cast<Fn>(::dlsym(handle_, name));
    EXPECT_NE(f, nullptr) << name;
    return f;
  }
  void* handle_ = nullptr;
};

TEST_F(DoubleApiTest, ValidatesArgumentsLikeLibkrun) {
  auto create = sym<int32_t (*)()>("krun_create_ctx");
  auto vm = sym<int32_t (*)(uint32_t, uint8_t, uint32_t)>("krun_set_vm_config");
  auto port_map = sym<int32_t (*)(uint32_t, const char* const*)>("krun_set_port_map");
  auto rlimits = sym<int32_t (*)(uint32_t, const char* const*)>("krun_set_rlimits");
  auto root = sym<int32_t (*)(uint32_t, const char*)>("krun_set_root");
  auto vsock = sym<int32_t (*)(uint32_t, uint32_t, const char*)>("krun_add_vsock_port");
  auto console = sym<int32_t (*)(uint32_t, const char*)>("krun_set_console_output");
  auto net = sym<int32_t (*)(uint32_t, const char*, int, uint8_t*, uint32_t, uint32_t)>("krun_add_net_unixstream");
  auto start = sym<int32_t (*)(uint32_t)>("krun_start_enter");
  auto feature = sym<int32_t (*)(uint64_t)>("krun_has_feature");

  int32_t ctx = create();
  ASSERT_GE(ctx, 0);
  EXPECT_EQ(vm(ctx, 0, 512), -EINVAL);
  EXPECT_EQ(vm(ctx, 1, 0), -EINVAL);
  EXPECT_EQ(vm(ctx, 1, 512), 0);
  EXPECT_EQ(vm(9999, 1, 512), -ENOENT);
  EXPECT_EQ(port_map(ctx, nullptr), -EINVAL);
  const char* bad_map[] = {"80", nullptr};
  EXPECT_EQ(port_map(ctx, bad_map), -EINVAL);
  const char* good_map[] = {"18080:80", nullptr};
  EXPECT_EQ(port_map(ctx, good_map), 0);
  EXPECT_EQ(rlimits(ctx, nullptr), -EINVAL);
  const char* named[] = {"NOFILE=1:2", nullptr};
  EXPECT_EQ(rlimits(ctx, named), -EINVAL);  // the ID is numeric
  const char* numeric[] = {"7=1024:4096", nullptr};
  EXPECT_EQ(rlimits(ctx, numeric), 0);
  EXPECT_EQ(root(ctx, "/tmp/\xff\xfe"), -EINVAL);  // not UTF-8
  EXPECT_EQ(vsock(ctx, 5000, "/tmp/a.sock"), 0);
  EXPECT_EQ(vsock(ctx, 5001, "/tmp/a.sock"), -EINVAL);  // duplicate path
  EXPECT_EQ(console(ctx, "/dev/null"), 0);
  EXPECT_EQ(console(ctx, "/dev/null"), -EINVAL);  // only once
  EXPECT_EQ(net(ctx, "/tmp/p.sock", 3, nullptr, 0, 0), -EINVAL);  // path and fd
  EXPECT_EQ(net(ctx, nullptr, -1, nullptr, 0, 0), -EINVAL);       // neither
  EXPECT_EQ(net(ctx, nullptr, 3, nullptr, 0, 1u << 5), -EINVAL);  // unknown flag
  EXPECT_EQ(feature(0), 1);
  EXPECT_EQ(feature(3), -EINVAL);
  EXPECT_EQ(start(ctx), -EINVAL);   // no root: building the VM fails
  EXPECT_EQ(start(ctx), -ENOENT);   // and the context is consumed
}

}  // namespace
}  // namespace krunbox
