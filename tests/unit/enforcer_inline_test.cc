// Gate::TryCheckOpenInline: decides only what needs no waiting, measuring or hashing beyond a
// small file whose bytes are all in the page cache, and otherwise has no effect (fs/ then calls
// CheckOpen off its session thread).
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <condition_variable>
#include <mutex>
#include <span>
#include <string>
#include <thread>

#include "policy/content_cache.h"
#include "policy/pipeline.h"
#include "tests/unit/enforcer_fakes.h"

namespace dfs {
namespace {

using testing::FakeMeasurer;
using testing::FakeStore;
using testing::Open;
using testing::Sha;
using testing::TempTree;

class InlineTest : public ::testing::Test {
 protected:
  std::unique_ptr<Enforcer> Make(std::string_view text, bool with_measurer = false,
                                 uint64_t inline_hash_max = 0) {
    auto p = Policy::Parse(text, "t.policy");
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    EnforcerOptions o;
    o.mode = EnforceMode::kEnforce;
    o.inline_hash_max = inline_hash_max;
    return std::make_unique<Enforcer>(store, with_measurer ? measurer : nullptr,
                                      std::move(p).value(), o);
  }
  std::shared_ptr<FakeStore> store = std::make_shared<FakeStore>();
  std::shared_ptr<FakeMeasurer> measurer = std::make_shared<FakeMeasurer>();
  TempTree tree;
};

TEST_F(InlineTest, NeedsAHashFirstThenDecidesInline) {
  tree.Write("/usr/bin/ok", "ok");
  tree.Write("/usr/bin/evil", "evil");
  store->Add(SourceKind::kRpm, "p", {FileEntry{Sha("ok"), "/usr/bin/ok", 0100755, 0}});
  auto e = Make("appraise op=read path=/usr/**\n");
  for (const char* path : {"/usr/bin/ok", "/usr/bin/evil"}) {
    Open o(tree, path, AccessOp::kRead);
    OpenTicket t;
    Status s;
    const uint64_t hashes = e->stats().hashes, opens = e->stats().opens;
    EXPECT_FALSE(e->TryCheckOpenInline(o.req, &t, &s)) << path << ": not hashed yet";
    EXPECT_EQ(e->stats().hashes, hashes) << "no hashing inline";
    EXPECT_EQ(e->stats().opens, opens) << "a declined inline attempt is not counted";
    Status full = e->CheckOpen(o.req, &t);
    Status again;
    ASSERT_TRUE(e->TryCheckOpenInline(o.req, &t, &again)) << path;
    EXPECT_EQ(again.code(), full.code()) << path;
  }
  EXPECT_EQ(e->stats().inline_opens, 2u);
  // Not appraised at all: decided inline without hashing.
  tree.Write("/home/x", "x");
  Open h(tree, "/home/x", AccessOp::kRead);
  OpenTicket t;
  Status s(Code::kInternal, "unset");
  ASSERT_TRUE(e->TryCheckOpenInline(h.req, &t, &s));
  EXPECT_TRUE(s.ok());
}

TEST_F(InlineTest, AChangeSendsTheOpenBackToHashing) {
  tree.Write("/usr/bin/ok", "ok");
  store->Add(SourceKind::kRpm, "p", {FileEntry{Sha("ok"), "/usr/bin/ok", 0100755, 0}});
  auto e = Make("appraise op=read path=/usr/**\n");
  Open o(tree, "/usr/bin/ok", AccessOp::kRead);
  OpenTicket t;
  ASSERT_TRUE(e->CheckOpen(o.req, &t).ok());
  e->Changed(o.req.st.st_dev, o.req.st.st_ino);
  Status s;
  EXPECT_FALSE(e->TryCheckOpenInline(o.req, &t, &s));
}

// With inline_hash_max: a small file whose bytes are cached is hashed inline and decided there,
// with the same verdict as CheckOpen; a larger one is left to a worker.
TEST_F(InlineTest, SmallCachedFileIsHashedInline) {
  tree.Write("/usr/bin/ok", "ok");
  tree.Write("/usr/bin/evil", "evil");
  tree.Write("/usr/bin/big", std::string(5000, 'b'));
  store->Add(SourceKind::kRpm, "p", {FileEntry{Sha("ok"), "/usr/bin/ok", 0100755, 0}});
  auto e = Make("appraise op=read path=/usr/**\n", false, /*inline_hash_max=*/4096);
  auto reference = Make("appraise op=read path=/usr/**\n");
  for (const char* path : {"/usr/bin/ok", "/usr/bin/evil"}) {
    Open o(tree, path, AccessOp::kRead);
    OpenTicket t;
    Status s;
    ASSERT_TRUE(e->TryCheckOpenInline(o.req, &t, &s)) << path;
    OpenTicket t2;
    EXPECT_EQ(s.code(), reference->CheckOpen(o.req, &t2).code()) << path;
  }
  EXPECT_EQ(e->stats().inline_hashes, 2u);
  EXPECT_EQ(e->stats().hashes, 2u);
  Open b(tree, "/usr/bin/big", AccessOp::kRead);
  OpenTicket t;
  Status s;
  EXPECT_FALSE(e->TryCheckOpenInline(b.req, &t, &s)) << "5000 bytes > inline_hash_max";
  EXPECT_EQ(e->stats().hashes, 2u);
  // Decided inline, cached like any hash: the next open is a plain hit.
  Open again(tree, "/usr/bin/ok", AccessOp::kRead);
  ASSERT_TRUE(e->TryCheckOpenInline(again.req, &t, &s));
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(e->stats().hashes, 2u);
}

// With nothing else waiting (OpenRequest::idle), a cached file up to inline_hash_idle_max is
// hashed inline too, in 1 MiB chunks: its digest is the one a worker computes (the verdict is the
// same), and its block tags check the file's own bytes and refuse changed ones.
TEST_F(InlineTest, IdleThreadHashesLargerCachedFilesInChunks) {
  std::string listed(3 * 1024 * 1024 + 12345, '\0');
  for (size_t i = 0; i < listed.size(); ++i) listed[i] = static_cast<char>(i * 131 + i / 7);
  std::string other = listed;
  other[2 * 1024 * 1024 + 5] ^= 1;
  tree.Write("/usr/lib/listed.so", listed);
  tree.Write("/usr/lib/other.so", other);
  store->Add(SourceKind::kRpm, "p",
             {FileEntry{Sha(listed), "/usr/lib/listed.so", 0100644, 0},
              FileEntry{Sha(listed), "/usr/lib/other.so", 0100644, 0}});
  auto p = Policy::Parse("appraise op=read path=/usr/**\n", "t.policy");
  ASSERT_TRUE(p.ok());
  EnforcerOptions o;
  o.mode = EnforceMode::kEnforce;
  o.verify_blocks = true;
  o.inline_hash_max = 4096;
  o.inline_hash_idle_max = 8 * 1024 * 1024;
  Enforcer e(store, nullptr, std::move(p).value(), o);
  {
    Open busy(tree, "/usr/lib/listed.so", AccessOp::kRead);
    OpenTicket t;
    Status s;
    EXPECT_FALSE(e.TryCheckOpenInline(busy.req, &t, &s)) << "not idle: 3 MiB > inline_hash_max";
  }
  Open a(tree, "/usr/lib/listed.so", AccessOp::kRead);
  a.req.idle = [] { return true; };
  OpenTicket ta;
  Status sa(Code::kInternal, "unset");
  ASSERT_TRUE(e.TryCheckOpenInline(a.req, &ta, &sa));
  EXPECT_TRUE(sa.ok()) << sa.ToString();
  EXPECT_EQ(e.stats().inline_hashes, 1u);
  ASSERT_NE(ta.blocks, nullptr);
  const auto* bytes = reinterpret_cast<const uint8_t*>(listed.data());
  EXPECT_TRUE(e.CheckRead(ta, 0, std::span<const uint8_t>(bytes, listed.size())).ok());
  EXPECT_TRUE(e.CheckRead(ta, 2 * 1024 * 1024, std::span<const uint8_t>(bytes + 2 * 1024 * 1024,
                                                                         65536)).ok());
  const auto* changed = reinterpret_cast<const uint8_t*>(other.data());
  EXPECT_EQ(e.CheckRead(ta, 2 * 1024 * 1024,
                        std::span<const uint8_t>(changed + 2 * 1024 * 1024, 65536)).code(),
            Code::kCorrupt);
  // A verdict already known, or a file small enough anyway, never asks whether the thread is idle
  // (fs/ polls its device for that).
  int asked = 0;
  Open again(tree, "/usr/lib/listed.so", AccessOp::kRead);
  again.req.idle = [&asked] { return ++asked, true; };
  OpenTicket tg;
  Status sg;
  ASSERT_TRUE(e.TryCheckOpenInline(again.req, &tg, &sg));
  EXPECT_TRUE(sg.ok());
  tree.Write("/usr/lib/small.so", "small");
  Open small(tree, "/usr/lib/small.so", AccessOp::kRead);
  small.req.idle = [&asked] { return ++asked, true; };
  ASSERT_TRUE(e.TryCheckOpenInline(small.req, &tg, &sg));
  EXPECT_EQ(asked, 0);
  Open b(tree, "/usr/lib/other.so", AccessOp::kRead);
  b.req.idle = [] { return true; };
  OpenTicket tb;
  Status sb;
  ASSERT_TRUE(e.TryCheckOpenInline(b.req, &tb, &sb));
  EXPECT_EQ(sb.code(), Code::kPermissionDenied) << "one bit changed in the third MiB";
  // A file above the idle limit stays with the workers.
  tree.Write("/usr/lib/huge.so", std::string(9 * 1024 * 1024, 'h'));
  Open h(tree, "/usr/lib/huge.so", AccessOp::kRead);
  h.req.idle = [] { return true; };
  OpenTicket th;
  Status sh;
  EXPECT_FALSE(e.TryCheckOpenInline(h.req, &th, &sh));
  EXPECT_EQ(e.stats().inline_hashes, 3u);
}

TEST_F(InlineTest, AMeasurementStillDueIsNotInline) {
  tree.Write("/usr/bin/ok", "ok");
  store->Add(SourceKind::kRpm, "p", {FileEntry{Sha("ok"), "/usr/bin/ok", 0100755, 0}});
  auto e = Make("measure op=read\n", /*with_measurer=*/true);
  Open o(tree, "/usr/bin/ok", AccessOp::kRead);
  OpenTicket t;
  // Hash it without measuring: a cache fill through an op the policy does not measure.
  Open x(tree, "/usr/bin/ok", AccessOp::kExec);
  ASSERT_TRUE(e->CheckOpen(x.req, &t).ok());
  Status s;
  EXPECT_FALSE(e->TryCheckOpenInline(o.req, &t, &s)) << "the source is not measured yet";
  ASSERT_TRUE(e->CheckOpen(o.req, &t).ok());
  ASSERT_TRUE(e->TryCheckOpenInline(o.req, &t, &s));
  EXPECT_TRUE(s.ok());
}

// ContentCache::Get(wait=false) never waits for another thread's hash, and a computation that
// gives up with EAGAIN (an inline attempt) is not shared with its waiters: they compute again.
TEST(ContentCacheNoWait, BusyIsEagainAndAGiveUpIsNotShared) {
  ContentCache cache;
  struct stat st {};
  st.st_size = 1;
  std::mutex mu;
  std::condition_variable cv;
  bool started = false, release = false;
  auto slow_giveup = [&]() -> Result<std::shared_ptr<const Content>> {
    std::unique_lock l(mu);
    started = true;
    cv.notify_all();
    cv.wait(l, [&] { return release; });
    return Status(Code::kUnavailable, "gave up", EAGAIN);
  };
  std::thread first([&] { (void)cache.Get(1, 2, st, false, slow_giveup); });
  {
    std::unique_lock l(mu);
    cv.wait(l, [&] { return started; });
  }
  auto fresh = [&]() -> Result<std::shared_ptr<const Content>> {
    auto c = std::make_shared<Content>();
    c->dev = 1;
    c->ino = 2;
    c->key = StatKey::From(st);
    return std::shared_ptr<const Content>(c);
  };
  auto busy = cache.Get(1, 2, st, false, fresh, nullptr, /*wait=*/false);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().sys_errno(), EAGAIN);
  // A waiting caller: when the first gives up, it computes itself instead of sharing the EAGAIN.
  Result<std::shared_ptr<const Content>> waited = Status(Code::kInternal, "unset");
  std::thread second([&] { waited = cache.Get(1, 2, st, false, fresh); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  {
    std::lock_guard l(mu);
    release = true;
  }
  cv.notify_all();
  first.join();
  second.join();
  ASSERT_TRUE(waited.ok()) << waited.status().ToString();
  EXPECT_NE(cache.Peek(1, 2, st, false), nullptr);
}


// InlineHashedBytes: after a small file was hashed inline, this thread gets back exactly the
// bytes that were hashed, and only for that file while its stat key is unchanged; nothing for a
// file hashed in pieces, for a verdict from the cache, or on another thread.
TEST_F(InlineTest, InlineHashedBytesAreTheWholeFileAsHashed) {
  const std::string listed = "listed content\n";
  tree.Write("/usr/bin/ok", listed);
  tree.Write("/usr/bin/other", "other");
  std::string big(3 * 1024 * 1024, 'x');
  tree.Write("/usr/lib/big.so", big);
  store->Add(SourceKind::kRpm, "p",
             {FileEntry{Sha(listed), "/usr/bin/ok", 0100755, 0},
              FileEntry{Sha(big), "/usr/lib/big.so", 0100644, 0}});
  auto e = Make("appraise op=read path=/usr/**\n", false, /*inline_hash_max=*/4096);
  Open o(tree, "/usr/bin/ok", AccessOp::kRead);
  EXPECT_TRUE(e->InlineHashedBytes(o.req.st).empty()) << "nothing hashed yet";
  OpenTicket t;
  Status s;
  ASSERT_TRUE(e->TryCheckOpenInline(o.req, &t, &s));
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::span<const uint8_t> got = e->InlineHashedBytes(o.req.st);
  EXPECT_EQ(std::string(got.begin(), got.end()), listed);
  EXPECT_EQ(e->stats().hashed_bytes_reused, 1u);
  // Another thread has its own (empty) record.
  std::thread([&] { EXPECT_TRUE(e->InlineHashedBytes(o.req.st).empty()) << "other thread"; })
      .join();
  // Another file, or this one with another stat key, gets nothing.
  Open other(tree, "/usr/bin/other", AccessOp::kRead);
  EXPECT_TRUE(e->InlineHashedBytes(other.req.st).empty()) << "another inode";
  struct stat changed = o.req.st;
  changed.st_mtim.tv_nsec ^= 1;
  EXPECT_TRUE(e->InlineHashedBytes(changed).empty()) << "another mtime";
  changed = o.req.st;
  changed.st_size += 1;
  EXPECT_TRUE(e->InlineHashedBytes(changed).empty()) << "another size";
  // A verdict from the cache hashes nothing: the record stays that of the last hash.
  Open again(tree, "/usr/bin/ok", AccessOp::kRead);
  ASSERT_TRUE(e->TryCheckOpenInline(again.req, &t, &s));
  got = e->InlineHashedBytes(again.req.st);
  EXPECT_EQ(std::string(got.begin(), got.end()), listed);
  // A file hashed in several chunks (idle thread, 3 MiB) leaves no record, not even the old one.
  Open b(tree, "/usr/lib/big.so", AccessOp::kRead);
  b.req.idle = [] { return true; };
  EnforcerOptions no;
  auto p = Policy::Parse("appraise op=read path=/usr/**\n", "t.policy");
  ASSERT_TRUE(p.ok());
  no.mode = EnforceMode::kEnforce;
  no.inline_hash_max = 4096;
  no.inline_hash_idle_max = 8 * 1024 * 1024;
  Enforcer chunked(store, nullptr, std::move(p).value(), no);
  ASSERT_TRUE(chunked.TryCheckOpenInline(o.req, &t, &s));
  ASSERT_FALSE(chunked.InlineHashedBytes(o.req.st).empty());
  ASSERT_TRUE(chunked.TryCheckOpenInline(b.req, &t, &s));
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_TRUE(chunked.InlineHashedBytes(b.req.st).empty()) << "hashed in pieces";
  EXPECT_TRUE(chunked.InlineHashedBytes(o.req.st).empty()) << "the buffer was reused";
}

}  // namespace
}  // namespace dfs
