#include "vmm/libkrun_library.h"

#include <gtest/gtest.h>

#include "base/subprocess.h"
#include "vmm/probe.h"

namespace krunbox::vmm {
namespace {

TEST(LibkrunLibraryTest, MissingLibraryIsAClearError) {
  auto lib = LibkrunLibrary::open("/nonexistent/libkrun.so.1");
  ASSERT_FALSE(lib.ok());
  EXPECT_EQ(lib.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(lib.error().what().find("/nonexistent/libkrun.so.1"), std::string::npos);
}

TEST(LibkrunLibraryTest, ResolvesRequiredAndOptionalSymbols) {
  auto lib = LibkrunLibrary::open(FAKE_LIBKRUN_PATH);
  ASSERT_TRUE(lib.ok()) << lib.error().what();
  const auto& api = lib->api();
  ASSERT_NE(api.has_feature, nullptr);
  EXPECT_EQ(api.has_feature(0), 1);
  EXPECT_EQ(api.get_max_vcpus(), 16);
  EXPECT_EQ(api.add_vsock_port2, nullptr);  // optional and absent: tolerated
  int32_t ctx = api.create_ctx();
  EXPECT_GE(ctx, 0);
  EXPECT_EQ(api.set_vm_config(ctx, 0, 512), -EINVAL);
  EXPECT_EQ(api.free_ctx(ctx), 0);
}

TEST(LibkrunLibraryTest, OldLibraryWithoutRequiredSymbolIsRejectedByName) {
  auto lib = LibkrunLibrary::open(FAKE_LIBKRUN_OLD_PATH);
  ASSERT_FALSE(lib.ok());
  EXPECT_NE(lib.error().what().find("krun_start_enter"), std::string::npos);
}

TEST(LibkrunLibraryTest, ProbeReportsFeaturesAndLibkrunfw) {
  RunOptions o;
  o.env = std::vector<std::string>{std::string("LD_LIBRARY_PATH=") + FAKE_LIBKRUNFW_DIR};
  auto out = run_capture({VMM_BINARY, "probe", "--libkrun", FAKE_LIBKRUN_PATH}, o);
  ASSERT_TRUE(out.ok()) << out.error().what();
  ASSERT_TRUE(out->status.success()) << out->err;
  auto j = parse_json(out->out, "probe output");
  ASSERT_TRUE(j.ok());
  EXPECT_TRUE((*j)["libkrun"]["found"].get<bool>());
  EXPECT_TRUE((*j)["libkrun"]["features"]["net"].get<bool>());
  EXPECT_FALSE((*j)["libkrun"]["features"]["gpu"].get<bool>());
  EXPECT_EQ((*j)["libkrun"]["max_vcpus"], 16);
  EXPECT_TRUE((*j)["libkrunfw"]["found"].get<bool>());
  EXPECT_EQ((*j)["libkrunfw"]["version"], 5);
}

}  // namespace
}  // namespace krunbox::vmm
