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
#include <thread>
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

}  // namespace
}  // namespace dfs::fs
