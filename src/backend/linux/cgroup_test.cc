#include "backend/linux/cgroup.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/fs.h"
#include "base/temp_dir.h"

namespace krunbox {
namespace {

// A fake hierarchy of plain directories: what the code writes can be read back.
class FakeCgroupTree : public ::testing::Test {
 protected:
  void SetUp() override {
    auto d = TempDir::create();
    ASSERT_TRUE(d.ok());
    dir_ = std::move(*d);
  }
  std::string path(const std::string& rel) { return join_path(dir_.path(), rel); }
  void make_v1(std::initializer_list<const char*> controllers) {
    for (const char* c : controllers) ASSERT_TRUE(make_dirs(path(c)).ok());
  }
  TempDir dir_;
};

TEST_F(FakeCgroupTree, V1MakesOneGroupPerMountedController) {
  make_v1({"memory", "pids"});
  auto set = CgroupSet::create(dir_.path(), "parent", "id1", {"memory", "pids", "freezer"});
  EXPECT_FALSE(set.v2());
  ASSERT_EQ(set.dirs().size(), 2u);
  EXPECT_EQ(set.dir("memory"), path("memory/parent/id1"));
  EXPECT_EQ(set.dir("pids"), path("pids/parent/id1"));
  EXPECT_EQ(set.dir("freezer"), "");
  ASSERT_EQ(set.notes().size(), 1u);
  EXPECT_NE(set.notes()[0].find("freezer"), std::string::npos);
  EXPECT_EQ(list_cgroup_group_ids(dir_.path(), "parent", {"memory", "pids"}), std::vector<std::string>{"id1"});
  ASSERT_TRUE(set.drop("pids").ok());
  EXPECT_FALSE(path_exists(path("pids/parent/id1")));
  EXPECT_EQ(set.dirs().size(), 1u);
  ASSERT_TRUE(set.destroy().ok());
  EXPECT_FALSE(path_exists(path("memory/parent/id1")));
  EXPECT_TRUE(list_cgroup_group_ids(dir_.path(), "parent", {"memory", "pids"}).empty());
}

TEST_F(FakeCgroupTree, V2MakesOneGroupAndEnablesTheRealControllers) {
  ASSERT_TRUE(write_file_atomic(path("cgroup.controllers"), "cpu memory pids\n").ok());
  auto set = CgroupSet::create(dir_.path(), "parent", "id2", {"memory", "cpu", "pids", "freezer", "devices"});
  EXPECT_TRUE(set.v2());
  ASSERT_EQ(set.dirs().size(), 1u);
  EXPECT_EQ(set.dir("memory"), path("parent/id2"));
  EXPECT_EQ(set.dir("freezer"), path("parent/id2"));
  // freezer and devices are not v2 controllers: nothing to enable for them.
  EXPECT_EQ(*read_file(path("cgroup.subtree_control")), "+memory +cpu +pids");
  EXPECT_EQ(*read_file(path("parent/cgroup.subtree_control")), "+memory +cpu +pids");
  auto files = set.open_join_files();
  ASSERT_TRUE(files.ok()) << files.error().what();
  ASSERT_EQ(files->size(), 1u);
  ASSERT_EQ(::write(files->front().get(), "0", 1), 1);
  EXPECT_EQ(*read_file(path("parent/id2/cgroup.procs")), "0");
}

TEST_F(FakeCgroupTree, V1JoinFilesAreTheTasksFiles) {
  make_v1({"memory", "pids"});
  auto set = CgroupSet::create(dir_.path(), "p", "j", {"memory", "pids"});
  auto files = set.open_join_files();
  ASSERT_TRUE(files.ok()) << files.error().what();
  ASSERT_EQ(files->size(), 2u);
  for (const auto& f : *files) {
    EXPECT_TRUE(::fcntl(f.get(), F_GETFD) & FD_CLOEXEC);
    ASSERT_EQ(::write(f.get(), "0", 1), 1);
  }
  EXPECT_EQ(*read_file(path("memory/p/j/tasks")), "0");
  EXPECT_EQ(*read_file(path("pids/p/j/tasks")), "0");
}

TEST_F(FakeCgroupTree, ProcessesAreReadFromCgroupProcs) {
  make_v1({"pids"});
  auto set = CgroupSet::create(dir_.path(), "p", "q", {"pids"});
  ASSERT_TRUE(set.add_process(4242).ok());
  auto procs = cgroup_processes(set.dir("pids"));
  ASSERT_TRUE(procs.has_value());
  EXPECT_EQ(*procs, std::vector<pid_t>{4242});
  EXPECT_TRUE(cgroup_has_processes(set.dir("pids")));
}

TEST_F(FakeCgroupTree, DestructorRemovesTheGroups) {
  make_v1({"memory"});
  {
    auto set = CgroupSet::create(dir_.path(), "p", "gone", {"memory"});
    EXPECT_TRUE(is_directory(path("memory/p/gone")));
    CgroupSet moved = std::move(set);
    EXPECT_TRUE(is_directory(path("memory/p/gone")));
  }
  EXPECT_FALSE(path_exists(path("memory/p/gone")));
}

TEST(CgroupTest, NoFileSystemIsNotedNotFatal) {
  auto set = CgroupSet::create("/nonexistent/cgroup", "p", "x", {"memory"});
  EXPECT_TRUE(set.missing());
  EXPECT_TRUE(set.dirs().empty());
  ASSERT_EQ(set.notes().size(), 1u);
  EXPECT_TRUE(remove_cgroup_dir("/nonexistent/cgroup/p/x").ok());
}

TEST(CgroupTest, GroupDirsNameEveryV1ControllerThenV2) {
  EXPECT_EQ(cgroup_group_dirs("/cg", "p", "i", {"memory", "pids"}),
            (std::vector<std::string>{"/cg/memory/p/i", "/cg/pids/p/i", "/cg/p/i"}));
}

}  // namespace
}  // namespace krunbox
