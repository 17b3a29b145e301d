// argv and env over the agent's 64 KiB request limit (issue 21, attack 8).
//
// The agent refuses a request over 65536 bytes, but krunbox only found out
// after the sandbox had started: `run` failed with an error about a frame,
// `run -d` left a recorded sandbox that could never start, and the cost of a
// sandbox start was paid for nothing. krunbox must measure first, refuse
// with an error that names argv/env and the limit, leave nothing behind, and
// leave a running sandbox that got an oversized exec as it was.
#include <gtest/gtest.h>

#include "security_env.h"

namespace krunbox {
namespace {

using namespace security_test;

const std::string kBig(70000, 'x');

void expect_refused(const Result<RunOutput>& out, const std::string& what, const std::string& part) {
  ASSERT_TRUE(out.ok()) << what;
  EXPECT_EQ(out->status.code, 125) << what << ": " << out->out;
  EXPECT_NE(out->err.find("65536"), std::string::npos) << what << ": " << out->err;
  EXPECT_NE(out->err.find(part), std::string::npos) << what << ": " << out->err;
  EXPECT_LT(out->err.size(), 4096u) << what << ": the error repeats the oversized value";
}

TEST(RequestSizeTest, OversizedRunIsRefusedBeforeASandboxStarts) {
  SKIP_WITHOUT_NATIVE();
  World w;
  expect_refused(w.kb({"run", "--backend", "native", "-e", "BIG=" + kBig, "--", "true"}), "run -e BIG", "env");
  expect_refused(w.kb({"run", "--backend", "native", "--", "echo", kBig}), "run -- echo BIG", "argv");
  // Many small variables add up the same way.
  std::vector<std::string> many = {"run", "--backend", "native"};
  for (int i = 0; i < 100; ++i) {
    many.push_back("-e");
    many.push_back("V" + std::to_string(i) + "=" + std::string(700, 'y'));
  }
  many.insert(many.end(), {"--", "true"});
  expect_refused(w.kb(many), "run with 100 x 700-byte -e", "env");
  EXPECT_TRUE(w.roots().empty()) << "left: " << *w.roots().begin();
  EXPECT_TRUE(w.mounts().empty()) << "left: " << w.mounts().front();
}

TEST(RequestSizeTest, OversizedRunDetachedLeavesNoSandboxAndNoRoot) {
  SKIP_WITHOUT_NATIVE();
  World w;
  expect_refused(w.kb({"run", "-d", "--backend", "native", "-e", "BIG=" + kBig, "--", "sleep", "600"}), "run -d -e BIG",
                 "env");
  expect_refused(w.kb({"create", "--backend", "native", "--", "echo", kBig}), "create -- echo BIG", "argv");
  auto ps = w.kb({"ps", "-a", "-q"});
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->out, "") << "a sandbox was recorded that can never start";
  EXPECT_TRUE(dir_entries(join_path(w.data(), "lifecycle")).empty());
  EXPECT_TRUE(w.roots().empty()) << "left: " << *w.roots().begin();
  EXPECT_TRUE(w.mounts().empty()) << "left: " << w.mounts().front();
}

TEST(RequestSizeTest, OversizedExecIsRefusedAndTheSandboxStillAnswers) {
  SKIP_WITHOUT_NATIVE();
  World w;
  auto started = w.kb({"run", "-d", "--backend", "native", "--name", "box", "--", "sleep", "600"});
  ASSERT_TRUE(started.ok());
  ASSERT_EQ(started->status.code, 0) << started->err;
  expect_refused(w.kb({"exec", "-e", "BIG=" + kBig, "box", "--", "true"}), "exec -e BIG", "env");
  expect_refused(w.kb({"exec", "box", "--", "echo", kBig}), "exec -- echo BIG", "argv");
  auto ps = w.kb({"ps", "-q"});
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(trim(ps->out), trim(started->out).substr(0, 12)) << "the sandbox is still running";
  auto ok = w.kb({"exec", "box", "--", "echo", "still-here"});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status.code, 0) << ok->err;
  EXPECT_EQ(ok->out, "still-here\n");
}

// A lone C1 byte (0x9b, CSI to a terminal in 8-bit mode) is no UTF-8. The
// requests and records are JSON: such an argument was replaced on `run` (the
// sandbox ran another command than the one given) and aborted `run -d` and
// `exec`. It must be refused like an oversized one, with nothing left behind.
TEST(RequestSizeTest, NonUtf8ArgvOrEnvIsRefusedNotAlteredOrFatal) {
  SKIP_WITHOUT_ROOT();
  World w;
  const std::string c1 = "a\x9b" "b";
  auto refused = [](const Result<RunOutput>& out, const std::string& what) {
    ASSERT_TRUE(out.ok()) << what;
    EXPECT_EQ(out->status.code, 125) << what << ": " << out->out << out->err;
    EXPECT_NE(out->err.find("not UTF-8"), std::string::npos) << what << ": " << out->err;
  };
  refused(w.kb({"run", "--backend", "mock", "--rootfs", "/", "--", "echo", c1}), "run -- echo");
  refused(w.kb({"run", "-d", "--backend", "mock", "--rootfs", "/", "--", "echo", c1}), "run -d -- echo");
  refused(w.kb({"create", "--backend", "mock", "--rootfs", "/", "-e", "A=" + c1, "--", "true"}), "create -e");
  auto ps = w.kb({"ps", "-a", "-q"});
  ASSERT_TRUE(ps.ok());
  EXPECT_EQ(ps->out, "");
  auto started = w.kb({"run", "-d", "--backend", "mock", "--rootfs", "/", "--name", "box", "--", "sleep", "600"});
  ASSERT_TRUE(started.ok());
  ASSERT_EQ(started->status.code, 0) << started->err;
  refused(w.kb({"exec", "box", "--", "echo", c1}), "exec -- echo");
  refused(w.kb({"exec", "-e", "A=" + c1, "box", "--", "true"}), "exec -e");
  auto ok = w.kb({"exec", "box", "--", "echo", "still-here"});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->status.code, 0) << ok->err;
  EXPECT_EQ(ok->out, "still-here\n");
}

}  // namespace
}  // namespace krunbox
