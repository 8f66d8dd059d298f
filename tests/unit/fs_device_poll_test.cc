// Unit tests for fs/device_poll.h over a pipe standing in for /dev/fuse: readiness is reported at
// once, a late writer within the budget is seen, an expired budget returns false without blocking
// beyond it, and a hangup counts as readable (so read() reports it).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <thread>

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

}  // namespace
}  // namespace dfs::fs
