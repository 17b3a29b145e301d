#include "backend/probe.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>

#include "backend/registry.h"

namespace krunbox {
namespace {

BackendReport report(std::string name, IsolationLevel level, bool usable, int pref = 0) {
  BackendReport r;
  r.backend = std::move(name);
  r.level = level;
  r.usable = usable;
  r.preference = pref;
  return r;
}

TEST(ProbeTest, AutoPicksStrongestUsable) {
  std::vector<BackendReport> all = {report("krun", IsolationLevel::kVm, false, 2),
                                    report("qemu", IsolationLevel::kVm, true, 1),
                                    report("native", IsolationLevel::kContainer, true),
                                    report("mock", IsolationLevel::kNone, true)};
  EXPECT_EQ(pick_auto_backend(all)->backend, "qemu");
  all[0].usable = true;
  EXPECT_EQ(pick_auto_backend(all)->backend, "krun");
  all[0].usable = all[1].usable = false;
  EXPECT_EQ(pick_auto_backend(all)->backend, "native");
}

TEST(ProbeTest, MockIsNeverPickedByAuto) {
  std::vector<BackendReport> all = {report("native", IsolationLevel::kContainer, false),
                                    report("mock", IsolationLevel::kNone, true)};
  EXPECT_FALSE(pick_auto_backend(all).has_value());
}

TEST(ProbeTest, JsonHasStableKeys) {
  auto r = probe_mock();
  Json j = r.to_json();
  for (const char* key : {"backend", "isolation", "isolation_detail", "usable", "reasons", "checks"})
    EXPECT_TRUE(j.contains(key)) << key;
  EXPECT_EQ(j["isolation"], "none");
}

TEST(ProbeTest, AllFourBackendsReported) {
  auto all = probe_all_backends();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].backend, "krun");
  EXPECT_EQ(all[1].backend, "qemu");
  EXPECT_EQ(all[2].backend, "native");
  EXPECT_EQ(all[3].backend, "mock");
  for (const auto& r : all) EXPECT_EQ(r.usable, r.reasons.empty()) << r.backend;
}

TEST(ProbeTest, NativeVerifiesNamespacesByCreatingThem) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to create mount/pid/net namespaces";
  auto r = probe_native();
  for (const char* ns : {"mount namespace", "pid namespace", "net namespace", "uts namespace", "ipc namespace"}) {
    auto it = std::find_if(r.checks.begin(), r.checks.end(), [&](const ProbeCheck& c) { return c.name == ns; });
    ASSERT_NE(it, r.checks.end()) << ns;
    EXPECT_TRUE(it->ok) << ns << ": " << it->detail;
  }
  EXPECT_TRUE(r.usable);
}

TEST(ProbeTest, KrunWithoutKvmSaysSo) {
  if (::access("/dev/kvm", F_OK) == 0) GTEST_SKIP() << "this host has /dev/kvm";
  auto r = probe_krun();
  EXPECT_FALSE(r.usable);
  ASSERT_FALSE(r.reasons.empty());
  EXPECT_NE(r.reasons[0].find("/dev/kvm"), std::string::npos);
}

}  // namespace
}  // namespace krunbox

namespace krunbox {
namespace {

bool has_check(const BackendReport& r, const std::string& name) {
  return std::any_of(r.checks.begin(), r.checks.end(), [&](const ProbeCheck& c) { return c.name == name; });
}

TEST(ProbeTest, QuickProbesSkipTheCostlyChecksAndAgreeOnUsability) {
  auto quick = probe_native_quick();
  auto full = probe_native();
  EXPECT_FALSE(has_check(quick, "mount namespace"));
  EXPECT_FALSE(has_check(quick, "cgroups"));
  EXPECT_TRUE(has_check(full, "mount namespace"));
  EXPECT_EQ(quick.usable, full.usable);
  EXPECT_EQ(quick.level, full.level);

  auto qemu_quick = probe_qemu_quick();
  auto qemu_full = probe_qemu();
  EXPECT_EQ(qemu_quick.usable, qemu_full.usable) << (qemu_full.reasons.empty() ? "" : qemu_full.reasons[0]);
  EXPECT_EQ(qemu_quick.isolation, qemu_full.isolation);
}

TEST(ProbeTest, ExplicitBackendRunsOnlyItsQuickProbe) {
  auto native = select_backend("native", /*require_vm=*/false);
  if (!native.ok()) GTEST_SKIP() << native.error().what();
  EXPECT_EQ(native->report.backend, "native");
  EXPECT_FALSE(has_check(native->report, "mount namespace"));
  auto mock = select_backend("mock", false);
  ASSERT_TRUE(mock.ok());
  EXPECT_EQ(mock->report.backend, "mock");
  EXPECT_FALSE(select_backend("mock", /*require_vm=*/true).ok());
  EXPECT_FALSE(select_backend("nonesuch", false).ok());
}

}  // namespace
}  // namespace krunbox
