#include "crypto/block_mac.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <array>
#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

namespace dfs {
namespace {

std::vector<uint8_t> Bytes(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

TEST(BlockMac, VerifiesItsOwnTagsAndNothingElse) {
  BlockMac mac;
  auto series = mac.NewSeries();
  ASSERT_TRUE(series.ok());
  auto data = Bytes(65536, 1);
  auto tag = mac.Compute(*series, 3, data.data(), data.size());
  ASSERT_TRUE(tag.ok()) << tag.status().ToString();
  EXPECT_TRUE(mac.Verify(*series, 3, data.data(), data.size(), tag->data()));
  // One bit flipped anywhere, another index, another series, a shorter block: no match.
  for (size_t at : {size_t{0}, size_t{4095}, size_t{65535}}) {
    auto bad = data;
    bad[at] ^= 0x01;
    EXPECT_FALSE(mac.Verify(*series, 3, bad.data(), bad.size(), tag->data())) << at;
  }
  EXPECT_FALSE(mac.Verify(*series, 4, data.data(), data.size(), tag->data()));
  EXPECT_FALSE(mac.Verify(*series + 1, 3, data.data(), data.size(), tag->data()));
  EXPECT_FALSE(mac.Verify(*series, 3, data.data(), data.size() - 1, tag->data()));
  // A trailing zero byte changes the tag (GHASH encodes the length).
  auto longer = data;
  longer.push_back(0);
  EXPECT_FALSE(mac.Verify(*series, 3, longer.data(), longer.size(), tag->data()));
}

TEST(BlockMac, EmptyBlockHasATag) {
  BlockMac mac;
  auto s = mac.NewSeries();
  ASSERT_TRUE(s.ok());
  auto tag = mac.Compute(*s, 0, nullptr, 0);
  ASSERT_TRUE(tag.ok());
  EXPECT_TRUE(mac.Verify(*s, 0, nullptr, 0, tag->data()));
  uint8_t one = 0;
  EXPECT_FALSE(mac.Verify(*s, 0, &one, 1, tag->data()));
}

TEST(BlockMac, KeysDifferPerInstance) {
  BlockMac a, b;
  auto data = Bytes(4096, 9);
  auto ta = a.Compute(1, 0, data.data(), data.size());
  auto tb = b.Compute(1, 0, data.data(), data.size());
  ASSERT_TRUE(ta.ok() && tb.ok());
  EXPECT_NE(*ta, *tb);
  EXPECT_FALSE(b.Verify(1, 0, data.data(), data.size(), ta->data()));
}

TEST(BlockMac, SeriesAreUniqueAcrossThreads) {
  BlockMac mac;
  std::vector<std::vector<uint64_t>> got(4);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) got[t].push_back(*mac.NewSeries());
    });
  }
  for (auto& t : ts) t.join();
  std::set<uint64_t> all;
  for (auto& v : got) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), 4000u);
  EXPECT_EQ(all.count(0), 0u);
}

TEST(BlockMac, ThreadsComputeTheSameTags) {
  BlockMac mac;
  auto data = Bytes(65536, 5);
  auto want = mac.Compute(7, 11, data.data(), data.size());
  ASSERT_TRUE(want.ok());
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&] {
      for (int i = 0; i < 100; ++i) ok += mac.Verify(7, 11, data.data(), data.size(), want->data());
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 400);
}

// AES-256-GCM over `aad` alone (no plaintext): by SP 800-38D section 3, that tag is GMAC. Made
// with OpenSSL's cipher interface, not the MAC one BlockMac uses, so the two paths check each
// other; the path itself is anchored to a published vector below.
BlockMac::Tag GcmAadOnlyTag(const std::array<uint8_t, 32>& key, const uint8_t iv[12],
                            const uint8_t* aad, size_t len) {
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(EVP_CIPHER_CTX_new(),
                                                                      &EVP_CIPHER_CTX_free);
  BlockMac::Tag tag{};
  int outl = 0;
  uint8_t none[16];
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, 12, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key.data(), iv) != 1 ||
      (len > 0 && EVP_EncryptUpdate(ctx.get(), nullptr, &outl, aad, static_cast<int>(len)) != 1) ||
      EVP_EncryptFinal_ex(ctx.get(), none, &outl) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, tag.data()) != 1) {
    ADD_FAILURE() << "reference GCM failed";
  }
  return tag;
}

TEST(BlockMac, ReferenceMatchesPublishedVector) {
  // The GCM specification's (McGrew and Viega) test case 13: 256-bit zero key, 96-bit zero IV,
  // no plaintext, no AAD.
  const std::array<uint8_t, 32> zero{};
  const uint8_t iv[12] = {};
  const BlockMac::Tag want = {0x53, 0x0f, 0x8a, 0xfb, 0xc7, 0x45, 0x36, 0xb9,
                              0xa9, 0x63, 0xb4, 0xf1, 0xc4, 0xcb, 0x73, 0x8b};
  EXPECT_EQ(GcmAadOnlyTag(zero, iv, nullptr, 0), want);
}

// Known answers: tags under a given key are GMAC with nonce series (48 bits, big-endian) ||
// index (48 bits), for every block size fs/ uses and the edges. Two keys alternate on one thread,
// so a key or cipher left on the per-thread context from the last call would show.
TEST(BlockMac, TagsAreGmacUnderTheDocumentedNonce) {
  std::array<uint8_t, 32> k1{}, k2{};
  for (size_t i = 0; i < 32; ++i) {
    k1[i] = static_cast<uint8_t>(i);
    k2[i] = static_cast<uint8_t>(0xa5 ^ (i * 13));
  }
  BlockMac m1(k1), m2(k2);
  struct Case {
    uint64_t series, index;
    size_t len;
  };
  const Case cases[] = {{1, 0, 0},
                        {1, 0, 1},
                        {2, 5, 4095},
                        {3, 1, 4096},
                        {0x123456789a, 7, 65536},
                        {9, 0xabcdef012345, 65537},
                        {BlockMac::kMaxSeries, BlockMac::kMaxIndex, 131072}};
  for (const Case& c : cases) {
    auto data = Bytes(c.len, static_cast<uint8_t>(c.len));
    uint8_t iv[12];
    for (int i = 0; i < 6; ++i) {
      iv[i] = static_cast<uint8_t>(c.series >> (8 * (5 - i)));
      iv[6 + i] = static_cast<uint8_t>(c.index >> (8 * (5 - i)));
    }
    for (int round = 0; round < 2; ++round) {
      auto t1 = m1.Compute(c.series, c.index, data.data(), data.size());
      auto t2 = m2.Compute(c.series, c.index, data.data(), data.size());
      ASSERT_TRUE(t1.ok() && t2.ok()) << c.len;
      EXPECT_EQ(*t1, GcmAadOnlyTag(k1, iv, data.data(), data.size())) << c.len << " " << round;
      EXPECT_EQ(*t2, GcmAadOnlyTag(k2, iv, data.data(), data.size())) << c.len << " " << round;
    }
  }
}

TEST(BlockMac, NonceOutOfRangeIsRefused) {
  BlockMac mac;
  uint8_t b = 1;
  EXPECT_EQ(mac.Compute(0, 0, &b, 1).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(mac.Compute(BlockMac::kMaxSeries + 1, 0, &b, 1).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(mac.Compute(1, BlockMac::kMaxIndex + 1, &b, 1).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(mac.Compute(BlockMac::kMaxSeries, BlockMac::kMaxIndex, &b, 1).ok());
}

}  // namespace
}  // namespace dfs
