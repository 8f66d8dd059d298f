// Unit tests for fs/cwd_path.h: a directory's path from getcwd(2) is the string a readlink of its
// /proc/self/fd link gives, for awkward names too; the calling thread, the process and threads
// started by a thread caught mid-way all stay in (or return to) the home directory; deleted and
// over-long directories give ENOENT and ENAMETOOLONG; a directory outside the process's root gives
// kNoCwdPath (the caller's readlink fallback then answers as before).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "fs/cwd_path.h"

namespace dfs::fs {
namespace {

std::string Cwd() {
  char buf[PATH_MAX + 1];
  return getcwd(buf, sizeof buf) != nullptr ? std::string(buf) : std::string("?");
}

std::string Readlink(int fd) {
  char link[64], buf[PATH_MAX + 1];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, buf, sizeof buf);
  return n >= 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?");
}

class CwdPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitCwdHome());
    home_ = Cwd();
    char tmpl[] = "/var/tmp/fs_cwd_path_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    EXPECT_EQ(Cwd(), home_) << "the test thread was left elsewhere";
    std::filesystem::remove_all(dir_);
  }
  Fd Dir(const std::string& rel) {
    std::filesystem::create_directories(dir_ + rel);
    Fd fd(open((dir_ + rel).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    EXPECT_TRUE(fd.valid()) << rel;
    return fd;
  }
  // CwdPath's answer as a string; "" with *n set when it gave none.
  static std::string Path(int fd, ssize_t* n) {
    char buf[PATH_MAX + 1];
    *n = CwdPath(fd, buf, sizeof buf);
    return *n >= 0 ? std::string(buf, static_cast<size_t>(*n)) : std::string();
  }

  std::string home_, dir_;
};

TEST_F(CwdPathTest, TheSameStringAsTheMagicLink) {
  const std::vector<std::string> names = {
      "/a", "/a/b c", "/x (deleted)", "/new\nline", "/\xc3\xa9t\xc3\xa9", "/a/b c/..d", "/-"};
  for (const std::string& rel : names) {
    Fd fd = Dir(rel);
    ssize_t n = 0;
    std::string p = Path(fd.get(), &n);
    ASSERT_GE(n, 0) << rel << ": CwdPath gave no answer (" << n << ")";
    EXPECT_EQ(p, Readlink(fd.get())) << rel;
    EXPECT_EQ(p, dir_ + rel);
  }
  // Moved beneath: the new path, as the link says.
  Fd fd = Dir("/m1");
  ASSERT_EQ(rename((dir_ + "/m1").c_str(), (dir_ + "/a/m2").c_str()), 0);
  ssize_t n = 0;
  EXPECT_EQ(Path(fd.get(), &n), dir_ + "/a/m2");
  EXPECT_EQ(Readlink(fd.get()), dir_ + "/a/m2");
}

TEST_F(CwdPathTest, DeletedAndTooLong) {
  Fd gone = Dir("/gone");
  ASSERT_EQ(rmdir((dir_ + "/gone").c_str()), 0);
  ssize_t n = 0;
  Path(gone.get(), &n);
  EXPECT_EQ(n, -1);
  EXPECT_EQ(errno, ENOENT);
  // 24 levels of 200 characters: beyond PATH_MAX.
  Fd cur = Dir("");
  const std::string part(200, 'd');
  for (int i = 0; i < 24; ++i) {
    ASSERT_EQ(mkdirat(cur.get(), part.c_str(), 0755), 0);
    cur.reset(openat(cur.get(), part.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(cur.valid());
  }
  Path(cur.get(), &n);
  EXPECT_EQ(n, -1);
  EXPECT_EQ(errno, ENAMETOOLONG);
}

// A thread starts out sharing its creator's fs_struct (pthread_create passes CLONE_FS). One
// created while its creator is away from home (as between CwdPath's fchdir calls) must still
// return home, not take that directory as its own.
TEST_F(CwdPathTest, ThreadsReturnHomeEvenIfBornAway) {
  Fd away = Dir("/away");
  Fd other = Dir("/other");
  std::string creator_after, child_after, child_path;
  ssize_t child_n = 0;
  std::thread([&] {
    ASSERT_EQ(unshare(CLONE_FS), 0);
    ASSERT_EQ(fchdir(away.get()), 0);  // the creator, caught mid-way
    std::thread([&] {
      child_path = Path(other.get(), &child_n);
      child_after = Cwd();
    }).join();
    ASSERT_EQ(chdir(home_.c_str()), 0);
    ssize_t n = 0;
    Path(other.get(), &n);
    creator_after = Cwd();
  }).join();
  EXPECT_GE(child_n, 0);
  EXPECT_EQ(child_path, dir_ + "/other");
  EXPECT_EQ(child_after, home_) << "a thread born away stayed there";
  EXPECT_EQ(creator_after, home_);
}

// Outside the process's root getcwd says "(unreachable)/...", where the link says something
// else: no answer, so that the caller keeps the link's. In a child process (chroot).
TEST_F(CwdPathTest, UnreachableGivesNoAnswer) {
  if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: chroot needs root";
  Fd outside = Dir("/outside");
  Dir("/jail");
  pid_t pid = fork();
  if (pid == 0) {
    if (chroot((dir_ + "/jail").c_str()) != 0 || chdir("/") != 0) _exit(10);
    char buf[PATH_MAX + 1];
    ssize_t n = CwdPath(outside.get(), buf, sizeof buf);
    _exit(n == kNoCwdPath ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: chroot failed; 1: a path was given";
}

}  // namespace
}  // namespace dfs::fs
