// WorkerPool fairness (issue 14 item 6): one key's long tasks cannot hold every worker while
// another key's task waits, and tasks of one key run in submission order.
#include "fs/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace dfs::fs {
namespace {

using namespace std::chrono_literals;

// A gate the "long" tasks wait on until the test opens it.
struct Latch {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void Wait() {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return open; });
  }
  void Open() {
    {
      std::lock_guard l(mu);
      open = true;
    }
    cv.notify_all();
  }
};

TEST(WorkerPool, OneKeyLeavesAWorkerForOthers) {
  WorkerPool pool;
  pool.Start(4);
  EXPECT_EQ(pool.per_key_limit(), 3u);
  Latch latch;
  std::atomic<int> hog_started{0}, hog_done{0};
  for (int i = 0; i < 8; ++i) {
    pool.Submit(
        [&] {
          hog_started++;
          latch.Wait();
          hog_done++;
        },
        /*key=*/1000);
  }
  std::atomic<bool> other_ran{false};
  pool.Submit([&] { other_ran = true; }, /*key=*/1001);
  // The other key's task runs while every hog task still waits (with FIFO it would wait for
  // five of them to finish, i.e. forever here).
  for (int i = 0; i < 500 && !other_ran; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_TRUE(other_ran.load());
  EXPECT_EQ(hog_done.load(), 0);
  EXPECT_EQ(hog_started.load(), 3);  // the hog holds its share, no more
  latch.Open();
  pool.Stop();  // drains the queue
  EXPECT_EQ(hog_done.load(), 8);
}

TEST(WorkerPool, RoundRobinAmongKeysAndOrderWithinKey) {
  WorkerPool pool;
  pool.Start(2);  // limit 1 per key
  Latch latch;
  std::mutex mu;
  std::vector<int> ran;
  // Key 1 blocks its single share; keys 2 and 3 queue three tasks each on the other worker.
  pool.Submit([&] { latch.Wait(); }, 1);
  std::this_thread::sleep_for(50ms);
  Latch hold;
  pool.Submit([&] { hold.Wait(); }, 2);
  std::this_thread::sleep_for(50ms);  // the second worker now runs key 2's first task
  for (int i = 0; i < 3; ++i) {
    pool.Submit(
        [&, i] {
          std::lock_guard l(mu);
          ran.push_back(20 + i);
        },
        2);
    pool.Submit(
        [&, i] {
          std::lock_guard l(mu);
          ran.push_back(30 + i);
        },
        3);
  }
  hold.Open();
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard l(mu);
      if (ran.size() == 6) break;
    }
    std::this_thread::sleep_for(10ms);
  }
  latch.Open();
  pool.Stop();
  // Keys alternate (key 2 queued first); within a key, submission order.
  EXPECT_EQ(ran, (std::vector<int>{20, 30, 21, 31, 22, 32}));
}

TEST(WorkerPool, WithoutWorkersRunsInline) {
  WorkerPool pool;
  pool.Start(0);
  bool ran = false;
  pool.Submit([&] { ran = true; }, 7);
  EXPECT_TRUE(ran);
}

TEST(WorkerPool, OneWorkerServesEveryKey) {
  WorkerPool pool;
  pool.Start(1);
  EXPECT_EQ(pool.per_key_limit(), 1u);
  std::atomic<int> n{0};
  for (int i = 0; i < 10; ++i) pool.Submit([&] { n++; }, static_cast<uint32_t>(i % 3));
  pool.Stop();
  EXPECT_EQ(n.load(), 10);
}

}  // namespace
}  // namespace dfs::fs
