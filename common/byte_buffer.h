// common/byte_buffer.h: ByteBuffer, a byte vector whose growth leaves the new bytes
// uninitialized, for scratch buffers that read(2)-like calls fill before anything reads them.
//
// std::vector<uint8_t>::resize() zero-fills every byte it adds. A thread's reused scratch buffer
// is shrunk and grown again for each file or request it serves, so the zeroing is paid again and
// again (measured: 13% of the daemon's CPU time in a first pass, docs/benchmarks.md). ByteBuffer
// is the same vector with an allocator whose value-initialization does nothing for trivial types.
//
// Contract for users: after resize(n), bytes beyond what was written before are indeterminate;
// use only the bytes a read call reports as filled. Everything else (growth, moves, data()) is
// std::vector's.
#pragma once

#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace dfs {

// An allocator that default-initializes instead of value-initializing: construct(p) with no
// arguments runs `new (p) U` (nothing at all for uint8_t), every other construct is unchanged.
template <class T>
class DefaultInitAllocator : public std::allocator<T> {
 public:
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}

  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

using ByteBuffer = std::vector<uint8_t, DefaultInitAllocator<uint8_t>>;

// Grows `*b` to at least `n` bytes (never shrinks it) and writes one byte in every page of it, so
// that the buffer's pages are resident before the first real use. Each first touch of a page of
// new memory is a page fault; on the 2-vCPU VMs of docs/benchmarks.md one costs about 10 us
// (2.7 ms per MiB), which a thread's first hash or read would otherwise pay on a request's path.
// Call it where a thread starts, for the buffers that thread will use. It writes a zero at the
// start of each page; the other bytes keep what they held (indeterminate where resize added them).
inline void Prefault(ByteBuffer* b, size_t n) {
  if (b->size() < n) b->resize(n);
  constexpr size_t kStride = 4096;  // the smallest page size Linux uses; larger pages are covered too
  uint8_t* p = b->data();
  for (size_t i = 0; i < b->size(); i += kStride) p[i] = 0;
}

}  // namespace dfs
