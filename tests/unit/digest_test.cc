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

TEST(Status, ErrnoMapping) {
  Status s = Status::FromErrno(ENOENT, "open x");
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.ToErrno(), ENOENT);
  EXPECT_EQ(Status(Code::kPermissionDenied, "no").ToErrno(), EACCES);
  EXPECT_EQ(Status(Code::kCorrupt, "bad").ToErrno(), EIO);
}

}  // namespace
}  // namespace dfs
