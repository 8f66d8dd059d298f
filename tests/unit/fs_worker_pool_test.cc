// WorkerPool fairness (issue 14 item 6): one key's long tasks cannot hold every worker while
// another key's task waits, and tasks of one key run in submission order.
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "fs/worker_pool.h"

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
  ASSERT_TRUE(pool.Start(4).ok());
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
  ASSERT_TRUE(pool.Start(2).ok());  // limit 1 per key
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
  ASSERT_TRUE(pool.Start(0).ok());
  bool ran = false;
  pool.Submit([&] { ran = true; }, 7);
  EXPECT_TRUE(ran);
}

TEST(WorkerPool, OneWorkerServesEveryKey) {
  WorkerPool pool;
  ASSERT_TRUE(pool.Start(1).ok());
  EXPECT_EQ(pool.per_key_limit(), 1u);
  std::atomic<int> n{0};
  for (int i = 0; i < 10; ++i) pool.Submit([&] { n++; }, static_cast<uint32_t>(i % 3));
  pool.Stop();
  EXPECT_EQ(n.load(), 10);
}

// The OS refuses the third of four threads (RLIMIT_NPROC of a user with no other process): Start
// answers an error instead of throwing, and returns only after the two threads it made have left
// on_start (they count down a latch on Start's frame) and have been stopped. Runs in a child that
// drops root, since root is exempt from RLIMIT_NPROC.
TEST(WorkerPool, RefusedThreadIsAnErrorAndNoneKeepRunning) {
  if (geteuid() != 0) GTEST_SKIP() << "SKIPPED: needs root to switch to an unused uid";
  constexpr uid_t kUid = 61917;  // a uid no account or process uses
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(kUid) != 0 || setuid(kUid) != 0) _exit(10);
    // This process is the user's only task: it and two threads fit, a third does not.
    struct rlimit rl = {3, 3};
    if (setrlimit(RLIMIT_NPROC, &rl) != 0) _exit(11);
    WorkerPool pool;
    std::atomic<int> prepared{0};
    Status st = pool.Start(4, [&] {
      std::this_thread::sleep_for(200ms);
      prepared++;
    });
    if (st.ok()) _exit(12);
    if (st.sys_errno() != EAGAIN) _exit(13);
    if (st.message().find("worker thread 3 of 4") == std::string::npos) _exit(14);
    if (prepared.load() != 2) _exit(15);  // returned before its threads left on_start
    if (pool.size() != 0) _exit(16);
    bool ran = false;
    pool.Submit([&] { ran = true; });  // without threads: inline
    if (!ran) _exit(17);
    _exit(0);
  }
  int ws = 0;
  ASSERT_EQ(waitpid(pid, &ws, 0), pid);
  ASSERT_TRUE(WIFEXITED(ws)) << "child died, status " << ws;
  EXPECT_EQ(WEXITSTATUS(ws), 0) << "10-11: could not drop root or set the limit; 12: Start "
                                   "succeeded; 13: not EAGAIN; 14: message; 15: returned "
                                   "before on_start ended; 16: threads left; 17: not inline";
}

}  // namespace
}  // namespace dfs::fs
