// policy/content_cache.h: the verdict cache. Per inode, what the enforcer learnt about one version
// of its content: the digests, the store's answer for them, and (verify=blocks) the block digests.
//
// Validity: an entry counts only while the inode's (size, mtime, ctime) equal those it was hashed
// under (dev and ino are the map key); the store generation it was looked up under is checked by
// the enforcer, which re-runs only the lookup (not the hash) when the generation moved.
// Single flight: concurrent Get() calls for one inode that all miss share one computation.
// Drop() (Gate::Changed) removes an entry at once; a computation still running when Drop() is
// called is handed to its waiters but not cached.
//
// Thread safety: all methods may be called from any thread. Lock order: mu_ only; compute() runs
// without it.
#pragma once

#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "cache/store.h"
#include "common/digest.h"
#include "common/status.h"

namespace dfs {

// (size, mtime, ctime): what must not change for a cached content to stay valid.
struct StatKey {
  uint64_t size = 0;
  int64_t mtime_sec = 0, mtime_nsec = 0, ctime_sec = 0, ctime_nsec = 0;
  static StatKey From(const struct stat& st);
  friend bool operator==(const StatKey&, const StatKey&) = default;
};

// verify=blocks: a keyed tag (crypto/block_mac.h, GMAC) of each block of the file as hashed.
struct BlockDigests {
  size_t block_size = 0;
  uint64_t file_size = 0;
  uint64_t series = 0;       // the BlockMac series the tags were computed under
  std::vector<uint8_t> tags;  // 16 bytes per block, block i at [16*i, 16*i+16)
  size_t count() const { return tags.size() / 16; }
};

// One version of one inode's content. Immutable once published in the cache.
struct Content {
  uint64_t dev = 0, ino = 0;
  StatKey key;
  std::vector<Digest> digests;                 // one per configured algorithm, primary first
  std::shared_ptr<const BlockDigests> blocks;  // only when hashed with verify=blocks
  uint64_t generation = 0;                     // store generation `lookup` was made under
  LookupResult lookup;                         // merged over `digests`
  const Digest& primary() const { return digests.front(); }
};

class ContentCache {
 public:
  using Compute = std::function<Result<std::shared_ptr<const Content>>()>;

  explicit ContentCache(size_t max_entries = 1 << 20) : max_entries_(max_entries) {}

  // Returns the valid entry for (dev, ino, st), or runs `compute` (once per inode for all
  // concurrent callers) and caches its result. `need_blocks`: an entry without block digests does
  // not count. *hit (if given) tells whether the answer came from the cache without waiting.
  // wait == false: if another thread is computing this version, returns kUnavailable with errno
  // EAGAIN at once instead of waiting for it. A computation that fails with errno EAGAIN gave up
  // (an inline attempt that would have blocked): it is not cached, and whoever waited for it
  // computes again instead of sharing the failure.
  Result<std::shared_ptr<const Content>> Get(uint64_t dev, uint64_t ino, const struct stat& st,
                                             bool need_blocks, const Compute& compute,
                                             bool* hit = nullptr, bool wait = true);

  // The valid entry for (dev, ino, st), or null. Never computes and never waits for a running
  // computation (used to decide an open inline, on a thread that must not block).
  std::shared_ptr<const Content> Peek(uint64_t dev, uint64_t ino, const struct stat& st,
                                      bool need_blocks) const;

  // Replaces the entry of c->dev/c->ino with `c` if the current entry is `expected` (or, with
  // expected == nullptr, unconditionally). Used after a re-lookup and by mutable re-trust.
  void Replace(const std::shared_ptr<const Content>& expected, std::shared_ptr<const Content> c);

  // Drops the entry of (dev, ino) at once; a running computation is not cached.
  void Drop(uint64_t dev, uint64_t ino);

  size_t size() const;
  // Entries forgotten to keep the cache within max_entries (monotonic).
  uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

 private:
  struct Flight {
    StatKey key;
    bool blocks = false;
    bool done = false;
    Result<std::shared_ptr<const Content>> result{Status(Code::kInternal, "not computed")};
  };
  struct Slot {
    std::shared_ptr<const Content> content;
    std::shared_ptr<Flight> flight;
    uint64_t epoch = 0;  // bumped by Drop(); a flight started under an older epoch is not cached
  };
  struct KeyHash {
    size_t operator()(const std::pair<uint64_t, uint64_t>& k) const {
      return std::hash<uint64_t>()(k.first * 0x9e3779b97f4a7c15ull ^ k.second);
    }
  };

  const size_t max_entries_;
  std::atomic<uint64_t> evictions_{0};
  mutable std::mutex mu_;
  std::condition_variable cv_;  // signalled when any flight completes (guarded by mu_)
  std::unordered_map<std::pair<uint64_t, uint64_t>, Slot, KeyHash> slots_;  // guarded by mu_
};

}  // namespace dfs
