// fs/worker_pool.h: a fixed set of threads that run operations which may block for long (reads
// and writes that reach the disk, fsync, fallocate, copy_file_range, directory reads, opens that a
// Gate must hash), so the session thread keeps serving the cheap, frequent requests (lookup,
// getattr, open, release) itself, without a thread hand-off per request.
//
// Fairness: every task carries a key (fs/ passes the calling user's uid). Queued tasks are taken
// round-robin over keys, and with two or more workers no key runs on more than `workers - 1` of
// them at once, so one user's long hashes (huge files) cannot hold every worker while another
// user's open waits: at least one worker is always left to the other keys. Within one key tasks
// run in the order they were submitted. The cap leaves a worker idle when only one key has work
// and more tasks than workers - 1; that costs little (the work is one user's) and is what keeps
// a worker free for the next user.
//
// Thread safety: Submit may be called from any thread. Tasks must not throw
// (Passthrough::Offload wraps each FUSE task in an exception barrier that logs and answers EIO).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "common/status.h"

namespace dfs::fs {

class WorkerPool {
 public:
  WorkerPool() = default;
  ~WorkerPool() { Stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts n threads (n == 0: Submit runs tasks inline). `on_start` (may be empty) runs first on
  // each new thread; Start returns once it has returned on all of them. If the OS refuses a
  // thread, the ones already made finish on_start and are stopped, the pool is left without
  // threads, and the error (kIo, errno EAGAIN as a rule) says which thread failed.
  Status Start(unsigned n, const std::function<void()>& on_start = {});
  // Runs task on a worker (or inline without workers), fairly among keys (see above).
  void Submit(std::function<void()> task, uint32_t key = 0);
  // Finishes queued tasks and joins the threads.
  void Stop();
  unsigned size() const { return static_cast<unsigned>(threads_.size()); }
  // Most workers one key may occupy at once.
  unsigned per_key_limit() const { return per_key_limit_; }

 private:
  struct KeyQueue {
    std::deque<std::function<void()>> tasks;
    unsigned running = 0;
  };
  void Loop();
  // A key with queued tasks and a free share, in round-robin order, or keys_.end().
  std::map<uint32_t, KeyQueue>::iterator NextRunnable();

  std::mutex mu_;  // guards everything below except threads_; a leaf lock
  std::condition_variable cv_;
  std::map<uint32_t, KeyQueue> keys_;  // keys with queued or running tasks
  std::deque<uint32_t> order_;         // keys with queued tasks, in round-robin order
  unsigned per_key_limit_ = 1;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace dfs::fs
