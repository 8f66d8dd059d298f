// Unit tests for fs/device_poll.h over a pipe standing in for /dev/fuse: readiness is reported at
// once, a late writer within the budget is seen, an expired budget returns false without blocking
// beyond it, and a hangup counts as readable (so read() reports it). The busy-host back-off:
// /proc/loadavg's runnable count is parsed exactly, and PollBudget gives no budget while spinning
// threads keep every CPU busy.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fs/device_poll.h"

namespace dfs::fs {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

class DevicePollTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(pipe(p_), 0); }
  void TearDown() override {
    for (int fd : p_) {
      if (fd >= 0) close(fd);
    }
  }
  int p_[2] = {-1, -1};
};

TEST_F(DevicePollTest, ReadableAtOnce) {
  ASSERT_EQ(write(p_[1], "x", 1), 1);
  EXPECT_TRUE(PollReadable(p_[0], microseconds{0}));
  EXPECT_TRUE(PollReadable(p_[0], microseconds{50}));
}

TEST_F(DevicePollTest, ZeroBudgetChecksOnce) { EXPECT_FALSE(PollReadable(p_[0], microseconds{0})); }

TEST_F(DevicePollTest, GivesUpWhenTheBudgetHasPassed) {
  auto t0 = Clock::now();
  EXPECT_FALSE(PollReadable(p_[0], milliseconds{3}));
  EXPECT_GE(Clock::now() - t0, milliseconds{3});  // polled for the whole budget
}

TEST_F(DevicePollTest, SeesARequestArrivingWithinTheBudget) {
  std::thread writer([this] {
    std::this_thread::sleep_for(milliseconds{2});
    ASSERT_EQ(write(p_[1], "x", 1), 1);
  });
  // A budget far beyond the writer's delay: the poll must end with the write, not time out.
  EXPECT_TRUE(PollReadable(p_[0], std::chrono::seconds{10}));
  writer.join();
  char c;
  EXPECT_EQ(read(p_[0], &c, 1), 1);
}

TEST_F(DevicePollTest, HangupCountsAsReadable) {
  close(p_[1]);
  p_[1] = -1;
  EXPECT_TRUE(PollReadable(p_[0], std::chrono::seconds{10}));
}

TEST(RunnableTasksTest, ReadsTheFourthField) {
  EXPECT_EQ(RunnableTasks("0.52 0.58 0.59 3/812 12345\n"), 3);
  EXPECT_EQ(RunnableTasks("12.00 9.10 4.00 17/2048 1"), 17);
  EXPECT_EQ(RunnableTasks("0.00 0.00 0.00 0/1 1"), 0);
}

TEST(RunnableTasksTest, RefusesOtherText) {
  EXPECT_EQ(RunnableTasks(""), std::nullopt);
  EXPECT_EQ(RunnableTasks("0.52 0.58 0.59"), std::nullopt);
  EXPECT_EQ(RunnableTasks("0.52 0.58 0.59 "), std::nullopt);
  EXPECT_EQ(RunnableTasks("0.52 0.58 0.59 3"), std::nullopt);
  EXPECT_EQ(RunnableTasks("0.52 0.58 0.59 x/812 1"), std::nullopt);
  EXPECT_EQ(RunnableTasks("0.52 0.58 0.59 -3/812 1"), std::nullopt);
  EXPECT_EQ(RunnableTasks("0.52 0.58 0.59 3 812 1"), std::nullopt);
}

TEST(HostOversubscribedTest, CountsTheOthersAgainstTheCpus) {
  EXPECT_FALSE(HostOversubscribed(1, 2));  // only the caller
  EXPECT_FALSE(HostOversubscribed(2, 2));  // one CPU idle
  EXPECT_TRUE(HostOversubscribed(3, 2));   // two others for two CPUs
  EXPECT_TRUE(HostOversubscribed(2, 1));
}

TEST(PollBudgetTest, ZeroStaysZero) { EXPECT_EQ(PollBudget(microseconds{0}), microseconds{0}); }

TEST(PollBudgetTest, NoBudgetWhileEveryCpuIsBusy) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  const int cpus = CPU_COUNT(&set);
  std::atomic<bool> stop{false};
  std::vector<std::thread> spinners;
  for (int i = 0; i < cpus + 1; ++i) {
    spinners.emplace_back([&stop] {
      while (!stop.load(std::memory_order_relaxed)) {
      }
    });
  }
  std::this_thread::sleep_for(milliseconds{50});
  // A fresh thread looks at the load on its first call; the spinners alone outnumber the CPUs.
  microseconds got{-1};
  std::thread([&got] { got = PollBudget(microseconds{50}); }).join();
  stop = true;
  for (auto& t : spinners) t.join();
  EXPECT_EQ(got, microseconds{0});
}

TEST(ParseKernelBoolTest, ReadsModuleParameterText) {
  EXPECT_EQ(ParseKernelBool("Y\n"), true);
  EXPECT_EQ(ParseKernelBool("N\n"), false);
  EXPECT_EQ(ParseKernelBool("Y"), true);
  EXPECT_EQ(ParseKernelBool("y"), true);
  EXPECT_EQ(ParseKernelBool("1\n"), true);
  EXPECT_EQ(ParseKernelBool("0"), false);
  EXPECT_EQ(ParseKernelBool(""), std::nullopt);
  EXPECT_EQ(ParseKernelBool("\n"), std::nullopt);
  EXPECT_EQ(ParseKernelBool("Yes"), std::nullopt);
  EXPECT_EQ(ParseKernelBool("2"), std::nullopt);
}

// A stand-in for the fuse module's wake_here parameter.
class WakeHereTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dfs-wake-here.XXXXXX";
    int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = tmpl;
  }
  void TearDown() override { unlink(path_.c_str()); }
  void Set(const char* text) {
    FILE* f = fopen(path_.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs(text, f);
    fclose(f);
  }
  // PollBudget's answer on a fresh thread (which looks at the files on its first call).
  std::pair<microseconds, PollChoice> Fresh(bool follow, const std::string& path) {
    std::pair<microseconds, PollChoice> got{microseconds{-1}, PollChoice::kPolled};
    std::thread([&] {
      got.first = PollBudget(microseconds{50}, follow, path.c_str(), &got.second);
    }).join();
    return got;
  }
  std::string path_;
};

TEST_F(WakeHereTest, NoBudgetWhileTheKernelWakesHere) {
  Set("Y\n");
  auto [budget, choice] = Fresh(true, path_);
  EXPECT_EQ(budget, microseconds{0});
  EXPECT_EQ(choice, PollChoice::kKernelWakes);
}

TEST_F(WakeHereTest, AGivenBudgetIgnoresTheKernel) {
  Set("Y\n");
  auto [budget, choice] = Fresh(false, path_);
  EXPECT_NE(choice, PollChoice::kKernelWakes);
  if (choice == PollChoice::kPolled) {
    EXPECT_EQ(budget, microseconds{50});
  }
}

TEST_F(WakeHereTest, BudgetWhenNotYOrUnreadable) {
  for (const char* text : {"N\n", "0\n", "", "garbage\n"}) {
    Set(text);
    auto [budget, choice] = Fresh(true, path_);
    EXPECT_NE(choice, PollChoice::kKernelWakes) << "text '" << text << "'";
    if (choice == PollChoice::kPolled) {
      EXPECT_EQ(budget, microseconds{50});
    }
  }
  auto [budget, choice] = Fresh(true, path_ + ".absent");
  EXPECT_NE(choice, PollChoice::kKernelWakes);
}

TEST_F(WakeHereTest, AThreadSeesAChangeAfterTheCheckInterval) {
  Set("Y\n");
  std::vector<PollChoice> seen;
  std::thread([&] {
    PollChoice c;
    PollBudget(microseconds{50}, true, path_.c_str(), &c);
    seen.push_back(c);
    Set("N\n");
    std::this_thread::sleep_for(kBusyCheckInterval + milliseconds{2});
    PollBudget(microseconds{50}, true, path_.c_str(), &c);
    seen.push_back(c);
    Set("Y\n");
    std::this_thread::sleep_for(kBusyCheckInterval + milliseconds{2});
    PollBudget(microseconds{50}, true, path_.c_str(), &c);
    seen.push_back(c);
  }).join();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], PollChoice::kKernelWakes);
  EXPECT_NE(seen[1], PollChoice::kKernelWakes);
  EXPECT_EQ(seen[2], PollChoice::kKernelWakes);
}

TEST_F(WakeHereTest, EachCallIsAnsweredForItsOwnArguments) {
  Set("Y\n");
  const std::string other = path_ + ".other";
  {
    FILE* f = fopen(other.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("N\n", f);
    fclose(f);
  }
  std::vector<PollChoice> seen;
  std::thread([&] {
    PollChoice c;
    // All within one look-again interval of each other, on one thread.
    PollBudget(microseconds{50}, true, path_.c_str(), &c);
    seen.push_back(c);  // follows, Y
    PollBudget(microseconds{50}, false, path_.c_str(), &c);
    seen.push_back(c);  // does not follow: never the answer of the call before
    PollBudget(microseconds{50}, true, other.c_str(), &c);
    seen.push_back(c);  // another file, N: looked at at once
    PollBudget(microseconds{50}, true, path_.c_str(), &c);
    seen.push_back(c);  // back to the first, Y: looked at at once
    PollBudget(microseconds{50}, true, nullptr, &c);
    seen.push_back(c);  // no file: not followed
  }).join();
  unlink(other.c_str());
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0], PollChoice::kKernelWakes);
  EXPECT_NE(seen[1], PollChoice::kKernelWakes);
  EXPECT_NE(seen[2], PollChoice::kKernelWakes);
  EXPECT_EQ(seen[3], PollChoice::kKernelWakes);
  EXPECT_NE(seen[4], PollChoice::kKernelWakes);
}

TEST_F(WakeHereTest, AFileThatAppearsLaterIsFollowed) {
  const std::string later = path_ + ".later";
  std::vector<PollChoice> seen;
  std::thread([&] {
    PollChoice c;
    PollBudget(microseconds{50}, true, later.c_str(), &c);
    seen.push_back(c);  // absent: polls
    FILE* f = fopen(later.c_str(), "w");
    if (f != nullptr) {
      fputs("Y\n", f);
      fclose(f);
    }
    std::this_thread::sleep_for(kBusyCheckInterval + milliseconds{2});
    PollBudget(microseconds{50}, true, later.c_str(), &c);
    seen.push_back(c);  // opened at the next look
  }).join();
  unlink(later.c_str());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_NE(seen[0], PollChoice::kKernelWakes);
  EXPECT_EQ(seen[1], PollChoice::kKernelWakes);
}

}  // namespace
}  // namespace dfs::fs
