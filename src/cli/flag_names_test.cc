#include "cli/flag_names.h"

#include <gtest/gtest.h>

#include "backend/capabilities.h"
#include "image/registry_pull.h"
#include "sandbox/secrets.h"
#include "sandbox/state_store.h"

namespace krunbox::cli {
namespace {

TEST(FlagNamesTest, EveryFieldTheLibraryNamesHasItsFlag) {
  EXPECT_EQ(flag_for({spec_field::kNetwork, "host"}), "--net host");
  EXPECT_EQ(flag_for({spec_field::kUserNamespace, "true"}), "--userns");
  EXPECT_EQ(flag_for({spec_field::kPorts, "127.0.0.1:8080:80/udp"}), "-p 127.0.0.1:8080:80/udp");
  EXPECT_EQ(flag_for({spec_field::kVolumes, "/a:/b"}), "-v /a:/b");
  EXPECT_EQ(flag_for({spec_field::kPidsLimit, "10"}), "--pids-limit 10");
  EXPECT_EQ(flag_for({spec_field::kAccel, "tcg"}), "--accel tcg");
  EXPECT_EQ(flag_for({spec_field::kTty, "true"}), "-t");
  EXPECT_EQ(flag_for({spec_field::kIsolation, "vm"}), "--isolation vm");
  EXPECT_EQ(flag_for({kSecretField, "TOKEN"}), "--secret TOKEN");
  EXPECT_EQ(flag_for({kSecretField, ""}), "--secret");
  EXPECT_EQ(flag_for({kRestartField, "sometimes"}), "--restart sometimes");
  EXPECT_EQ(flag_for({image::kPullField, "often"}), "--pull often");
}

TEST(FlagNamesTest, FieldsWithoutAFlagAreLeftAlone) {
  EXPECT_EQ(flag_for({}), "");
  EXPECT_EQ(flag_for({spec_field::kId, ""}), "");
  Error e(ErrorCode::kInvalidArgument, "the sandbox spec has no id");
  e.with_field(spec_field::kId).wrap("creating");
  EXPECT_EQ(with_flag_names(e).what(), e.what());
  Error plain(ErrorCode::kIo, "open /x", ENOENT);
  EXPECT_EQ(with_flag_names(plain).what(), plain.what());
}

TEST(FlagNamesTest, TheFlagGoesInFrontOfItsMessageInsideTheContext) {
  Error e(ErrorCode::kUnsupported, "network mode host is not possible on the qemu backend (a VM)");
  e.with_field(spec_field::kNetwork, "host").wrap("sandbox abc").wrap("run");
  Error shown = with_flag_names(e);
  EXPECT_EQ(shown.what(), "run: sandbox abc: --net host: network mode host is not possible on the qemu backend (a VM)");
  EXPECT_EQ(shown.code(), ErrorCode::kUnsupported);
  EXPECT_EQ(shown.field().name, spec_field::kNetwork);
  Error with_errno(ErrorCode::kLimitExceeded, "secret T: reading /x", EFBIG);
  with_errno.with_field(kSecretField, "T");
  EXPECT_EQ(with_flag_names(with_errno).sys_errno(), EFBIG);
}

}  // namespace
}  // namespace krunbox::cli
