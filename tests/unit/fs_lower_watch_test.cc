// Unit tests for fs/lower_watch.h against the real kernel (fanotify; needs CAP_SYS_ADMIN, skipped
// loudly without it): a name created, renamed and removed in a watched directory by another
// process is reported with that directory's identity, the name and "listing changed"; a chmod is
// reported without it; changes made by this process itself are not reported; marking the same
// file system twice is a no-op.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fs/lower_watch.h"
#include "store_test_util.h"

namespace dfs::fs {
namespace {

struct Seen {
  ino_t dir;
  std::string name;
  bool listing;
};

class LowerWatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = LowerWatch::Start(
        [this](const struct stat& dir, std::string_view name, bool listing) {
          std::lock_guard lock(mu_);
          seen_.push_back({dir.st_ino, std::string(name), listing});
          cv_.notify_all();
        },
        [this] {
          std::lock_guard lock(mu_);
          lost_ = true;
          cv_.notify_all();
        });
    if (!w.ok() && w.status().code() == Code::kPermissionDenied) {
      GTEST_SKIP() << "SKIPPED: fanotify needs CAP_SYS_ADMIN (run as root)";
    }
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    watch_ = std::move(w).value();
    dir_ = tmp_.path() + "/d";
    ASSERT_EQ(mkdir(dir_.c_str(), 0755), 0);
    struct stat st;
    ASSERT_EQ(stat(dir_.c_str(), &st), 0);
    dir_ino_ = st.st_ino;
    int fd = open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    Status s = watch_->Watch(fd);
    close(fd);
    if (s.code() == Code::kUnsupported) GTEST_SKIP() << "SKIPPED: " << s.ToString();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // Runs `cmd` in a child process (its changes are not this process's), after forgetting the
  // events seen so far.
  void Child(const std::string& cmd) {
    {
      std::lock_guard lock(mu_);
      seen_.clear();
    }
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }

  // Waits up to 5 s for an event naming `name` in the test directory; returns it.
  std::optional<Seen> WaitFor(const std::string& name, bool listing) {
    std::unique_lock lock(mu_);
    std::optional<Seen> found;
    cv_.wait_for(lock, std::chrono::seconds(5), [&] {
      for (const Seen& s : seen_) {
        if (s.dir == dir_ino_ && s.name == name && s.listing == listing) {
          found = s;
          return true;
        }
      }
      return false;
    });
    return found;
  }

  dfs::testing::TempDir tmp_;
  std::unique_ptr<LowerWatch> watch_;
  std::string dir_;
  ino_t dir_ino_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Seen> seen_;
  bool lost_ = false;
};

TEST_F(LowerWatchTest, ReportsAnotherProcesssChangesOfNames) {
  Child("touch '" + dir_ + "/made'");
  EXPECT_TRUE(WaitFor("made", true)) << "create";
  Child("mv '" + dir_ + "/made' '" + dir_ + "/moved'");
  EXPECT_TRUE(WaitFor("made", true)) << "moved from";
  EXPECT_TRUE(WaitFor("moved", true)) << "moved to";
  Child("mkdir '" + dir_ + "/sub'");
  EXPECT_TRUE(WaitFor("sub", true)) << "mkdir";
  Child("chmod 600 '" + dir_ + "/moved'");
  EXPECT_TRUE(WaitFor("moved", false)) << "chmod: attributes, not the listing";
  Child("rm '" + dir_ + "/moved'");
  EXPECT_TRUE(WaitFor("moved", true)) << "unlink";
  std::lock_guard lock(mu_);
  EXPECT_FALSE(lost_);
}

TEST_F(LowerWatchTest, IgnoresThisProcesssOwnChanges) {
  // This process's create comes first; a child's after it. Once the child's is seen, the kernel
  // has queued (and the thread handled) the earlier one too, had it been reported.
  int fd = open((dir_ + "/mine").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  close(fd);
  Child("touch '" + dir_ + "/theirs'");
  ASSERT_TRUE(WaitFor("theirs", true));
  std::lock_guard lock(mu_);
  for (const Seen& s : seen_) EXPECT_NE(s.name, "mine") << "this process's own create was reported";
}

TEST_F(LowerWatchTest, WatchingTheSameFileSystemAgainIsANoOp) {
  int fd = open(tmp_.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_TRUE(watch_->Watch(fd).ok());
  struct stat st;
  ASSERT_EQ(fstat(fd, &st), 0);
  close(fd);
  EXPECT_TRUE(watch_->Watches(st.st_dev));
  EXPECT_FALSE(watch_->Watches(st.st_dev + 12345));
}

}  // namespace
}  // namespace dfs::fs
