// fs/worker_pool.h: a fixed set of threads that run operations which may block for long (reads
// and writes that reach the disk, fsync, fallocate, copy_file_range, directory reads, opens that a
// Gate must hash), so the session thread keeps serving the cheap, frequent requests (lookup,
// getattr, open, release) itself, without a thread hand-off per request.
//
// Thread safety: Submit may be called from any thread. Tasks run in FIFO order of submission on
// whichever worker is free; they must not throw (Passthrough::Offload wraps each FUSE task in an
// exception barrier that logs and answers EIO).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dfs::fs {

class WorkerPool {
 public:
  WorkerPool() = default;
  ~WorkerPool() { Stop(); }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Starts n threads (n == 0: Submit runs tasks inline).
  void Start(unsigned n);
  // Runs task on a worker (or inline without workers).
  void Submit(std::function<void()> task);
  // Finishes queued tasks and joins the threads.
  void Stop();
  unsigned size() const { return static_cast<unsigned>(threads_.size()); }

 private:
  void Loop();

  std::mutex mu_;  // guards queue_ and stop_; a leaf lock
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace dfs::fs
