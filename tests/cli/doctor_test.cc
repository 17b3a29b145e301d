// `krunbox doctor` must tell the truth about this host, in text and in JSON.
#include <unistd.h>

#include <gtest/gtest.h>

#include "base/json.h"
#include "base/subprocess.h"
#include "cli_env.h"

namespace krunbox {
namespace {

Json doctor_json() {
  auto out = run_capture({testing::krunbox_bin(), "doctor", "--json"});
  EXPECT_TRUE(out.ok()) << out.error().what();
  auto j = parse_json(out->out, "doctor --json output");
  EXPECT_TRUE(j.ok()) << out->out;
  return j ? *j : Json();
}

const Json* find_backend(const Json& doc, const std::string& name) {
  for (const auto& b : doc["backends"])
    if (b["backend"] == name) return &b;
  return nullptr;
}

TEST(DoctorTest, JsonHasOneEntryPerBackendWithUsableAndReasons) {
  Json doc = doctor_json();
  EXPECT_EQ(doc["schema_version"], 1);
  ASSERT_EQ(doc["backends"].size(), 4u);
  for (const char* name : {"krun", "qemu", "native", "mock"}) {
    const Json* b = find_backend(doc, name);
    ASSERT_NE(b, nullptr) << name;
    EXPECT_TRUE((*b)["usable"].is_boolean()) << name;
    EXPECT_TRUE((*b)["reasons"].is_array()) << name;
    EXPECT_EQ((*b)["usable"].get<bool>(), (*b)["reasons"].empty()) << name;
  }
}

TEST(DoctorTest, EachBackendListsWhatItTakesByItsNature) {
  Json doc = doctor_json();
  for (auto [name, vm] : {std::pair{"krun", true}, {"qemu", true}, {"native", false}, {"mock", false}}) {
    const Json* b = find_backend(doc, name);
    ASSERT_NE(b, nullptr) << name;
    ASSERT_TRUE((*b).contains("capabilities")) << name;
    const Json& caps = (*b)["capabilities"];
    EXPECT_EQ(caps["vm_isolation"].get<bool>(), vm) << name;
    EXPECT_TRUE(caps["network"].is_array()) << name;
  }
  EXPECT_EQ(find_backend(doc, "native")->at("capabilities")["network"], Json::array({"none", "host"}));
  auto text = run_capture({testing::krunbox_bin(), "doctor"});
  ASSERT_TRUE(text.ok());
  EXPECT_NE(text->out.find("capabilities: VM isolation"), std::string::npos) << text->out;
}

TEST(DoctorTest, NoKvmMeansNoKrunAndSaysWhy) {
  if (::access("/dev/kvm", F_OK) == 0) GTEST_SKIP() << "this host has /dev/kvm";
  Json doc = doctor_json();
  const Json* krun = find_backend(doc, "krun");
  ASSERT_NE(krun, nullptr);
  EXPECT_FALSE((*krun)["usable"].get<bool>());
  std::string reasons = (*krun)["reasons"].dump();
  EXPECT_NE(reasons.find("/dev/kvm"), std::string::npos) << reasons;
  EXPECT_NE(reasons.find("libkrun"), std::string::npos) << reasons;
}

TEST(DoctorTest, ExitStatusFollowsAutoPick) {
  auto out = run_capture({testing::krunbox_bin(), "doctor"});
  ASSERT_TRUE(out.ok());
  Json doc = doctor_json();
  bool any = !doc["auto"].is_null();
  EXPECT_EQ(out->status.code, any ? 0 : 1) << out->out;
  if (any) {
    EXPECT_NE(doc["auto"]["backend"], "mock");
    EXPECT_NE(out->out.find("--backend auto: " + doc["auto"]["backend"].get<std::string>()), std::string::npos);
  }
}

TEST(DoctorTest, NativeIsUsableAsRootWithVerifiedNamespaces) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  Json doc = doctor_json();
  const Json* native = find_backend(doc, "native");
  ASSERT_NE(native, nullptr);
  EXPECT_TRUE((*native)["usable"].get<bool>()) << native->dump();
  int created = 0;
  for (const auto& c : (*native)["checks"])
    if (c["name"].get<std::string>().find("namespace") != std::string::npos && c["ok"].get<bool>()) ++created;
  EXPECT_GE(created, 5);
}

TEST(DoctorTest, FakeLibkrunIsFoundThroughEnvironment) {
  // With KRUNBOX_LIBKRUN pointing at the test double, doctor reports libkrun found
  // (krun stays unusable here only for /dev/kvm and libkrunfw).
  std::string fake = testing::bin_dir() + "/../src/vmm/fake/libkrun.so.1";
  if (::access(fake.c_str(), R_OK) != 0) GTEST_SKIP() << "fake libkrun not built at " << fake;
  RunOptions o;
  o.env = std::vector<std::string>{"KRUNBOX_LIBKRUN=" + fake, "PATH=/usr/bin:/bin"};
  auto out = run_capture({testing::krunbox_bin(), "doctor", "--json"}, o);
  ASSERT_TRUE(out.ok());
  auto doc = parse_json(out->out, "doctor");
  ASSERT_TRUE(doc.ok());
  const Json* krun = find_backend(*doc, "krun");
  ASSERT_NE(krun, nullptr);
  bool found = false;
  for (const auto& c : (*krun)["checks"])
    if (c["name"] == "libkrun.so.1") found = c["ok"].get<bool>();
  EXPECT_TRUE(found) << krun->dump();
}

}  // namespace
}  // namespace krunbox
