// ByteBuffer and Prefault (common/byte_buffer.h): growth keeps what was there and writes nothing
// new; Prefault grows without shrinking and leaves every page of the buffer resident.
#include "common/byte_buffer.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace dfs {
namespace {

// The allocator's no-argument construct leaves the bytes as they were (what makes resize() not
// zero-fill); construct with a value still writes it.
TEST(ByteBuffer, DefaultConstructWritesNothing) {
  alignas(8) uint8_t mem[16];
  std::memset(mem, 0xab, sizeof mem);
  DefaultInitAllocator<uint8_t> a;
  for (auto& b : mem) a.construct(&b);
  for (uint8_t b : mem) EXPECT_EQ(b, 0xab);
  a.construct(&mem[3], uint8_t{7});
  EXPECT_EQ(mem[3], 7);
}

TEST(ByteBuffer, GrowingKeepsTheBytesWritten) {
  ByteBuffer b;
  b.resize(100);
  for (size_t i = 0; i < 100; ++i) b[i] = static_cast<uint8_t>(i);
  b.resize(1 << 20);  // reallocates: the 100 bytes move with it
  for (size_t i = 0; i < 100; ++i) ASSERT_EQ(b[i], static_cast<uint8_t>(i)) << i;
  b.resize(10);
  b.resize(50);  // within capacity
  for (size_t i = 0; i < 10; ++i) ASSERT_EQ(b[i], static_cast<uint8_t>(i)) << i;
}

// Whether every page that lies wholly inside [p, p + n) is resident (mincore).
bool AllPagesResident(const uint8_t* p, size_t n, size_t* missing) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  uintptr_t first = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  uintptr_t end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (end <= first) return true;
  std::vector<unsigned char> vec((end - first) / page);
  if (mincore(reinterpret_cast<void*>(first), end - first, vec.data()) != 0) {
    ADD_FAILURE() << "mincore: " << std::strerror(errno);
    return false;
  }
  *missing = 0;
  for (unsigned char v : vec) *missing += (v & 1) == 0;
  return *missing == 0;
}

TEST(ByteBuffer, PrefaultMakesEveryPageResident) {
  constexpr size_t kSize = 8 << 20;  // served by mmap: fresh pages, none touched yet
  ByteBuffer b;
  Prefault(&b, kSize);
  ASSERT_GE(b.size(), kSize);
  size_t missing = 0;
  EXPECT_TRUE(AllPagesResident(b.data(), b.size(), &missing)) << missing << " pages not resident";
}

TEST(ByteBuffer, PrefaultNeverShrinksAndKeepsContent) {
  ByteBuffer b;
  b.resize(3 << 20);
  b[1] = 42;
  b[(3 << 20) - 1] = 9;
  Prefault(&b, 1 << 20);
  EXPECT_EQ(b.size(), size_t{3} << 20);
  EXPECT_EQ(b[1], 42);  // not the byte each page's write touches (offset 0 of a page)
  EXPECT_EQ(b[(3 << 20) - 1], 9);
}

}  // namespace
}  // namespace dfs
