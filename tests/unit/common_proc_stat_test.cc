// ReadProcStat / ProcessLiveness / OwnNamespace (common/proc_stat.h) against real processes: this
// one, a zombie child, a reaped one, and children whose names hold ")", spaces and a newline.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "common/proc_stat.h"

namespace {

using dfs::Liveness;

TEST(ProcStat, ThisProcessRuns) {
  const auto st = dfs::ReadProcStat(getpid());
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->state, 'R');
  EXPECT_GT(st->start_ticks, 0u);
  EXPECT_EQ(dfs::ProcessLiveness(getpid(), std::nullopt), Liveness::kRunning);
  EXPECT_EQ(dfs::ProcessLiveness(getpid(), st->start_ticks), Liveness::kRunning);
  // Another start time: a later process that was given this ID.
  EXPECT_EQ(dfs::ProcessLiveness(getpid(), st->start_ticks + 1), Liveness::kGone);
}

TEST(ProcStat, ZombieIsNotRunningAndReapedIsGone) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(0);
  // Wait until it is a zombie, without reaping it.
  siginfo_t info{};
  ASSERT_EQ(waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  const auto st = dfs::ReadProcStat(child);
  EXPECT_EQ(dfs::ProcessLiveness(child, std::nullopt), Liveness::kGone);
  ASSERT_EQ(waitpid(child, nullptr, 0), child);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(st->state, 'Z');
  const auto gone = dfs::ReadProcStat(child);
  EXPECT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), dfs::Code::kNotFound);
  EXPECT_EQ(dfs::ProcessLiveness(child, std::nullopt), Liveness::kGone);
}

// A child named `name` that waits to be killed; its /proc/PID/stat once it sleeps.
dfs::Result<dfs::ProcStat> StatOfNamedChild(const char* name) {
  const pid_t child = fork();
  if (child < 0) return dfs::Status::FromErrno(errno, "fork");
  if (child == 0) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
    for (;;) pause();
  }
  // Until the child has named itself and sleeps (state S), at most 5 s.
  dfs::Result<dfs::ProcStat> st = dfs::Status(dfs::Code::kUnavailable, "child never slept");
  for (int i = 0; i < 500; ++i) {
    auto now = dfs::ReadProcStat(child);
    if (now.ok() && now->state == 'S') {
      st = now;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  return st;
}

TEST(ProcStat, NamesWithParenthesesSpacesAndNewline) {
  const auto self = dfs::ReadProcStat(getpid());
  ASSERT_TRUE(self.ok());
  for (const char* name : {"a) S 1 (b ) 9", "x\ny) Z 7", ") )"}) {
    const auto st = StatOfNamedChild(name);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_EQ(st->state, 'S');
    // Started after this process and within the test: the name did not shift the fields.
    EXPECT_GE(st->start_ticks, self->start_ticks);
    EXPECT_LT(st->start_ticks - self->start_ticks, 100u * 3600u);
  }
}

TEST(ProcStat, NoSuchProcess) {
  EXPECT_FALSE(dfs::ReadProcStat(0).ok());
  EXPECT_FALSE(dfs::ReadProcStat(-1).ok());
  EXPECT_EQ(dfs::ProcessLiveness(0, std::nullopt), Liveness::kGone);
}

TEST(ProcStat, OwnNamespaces) {
  const auto pid_ns = dfs::OwnNamespace("pid");
  ASSERT_TRUE(pid_ns.has_value());
  EXPECT_EQ(pid_ns->rfind("pid:[", 0), 0u) << *pid_ns;
  EXPECT_FALSE(dfs::OwnNamespace("no-such-namespace").has_value());
}

}  // namespace
