// crypto/hash.h: streaming digests with OpenSSL's EVP API. The only place that hashes.
//
// Thread safety: a Hasher is used by one thread at a time; distinct Hashers are independent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/digest.h"
#include "common/status.h"

namespace dfs {

class Hasher {
 public:
  // Fails with kUnsupported if OpenSSL lacks the algorithm.
  static Result<Hasher> Create(HashAlgo algo);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  void Update(const void* data, size_t len);
  void Update(std::span<const uint8_t> s) { Update(s.data(), s.size()); }
  // Finishes and returns the digest; the Hasher is reset and may be reused.
  Digest Finish();
  HashAlgo algo() const { return algo_; }

 private:
  struct Ctx;
  Hasher(HashAlgo algo, std::unique_ptr<Ctx> ctx);
  HashAlgo algo_;
  std::unique_ptr<Ctx> ctx_;
};

// One-shot digest of a buffer.
Result<Digest> HashBytes(HashAlgo algo, const void* data, size_t len);
inline Result<Digest> HashBytes(HashAlgo algo, std::string_view s) {
  return HashBytes(algo, s.data(), s.size());
}

// Observer for HashFd: sees each block as it is hashed (used to record per-block digests).
struct HashFdOptions {
  size_t chunk = 1 << 20;  // read size; large reads keep hashing near memory speed
  size_t block_size = 0;   // if non-zero, on_block is called once per block of this size
  // Called with (block index, block bytes); may be empty.
  void (*on_block)(void* arg, uint64_t index, const uint8_t* data, size_t len) = nullptr;
  void* arg = nullptr;
  // Called before each chunk is read; true stops the hash with an error whose errno is EINTR
  // (the opener that asked for it has gone). May be null.
  bool (*stop)(void* stop_arg) = nullptr;
  void* stop_arg = nullptr;
  // If non-zero, on_block is set and the file (fstat at the start) is at least this large, the
  // reads and on_block run on a second thread, a chunk ahead of the digest on this one (two
  // buffers of max(chunk, 4 MiB)): the same bytes are hashed and observed, in the same order, and
  // on_block has returned for every block when HashFd returns. Without a second thread (it cannot
  // be started) the file is hashed as without this option.
  uint64_t pipeline_min = 0;
  // If non-zero: a file that turns out longer than this many bytes (it grew while it was read) is
  // not hashed to its end: kFull once more than max_bytes have been read.
  uint64_t max_bytes = 0;
};

// Hashes an open regular file from offset 0 to EOF with pread (the fd's offset is untouched).
// Returns the digest and, in *size_out if given, the number of bytes hashed.
// Errors: kIo with errno for a failing read; kUnavailable with errno EINTR when opts.stop said so;
// kFull when more than opts.max_bytes were read.
Result<Digest> HashFd(int fd, HashAlgo algo, uint64_t* size_out = nullptr,
                      const HashFdOptions& opts = {});

// Optional, once per thread that will call HashFd: makes the calling thread's read buffer for
// chunks of `chunk` bytes resident now (common/byte_buffer.h, Prefault), so that its first HashFd
// takes no page faults on it. The buffer is the thread's for its life (it is kept between calls
// anyway). The pipelined path's buffers (pipeline_min) are not prepared.
void PrepareHashFd(size_t chunk = size_t{1} << 20);

}  // namespace dfs
