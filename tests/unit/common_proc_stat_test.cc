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

// Fields 3..22 after the name; 22 (start time) = 4242.
constexpr const char* kTail = " S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 99 100\n";

bool Parse(const std::string& text, dfs::ProcStat* out) {
  return dfs::ParseProcStat(text.data(), text.size(), out);
}

TEST(ProcStat, ParsesCraftedLines) {
  dfs::ProcStat st;
  ASSERT_TRUE(Parse(std::string("77 (sh)") + kTail, &st));
  EXPECT_EQ(st.state, 'S');
  EXPECT_EQ(st.start_ticks, 4242u);
  ASSERT_TRUE(Parse(std::string("77 (a) Z 9 (b\n) )") + kTail, &st));
  EXPECT_EQ(st.state, 'S');
  EXPECT_EQ(st.start_ticks, 4242u);
  // Exactly 22 fields, no newline.
  ASSERT_TRUE(Parse("1 (x) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 5", &st));
  EXPECT_EQ(st.start_ticks, 5u);
}

TEST(ProcStat, RejectsMalformedLines) {
  dfs::ProcStat st;
  EXPECT_FALSE(Parse("", &st));
  EXPECT_FALSE(Parse("77 sh S 1", &st));        // no ')'
  EXPECT_FALSE(Parse("77 (sh) S 1 2 3", &st));  // too few fields
  EXPECT_FALSE(Parse("77 (sh)S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4", &st));
  EXPECT_FALSE(Parse("77 (sh) SS 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4", &st));
  EXPECT_FALSE(Parse("77 (sh) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4x", &st));
  EXPECT_FALSE(Parse("77 (sh) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 -4", &st));
  EXPECT_FALSE(
      Parse("77 (sh) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 "
            "99999999999999999999999",
            &st));  // overflows 64 bits
  EXPECT_FALSE(Parse("77 (sh) S  1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4", &st));
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
