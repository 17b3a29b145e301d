#include "image/growing_file.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace krunbox::image {
namespace {

class GrowingFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fd_ = UniqueFd(::memfd_create("growing-file-test", MFD_CLOEXEC));
    ASSERT_TRUE(fd_);
    auto f = GrowingFile::open(fd_.get(), "blob X");
    ASSERT_TRUE(f.ok()) << f.error().what();
    file_ = *f;
  }
  void append(std::string_view bytes) {
    ASSERT_EQ(::write(fd_.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    written_ += bytes.size();
    file_->appended(written_);
  }
  static Result<std::string> read_all(ByteSource& s) {
    std::string out;
    char buf[3000];
    for (;;) {
      KRUNBOX_ASSIGN_OR_RETURN(size_t n, s.read(buf, sizeof buf));
      if (n == 0) return out;
      out.append(buf, n);
    }
  }

  UniqueFd fd_;
  std::shared_ptr<GrowingFile> file_;
  uint64_t written_ = 0;
};

TEST_F(GrowingFileTest, ReaderFollowsTheWriterToTheEnd) {
  std::string expected;
  for (int i = 0; i < 2000; ++i) expected += "chunk " + std::to_string(i) + " of the blob\n";
  auto reader = file_->reader();
  std::thread writer([&] {
    for (size_t at = 0; at < expected.size(); at += 777) {
      append(std::string_view(expected).substr(at, 777));
      if (at % (777 * 50) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    file_->finished({});
  });
  auto got = read_all(*reader);
  writer.join();
  ASSERT_TRUE(got.ok()) << got.error().what();
  EXPECT_EQ(*got, expected);
  EXPECT_TRUE(file_->wait_finished().ok());
  EXPECT_FALSE(file_->has_restarted());
}

TEST_F(GrowingFileTest, ReadBlocksUntilBytesArriveOrTheEnd) {
  auto reader = file_->reader();
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    append("late bytes");
    file_->finished({});
  });
  auto got = read_all(*reader);
  writer.join();
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "late bytes");
}

TEST_F(GrowingFileTest, RestartVoidsWhatWasRead) {
  append("first attempt");
  auto reader = file_->reader();
  char buf[64];
  auto n = reader->read(buf, 5);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 5u);
  file_->restarting();
  ASSERT_EQ(::ftruncate(fd_.get(), 0), 0);
  auto again = reader->read(buf, sizeof buf);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code(), ErrorCode::kCancelled);
  EXPECT_NE(again.error().what().find("blob X"), std::string::npos) << again.error().what();
  EXPECT_TRUE(file_->has_restarted());
  // A reader made after the restart follows the new attempt.
  written_ = 0;
  ASSERT_EQ(::lseek(fd_.get(), 0, SEEK_SET), 0);
  auto fresh = file_->reader();
  append("second");
  file_->finished({});
  auto got = read_all(*fresh);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(*got, "second");
}

TEST_F(GrowingFileTest, WriterFailureReachesTheReader) {
  append("partial");
  auto reader = file_->reader();
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    file_->finished(Error(ErrorCode::kCorrupt, "blob content hashes to sha256:00, not the expected one"));
  });
  auto got = read_all(*reader);
  writer.join();
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.error().code(), ErrorCode::kCorrupt);
  auto outcome = file_->wait_finished();
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.error().what().find("hashes to"), std::string::npos);
}

TEST_F(GrowingFileTest, FirstOutcomeWins) {
  file_->finished(Error(ErrorCode::kCancelled, "cancelled"));
  file_->finished({});
  EXPECT_FALSE(file_->wait_finished().ok());
}

}  // namespace
}  // namespace krunbox::image
