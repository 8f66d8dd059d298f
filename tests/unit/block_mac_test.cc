#include "crypto/block_mac.h"

#include <gtest/gtest.h>

#include <atomic>
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

TEST(BlockMac, NonceOutOfRangeIsRefused) {
  BlockMac mac;
  uint8_t b = 1;
  EXPECT_EQ(mac.Compute(0, 0, &b, 1).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(mac.Compute(BlockMac::kMaxSeries + 1, 0, &b, 1).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(mac.Compute(1, BlockMac::kMaxIndex + 1, &b, 1).status().code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(mac.Compute(BlockMac::kMaxSeries, BlockMac::kMaxIndex, &b, 1).ok());
}

}  // namespace
}  // namespace dfs
