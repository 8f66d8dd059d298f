// ReadProcStat / ProcessRunning (common/proc_stat.h) against real processes: this one, a zombie
// child, a reaped one, and a process whose name has ")" and spaces in it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/proc_stat.h"

namespace {

TEST(ProcStat, ThisProcessRuns) {
  const auto st = dfs::ReadProcStat(getpid());
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state, 'R');
  EXPECT_GT(st->start_ticks, 0u);
  EXPECT_TRUE(dfs::ProcessRunning(getpid(), std::nullopt));
  EXPECT_TRUE(dfs::ProcessRunning(getpid(), st->start_ticks));
  // Another start time: a later process that was given this ID.
  EXPECT_FALSE(dfs::ProcessRunning(getpid(), st->start_ticks + 1));
}

TEST(ProcStat, ZombieIsNotRunningAndReapedIsGone) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  // Wait until it is a zombie, without reaping it.
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  const auto st = dfs::ReadProcStat(child);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->state, 'Z');
  EXPECT_FALSE(dfs::ProcessRunning(child, std::nullopt));
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  EXPECT_FALSE(dfs::ReadProcStat(child).has_value());
  EXPECT_FALSE(dfs::ProcessRunning(child, std::nullopt));
}

TEST(ProcStat, NameWithParenthesesAndSpaces) {
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    prctl(PR_SET_NAME, "a) S 1 (b ) 9", 0, 0, 0);
    (void)!write(ready[1], "x", 1);
    pause();
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  const auto st = dfs::ReadProcStat(child);
  const auto self = dfs::ReadProcStat(getpid());
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  ASSERT_TRUE(st.has_value());
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(st->state, 'S');
  // Started after this process, so not before it in ticks; the name did not shift the fields.
  EXPECT_GE(st->start_ticks, self->start_ticks);
  EXPECT_LT(st->start_ticks - self->start_ticks, 100u * 3600u);
}

TEST(ProcStat, NoSuchProcess) {
  EXPECT_FALSE(dfs::ReadProcStat(0).has_value());
  EXPECT_FALSE(dfs::ReadProcStat(-1).has_value());
  EXPECT_FALSE(dfs::ProcessRunning(0, std::nullopt));
}

}  // namespace
