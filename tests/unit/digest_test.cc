#include "common/digest.h"

#include <gtest/gtest.h>

#include "crypto/hash.h"

namespace dfs {
namespace {

TEST(Digest, ParseRoundTrip) {
  auto d = Digest::Parse("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->algo, HashAlgo::kSha256);
  EXPECT_EQ(d->ToString(), "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Digest, ParseRejectsBadInput) {
  EXPECT_EQ(Digest::Parse("sha256").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Digest::Parse("sha999:00").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Digest::Parse("sha256:00").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Digest::Parse("sha1:zz").status().code(), Code::kInvalidArgument);
}

TEST(Digest, AlgorithmIds) {
  EXPECT_EQ(HashAlgoFromKernelId(4), HashAlgo::kSha256);
  EXPECT_EQ(HashAlgoToKernelId(HashAlgo::kSm3), 17);
  EXPECT_EQ(HashAlgoFromKernelId(3), HashAlgo::kUnknown);
  EXPECT_EQ(HashAlgoFromPgpId(8), HashAlgo::kSha256);
  EXPECT_EQ(HashAlgoFromPgpId(11), HashAlgo::kSha224);
  EXPECT_TRUE(HashAlgoIsWeak(HashAlgo::kMd5));
  EXPECT_FALSE(HashAlgoIsWeak(HashAlgo::kSha256));
}

TEST(Hash, KnownVectors) {
  auto d = HashBytes(HashAlgo::kSha256, "abc");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->Hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  auto e = HashBytes(HashAlgo::kSha1, "");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->Hex(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(Hash, FdBlocksAligned) {
  FILE* f = tmpfile();
  ASSERT_NE(f, nullptr);
  std::string data(10000, 'x');
  fwrite(data.data(), 1, data.size(), f);
  fflush(f);
  struct Acc {
    std::vector<size_t> lens;
  } acc;
  HashFdOptions o;
  o.chunk = 3000;
  o.block_size = 4096;
  o.arg = &acc;
  o.on_block = [](void* a, uint64_t, const uint8_t*, size_t len) {
    static_cast<Acc*>(a)->lens.push_back(len);
  };
  uint64_t size = 0;
  auto d = HashFd(fileno(f), HashAlgo::kSha256, &size, o);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(size, 10000u);
  EXPECT_EQ(*d, *HashBytes(HashAlgo::kSha256, data));
  EXPECT_EQ(acc.lens, (std::vector<size_t>{4096, 4096, 1808}));
  fclose(f);
}

// pipeline_min: reads and the block observer on a second thread give the same digest, size and
// blocks (indices in order, each block's bytes) as the serial hash; a stop ends it with EINTR.
// max_bytes: a file longer than the bound is not hashed to its end, serially or pipelined; one
// within it is hashed as without the option.
TEST(Hash, FdStopsPastMaxBytes) {
  FILE* f = tmpfile();
  ASSERT_NE(f, nullptr);
  std::string data(5 * (1 << 20) + 7, 'x');
  ASSERT_EQ(fwrite(data.data(), 1, data.size(), f), data.size());
  fflush(f);
  for (uint64_t pipeline_min : {uint64_t{0}, uint64_t{1} << 20}) {
    HashFdOptions o;
    o.block_size = 65536;
    o.on_block = [](void*, uint64_t, const uint8_t*, size_t) {};
    o.pipeline_min = pipeline_min;
    o.max_bytes = 2 << 20;
    auto r = HashFd(fileno(f), HashAlgo::kSha256, nullptr, o);
    ASSERT_FALSE(r.ok()) << "pipeline_min " << pipeline_min;
    EXPECT_EQ(r.status().code(), Code::kFull) << r.status().ToString();
    o.max_bytes = data.size();
    uint64_t n = 0;
    auto whole = HashFd(fileno(f), HashAlgo::kSha256, &n, o);
    ASSERT_TRUE(whole.ok()) << whole.status().ToString();
    EXPECT_EQ(n, data.size());
    EXPECT_EQ(*whole, *HashBytes(HashAlgo::kSha256, data));
  }
  fclose(f);
}

TEST(Hash, FdPipelinedMatchesSerial) {
  FILE* f = tmpfile();
  ASSERT_NE(f, nullptr);
  std::string data(9 * (1 << 20) + 12345, '\0');
  uint32_t x = 12345;
  for (char& c : data) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  ASSERT_EQ(fwrite(data.data(), 1, data.size(), f), data.size());
  fflush(f);
  struct Acc {
    std::vector<uint64_t> index;
    std::vector<std::string> bytes;
  };
  auto run = [&](uint64_t pipeline_min, Acc* acc, uint64_t* size) {
    HashFdOptions o;
    o.chunk = 1 << 20;
    o.block_size = 65536;
    o.arg = acc;
    o.on_block = [](void* a, uint64_t i, const uint8_t* p, size_t len) {
      static_cast<Acc*>(a)->index.push_back(i);
      static_cast<Acc*>(a)->bytes.emplace_back(reinterpret_cast<const char*>(p), len);
    };
    o.pipeline_min = pipeline_min;
    return HashFd(fileno(f), HashAlgo::kSha256, size, o);
  };
  Acc serial, piped;
  uint64_t n1 = 0, n2 = 0;
  auto d1 = run(0, &serial, &n1);
  auto d2 = run(1 << 20, &piped, &n2);
  ASSERT_TRUE(d1.ok() && d2.ok());
  EXPECT_EQ(*d1, *HashBytes(HashAlgo::kSha256, data));
  EXPECT_EQ(*d2, *d1);
  EXPECT_EQ(n2, data.size());
  EXPECT_EQ(n1, n2);
  ASSERT_EQ(piped.index.size(), data.size() / 65536 + 1);
  EXPECT_EQ(piped.index, serial.index);
  EXPECT_TRUE(piped.bytes == serial.bytes);
  // Smaller than pipeline_min: hashed serially, same result.
  Acc small;
  EXPECT_EQ(*run(data.size() + 1, &small, nullptr), *d1);
  // A stop asked after the first chunk: EINTR, and the reader thread is gone (joined).
  HashFdOptions o;
  o.block_size = 65536;
  o.on_block = [](void*, uint64_t, const uint8_t*, size_t) {};
  o.pipeline_min = 1;
  int calls = 0;
  o.stop_arg = &calls;
  o.stop = [](void* a) { return ++*static_cast<int*>(a) > 1; };
  auto stopped = HashFd(fileno(f), HashAlgo::kSha256, nullptr, o);
  EXPECT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.status().sys_errno(), EINTR);
  fclose(f);
}

TEST(Status, ErrnoMapping) {
  Status s = Status::FromErrno(ENOENT, "open x");
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.ToErrno(), ENOENT);
  EXPECT_EQ(Status(Code::kPermissionDenied, "no").ToErrno(), EACCES);
  EXPECT_EQ(Status(Code::kCorrupt, "bad").ToErrno(), EIO);
}

}  // namespace
}  // namespace dfs
