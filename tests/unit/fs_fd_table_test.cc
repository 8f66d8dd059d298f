// Unit tests for fs/fd_table.h: GrowFdTable makes the kernel's descriptor table of the process at
// least as large as asked (read back from /proc/self/status, FDSize), stays under the soft
// RLIMIT_NOFILE, leaves no descriptor open, and works with descriptors 0-2 closed. Each case runs
// in a child process, whose table and limits it may change freely.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <string>

#include "fs/fd_table.h"

namespace dfs::fs {
namespace {

long FdTableSize() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("FDSize:", 0) == 0) return std::stol(line.substr(7));
  }
  return -1;
}

int OpenDescriptors() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  int n = 0;
  while (readdir(d) != nullptr) ++n;
  closedir(d);
  return n - 3;  // ".", ".." and the directory's own descriptor
}

// Runs `body` in a child; the child's exit code is the number of the first failed check (0: all
// held). gtest assertions do not cross fork(), so each check is a plain condition.
int InChild(const std::function<int()>& body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return 100;
  return WEXITSTATUS(status);
}

// The slots the tests ask for: above the table a small process starts with (64 or 256), and
// within the hard limit.
rlim_t Wanted() {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_max == RLIM_INFINITY ? 8192 : std::min<rlim_t>(rl.rlim_max, 8192);
}

// Sets this process's soft RLIMIT_NOFILE (the hard one stays).
bool SetSoftLimit(rlim_t soft) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return false;
  rl.rlim_cur = soft;
  return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

TEST(FdTable, GrowsToTheSlotsAskedAndLeavesNothingOpen) {
  rlim_t want = Wanted();
  if (want <= 1024) GTEST_SKIP() << "SKIPPED: hard RLIMIT_NOFILE " << want << " too low to tell";
  EXPECT_EQ(InChild([want] {
              if (!SetSoftLimit(want)) return 1;
              if (FdTableSize() >= static_cast<long>(want)) return 2;  // nothing to show
              int before = OpenDescriptors();
              Result<size_t> got = GrowFdTable(want);
              if (!got.ok() || got.value() != want) return 3;
              if (FdTableSize() < static_cast<long>(want)) return 4;
              if (OpenDescriptors() != before) return 5;
              // The next descriptor is still the lowest free one.
              int fd = open("/", O_PATH | O_CLOEXEC);
              if (fd < 0 || fd > 64) return 6;
              close(fd);
              return 0;
            }),
            0);
}

TEST(FdTable, StaysUnderTheSoftLimit) {
  EXPECT_EQ(InChild([] {
              if (!SetSoftLimit(300)) return 1;
              Result<size_t> got = GrowFdTable(kFdTablePresize);
              if (!got.ok() || got.value() != 300) return 2;
              long size = FdTableSize();
              if (size < 300) return 3;  // the kernel rounds up (512), never beyond need
              if (size >= static_cast<long>(kFdTablePresize)) return 4;
              return 0;
            }),
            0);
}

TEST(FdTable, WorksWithStandardDescriptorsClosed) {
  rlim_t want = Wanted();
  if (want <= 1024) GTEST_SKIP() << "SKIPPED: hard RLIMIT_NOFILE " << want << " too low to tell";
  EXPECT_EQ(InChild([want] {
              if (!SetSoftLimit(want)) return 1;
              close(0);
              close(1);
              close(2);
              int before = OpenDescriptors();
              Result<size_t> got = GrowFdTable(want);
              if (!got.ok() || got.value() != want) return 2;
              if (FdTableSize() < static_cast<long>(want)) return 3;
              if (OpenDescriptors() != before) return 4;
              if (fcntl(0, F_GETFD) >= 0) return 5;  // 0 stays closed
              return 0;
            }),
            0);
}

TEST(FdTable, ZeroSlotsChangesNothing) {
  Result<size_t> got = GrowFdTable(0);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got.value(), 0u);
}

}  // namespace
}  // namespace dfs::fs
