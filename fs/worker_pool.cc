#include "fs/worker_pool.h"

#include <algorithm>
#include <latch>
#include <string>
#include <system_error>

namespace dfs::fs {

Status WorkerPool::Start(unsigned n, const std::function<void()>& on_start) {
  per_key_limit_ = n >= 2 ? n - 1 : std::max(n, 1u);
  // Each new thread counts down once its on_start has returned. The latch lives on this frame,
  // so no path may leave before every thread that was made has counted down.
  std::latch started(n);
  for (unsigned i = 0; i < n; ++i) {
    try {
      threads_.emplace_back([this, &on_start, &started] {
        if (on_start) on_start();
        started.count_down();
        Loop();
      });
    } catch (const std::system_error& e) {
      // The OS refused thread i (EAGAIN: a thread or memory limit). Stand in for the threads
      // never made; Stop joins the ones that were, after they count down: none or all n run.
      started.count_down(n - i);
      Stop();
      stop_ = false;
      per_key_limit_ = 1;
      return Status::FromErrno(e.code().value(), "starting worker thread " + std::to_string(i + 1) +
                                                     " of " + std::to_string(n));
    }
  }
  started.wait();
  return Status::Ok();
}

void WorkerPool::Submit(std::function<void()> task, uint32_t key) {
  if (threads_.empty()) {
    task();
    return;
  }
  {
    std::lock_guard lock(mu_);
    KeyQueue& q = keys_[key];
    if (q.tasks.empty()) order_.push_back(key);
    q.tasks.push_back(std::move(task));
  }
  // Any idle worker can take it, or none can (its key is at its limit; a worker that finishes
  // one of that key's tasks looks again before it sleeps).
  cv_.notify_one();
}

void WorkerPool::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::map<uint32_t, WorkerPool::KeyQueue>::iterator WorkerPool::NextRunnable() {
  for (auto it = order_.begin(); it != order_.end(); ++it) {
    auto k = keys_.find(*it);
    if (k->second.running < per_key_limit_) {
      order_.erase(it);
      return k;
    }
  }
  return keys_.end();
}

void WorkerPool::Loop() {
  std::unique_lock lock(mu_);
  for (;;) {
    auto k = keys_.end();
    cv_.wait(lock, [&] {
      k = NextRunnable();
      return k != keys_.end() || (stop_ && order_.empty());
    });
    if (k == keys_.end()) return;  // stop_ and drained
    const uint32_t key = k->first;
    KeyQueue& q = k->second;
    auto task = std::move(q.tasks.front());
    q.tasks.pop_front();
    if (!q.tasks.empty()) order_.push_back(key);  // its next task waits for its next turn
    q.running++;
    lock.unlock();
    task();
    lock.lock();
    auto done = keys_.find(key);
    done->second.running--;
    if (done->second.running == 0 && done->second.tasks.empty()) {
      keys_.erase(done);
    } else if (!done->second.tasks.empty()) {
      // This key may have been at its limit with tasks queued: another worker may take one now.
      cv_.notify_one();
    }
  }
}

}  // namespace dfs::fs
