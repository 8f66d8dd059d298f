// crypto/block_mac.h: keyed tags of file blocks, for verify=blocks. AES-256-GMAC (NIST SP
// 800-38D) under a key drawn from OpenSSL's private RNG when the BlockMac is made; the key and the
// tags never leave the process. A tag is about five times cheaper to compute than a SHA-256 of the
// same bytes (GHASH with carry-less multiply), which is what makes checking every page fill cheap.
//
// Nonces: GMAC needs a nonce never used twice under one key. Tags of one version of one file (a
// "series") are computed under nonce = series (48 bits) || block index (48 bits); NewSeries() hands
// out each series once. Verifying a block recomputes its tag under the nonce it was made with;
// that reuse is the verifier's, not a second message under that nonce.
//
// Forgery: a different block of at most L bytes gets the same tag with probability at most
// about (L/16 + 1) / 2^128 per attempt, for an attacker who sees neither key nor tags.
//
// Thread safety: all methods may be called from any thread (one OpenSSL context per thread).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "common/status.h"

namespace dfs {

class BlockMac {
 public:
  static constexpr size_t kTagSize = 16;
  static constexpr uint64_t kMaxSeries = (uint64_t{1} << 48) - 1;
  static constexpr uint64_t kMaxIndex = (uint64_t{1} << 48) - 1;
  using Tag = std::array<uint8_t, kTagSize>;

  // Draws the key. Never fails: if the RNG fails, every Compute() fails (callers fail closed).
  BlockMac();
  // Under a given key: for known-answer tests only (a mount's key must come from the RNG).
  explicit BlockMac(const std::array<uint8_t, 32>& key);
  ~BlockMac();
  BlockMac(const BlockMac&) = delete;
  BlockMac& operator=(const BlockMac&) = delete;

  // A series not handed out before. Errors: kUnavailable after 2^48 - 1 series.
  Result<uint64_t> NewSeries();

  // The tag of `len` bytes at `data` as block `index` of `series`.
  // Errors: kInternal (no key: the RNG failed; an OpenSSL failure), kInvalidArgument (index or
  // series out of range).
  Result<Tag> Compute(uint64_t series, uint64_t index, const uint8_t* data, size_t len) const;

  // Whether `expected` (kTagSize bytes) is the tag of these bytes; compared in constant time.
  // False on any error of Compute() as well (callers fail closed).
  bool Verify(uint64_t series, uint64_t index, const uint8_t* data, size_t len,
              const uint8_t* expected) const;

 private:
  std::array<uint8_t, 32> key_{};
  bool have_key_ = false;
  std::atomic<uint64_t> next_series_{1};
};

}  // namespace dfs
