#include "policy/content_cache.h"

namespace dfs {

StatKey StatKey::From(const struct stat& st) {
  StatKey k;
  k.size = static_cast<uint64_t>(st.st_size);
  k.mtime_sec = st.st_mtim.tv_sec;
  k.mtime_nsec = st.st_mtim.tv_nsec;
  k.ctime_sec = st.st_ctim.tv_sec;
  k.ctime_nsec = st.st_ctim.tv_nsec;
  return k;
}

std::shared_ptr<const Content> ContentCache::Peek(uint64_t dev, uint64_t ino, const struct stat& st,
                                                  bool need_blocks) const {
  const StatKey key = StatKey::From(st);
  std::lock_guard lock(mu_);
  auto it = slots_.find(std::make_pair(dev, ino));
  if (it == slots_.end()) return nullptr;
  const auto& c = it->second.content;
  if (c && c->key == key && (!need_blocks || c->blocks)) return c;
  return nullptr;
}

Result<std::shared_ptr<const Content>> ContentCache::Get(uint64_t dev, uint64_t ino,
                                                         const struct stat& st, bool need_blocks,
                                                         const Compute& compute, bool* hit,
                                                         bool wait) {
  const StatKey key = StatKey::From(st);
  const auto id = std::make_pair(dev, ino);
  std::unique_lock lock(mu_);
  if (hit) *hit = false;
  for (;;) {
    Slot& slot = slots_[id];
    if (slot.content && slot.content->key == key && (!need_blocks || slot.content->blocks)) {
      if (hit) *hit = true;
      return slot.content;
    }
    if (!slot.flight || slot.flight->key != key || (!slot.flight->blocks && need_blocks)) break;
    // Someone is hashing this very version already: share their result.
    if (!wait) return Status(Code::kUnavailable, "being hashed by another thread", EAGAIN);
    std::shared_ptr<Flight> f = slot.flight;
    cv_.wait(lock, [&] { return f->done; });
    if (f->result.ok() || f->result.status().sys_errno() != EAGAIN) return f->result;
    // That computation gave up without an answer: look again (and compute, if no one else does).
  }
  Slot& slot = slots_[id];
  auto flight = std::make_shared<Flight>();
  flight->key = key;
  flight->blocks = need_blocks;
  slot.flight = flight;
  const uint64_t epoch = slot.epoch;
  lock.unlock();

  Result<std::shared_ptr<const Content>> r = compute();

  lock.lock();
  flight->result = r;
  flight->done = true;
  Slot& s = slots_[id];  // the map may have rehashed; look the slot up again
  if (s.flight == flight) {
    s.flight.reset();
    if (r.ok() && s.epoch == epoch) {
      if (slots_.size() > max_entries_) {
        // Crude bound: forget everything no one is waiting on. Entries are recomputed on demand.
        for (auto it = slots_.begin(); it != slots_.end();) {
          if (!it->second.flight && it->first != id) {
            it = slots_.erase(it);
            evictions_.fetch_add(1, std::memory_order_relaxed);
          } else {
            ++it;
          }
        }
      }
      slots_[id].content = *r;
    }
  }
  lock.unlock();
  cv_.notify_all();
  return r;
}

void ContentCache::Replace(const std::shared_ptr<const Content>& expected,
                           std::shared_ptr<const Content> c) {
  std::lock_guard lock(mu_);
  auto it = slots_.find({c->dev, c->ino});
  if (expected) {
    if (it == slots_.end() || it->second.content != expected) return;  // dropped or replaced
    it->second.content = std::move(c);
    return;
  }
  slots_[{c->dev, c->ino}].content = std::move(c);
}

void ContentCache::Drop(uint64_t dev, uint64_t ino) {
  std::lock_guard lock(mu_);
  auto it = slots_.find({dev, ino});
  if (it == slots_.end()) return;
  it->second.content.reset();
  ++it->second.epoch;
  if (!it->second.flight) slots_.erase(it);
}

size_t ContentCache::size() const {
  std::lock_guard lock(mu_);
  return slots_.size();
}

}  // namespace dfs
