// The enforcement pipeline with a fake store and a fake measurer: decisions, the verdict cache,
// single flight, deny list, path binding, permissive mode, fail-closed paths, log
// de-duplication, mutable re-trust and verify=blocks.
#include <gtest/gtest.h>
#include <sys/time.h>

#include <thread>

#include "policy/pipeline.h"
#include "tests/unit/enforcer_fakes.h"

namespace dfs {
namespace {

using testing::FakeMeasurer;
using testing::FakeStore;
using testing::Open;
using testing::Sha;
using testing::TempTree;

class EnforcerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Enforcer> Make(std::string_view policy_text,
                                 EnforceMode mode = EnforceMode::kEnforce,
                                 bool verify_blocks = false, bool writable = true) {
    auto p = Policy::Parse(policy_text, "test.policy");
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    EnforcerOptions o;
    o.mode = mode;
    o.verify_blocks = verify_blocks;
    o.store_writable = writable;
    o.block_size = 4096;
    return std::make_unique<Enforcer>(store, measurer, std::move(p).value(), o);
  }
  // Lists `content` at `path` in a new rpm source.
  uint64_t List(const std::string& path, const std::string& content, uint32_t flags = 0,
                const std::string& name = "pkg") {
    return store->Add(SourceKind::kRpm, name, {FileEntry{Sha(content), path, 0100755, flags}});
  }
  Status Check(Enforcer& e, const std::string& path, AccessOp op, OpenTicket* t = nullptr,
               int flags = O_RDONLY) {
    Open o(tree, path, op, flags);
    EXPECT_TRUE(o.fd.valid()) << path;
    OpenTicket ticket;
    return e.CheckOpen(o.req, t ? t : &ticket);
  }

  std::shared_ptr<FakeStore> store = std::make_shared<FakeStore>();
  std::shared_ptr<FakeMeasurer> measurer = std::make_shared<FakeMeasurer>();
  TempTree tree;
};

constexpr std::string_view kExecPolicy = "appraise op=exec\n";

TEST_F(EnforcerTest, KnownExecAllowedUnknownRefused) {
  tree.Write("/usr/bin/hello", "hello v1");
  tree.Write("/usr/bin/evil", "evil");
  List("/usr/bin/hello", "hello v1");
  auto e = Make(kExecPolicy);
  EXPECT_TRUE(Check(*e, "/usr/bin/hello", AccessOp::kExec).ok());
  Status s = Check(*e, "/usr/bin/evil", AccessOp::kExec);
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_EQ(s.ToErrno(), EACCES);
  // The policy does not appraise reads: reading the unknown file is allowed, without hashing.
  uint64_t hashes = e->stats().hashes;
  EXPECT_TRUE(Check(*e, "/usr/bin/evil", AccessOp::kRead).ok());
  EXPECT_EQ(e->stats().hashes, hashes);
  EXPECT_EQ(e->stats().unchecked, 1u);
}

TEST_F(EnforcerTest, SpecialNodeRefusedWhereReadsAreAppraised) {
  auto e = Make("dont_appraise path=/usr/lib/sysimage/**\nappraise op=read path=/usr/**\n");
  OpenRequest r;
  r.st.st_mode = S_IFIFO | 0644;
  r.path = "/usr/share/x.txt";
  EXPECT_EQ(e->CheckNode(r).code(), Code::kPermissionDenied);
  r.st.st_mode = S_IFCHR | 0666;
  EXPECT_EQ(e->CheckNode(r).code(), Code::kPermissionDenied);
  r.path = "/usr/lib/sysimage/rpm/sock";  // exempted
  EXPECT_TRUE(e->CheckNode(r).ok());
  r.path = "/tmp/x";  // not appraised
  EXPECT_TRUE(e->CheckNode(r).ok());
  r.path = "";  // no known name: as strictly as any path
  EXPECT_EQ(e->CheckNode(r).code(), Code::kPermissionDenied);
  // Exec is not a use of a special node: an exec-only policy leaves it alone.
  auto exec_only = Make(kExecPolicy);
  r.path = "/usr/share/x.txt";
  EXPECT_TRUE(exec_only->CheckNode(r).ok());
  auto permissive = Make("appraise op=read\n", EnforceMode::kPermissive);
  EXPECT_TRUE(permissive->CheckNode(r).ok());
  EXPECT_EQ(permissive->stats().refusals, 1u);
}

TEST_F(EnforcerTest, ReadWriteOpenIsAppraisedForItsReadSide) {
  tree.Write("/usr/lib/libx.so", "unlisted lib");
  tree.Write("/usr/lib/liby.so", "listed lib");
  tree.Write("/usr/lib/empty", "");
  List("/usr/lib/liby.so", "listed lib");
  auto e = Make("appraise op=read path=/usr/**\n");
  EXPECT_EQ(Check(*e, "/usr/lib/libx.so", AccessOp::kWrite, nullptr, O_RDWR).code(),
            Code::kPermissionDenied);
  EXPECT_TRUE(Check(*e, "/usr/lib/liby.so", AccessOp::kWrite, nullptr, O_RDWR).ok());
  // Write-only: nothing is read. Truncating or empty: nothing to read at the open.
  EXPECT_TRUE(Check(*e, "/usr/lib/libx.so", AccessOp::kWrite, nullptr, O_WRONLY).ok());
  EXPECT_TRUE(Check(*e, "/usr/lib/empty", AccessOp::kWrite, nullptr, O_RDWR).ok());
  Open t(tree, "/usr/lib/libx.so", AccessOp::kWrite, O_RDWR);
  t.req.flags |= O_TRUNC;  // (the fd itself was opened without it: the file keeps its bytes)
  OpenTicket ticket;
  EXPECT_TRUE(e->CheckOpen(t.req, &ticket).ok());
}

TEST_F(EnforcerTest, OpConditionsRouteToTheirRules) {
  tree.Write("/usr/lib/libx.so", "lib");
  tree.Write("/data/x", "data");
  auto e = Make("appraise op=read path=/usr/**\nappraise op=write path=/data/**\n");
  EXPECT_EQ(Check(*e, "/usr/lib/libx.so", AccessOp::kRead).code(), Code::kPermissionDenied);
  EXPECT_TRUE(Check(*e, "/usr/lib/libx.so", AccessOp::kExec).ok());
  EXPECT_TRUE(Check(*e, "/data/x", AccessOp::kRead).ok());
  // A write-only open is hashed through reopen_readonly.
  EXPECT_EQ(Check(*e, "/data/x", AccessOp::kWrite, nullptr, O_WRONLY).code(),
            Code::kPermissionDenied);
  List("/data/x", "data");
  EXPECT_TRUE(Check(*e, "/data/x", AccessOp::kWrite, nullptr, O_WRONLY).ok());
}

TEST_F(EnforcerTest, DontAppraiseBeforeAppraiseWins) {
  tree.Write("/tmp/x", "x");
  tree.Write("/opt/x", "x");
  auto e = Make("dont_appraise path=/tmp/**\nappraise\n");
  EXPECT_TRUE(Check(*e, "/tmp/x", AccessOp::kExec).ok());
  EXPECT_EQ(Check(*e, "/opt/x", AccessOp::kExec).code(), Code::kPermissionDenied);
}

TEST_F(EnforcerTest, VerdictCacheKeyEachFieldInvalidates) {
  tree.Write("/bin/a", "content a");
  List("/bin/a", "content a");
  auto e = Make(kExecPolicy);
  ASSERT_TRUE(Check(*e, "/bin/a", AccessOp::kExec).ok());
  EXPECT_EQ(e->stats().hashes, 1u);
  ASSERT_TRUE(Check(*e, "/bin/a", AccessOp::kExec).ok());
  EXPECT_EQ(e->stats().hashes, 1u) << "warm open must not re-hash";
  EXPECT_EQ(e->stats().cache_hits, 1u);

  // mtime (same size, same content): re-hash.
  struct timespec ts[2] = {{0, UTIME_OMIT}, {12345, 678}};
  ASSERT_EQ(utimensat(AT_FDCWD, tree.Real("/bin/a").c_str(), ts, 0), 0);
  ASSERT_TRUE(Check(*e, "/bin/a", AccessOp::kExec).ok());
  EXPECT_EQ(e->stats().hashes, 2u);
  // ctime alone (chmod): re-hash.
  ASSERT_EQ(chmod(tree.Real("/bin/a").c_str(), 0700), 0);
  ASSERT_TRUE(Check(*e, "/bin/a", AccessOp::kExec).ok());
  EXPECT_EQ(e->stats().hashes, 3u);
  // size and content: re-hash, and now unknown.
  tree.Write("/bin/a", "content a, longer");
  EXPECT_EQ(Check(*e, "/bin/a", AccessOp::kExec).code(), Code::kPermissionDenied);
  EXPECT_EQ(e->stats().hashes, 4u);
  // Same size, different bytes, mtime restored: ctime still moves, so it is caught.
  tree.Write("/bin/a", "content b");
  ASSERT_EQ(utimensat(AT_FDCWD, tree.Real("/bin/a").c_str(), ts, 0), 0);
  EXPECT_EQ(Check(*e, "/bin/a", AccessOp::kExec).code(), Code::kPermissionDenied);
  EXPECT_EQ(e->stats().hashes, 5u);
}

TEST_F(EnforcerTest, GenerationChangeRedoesLookupNotHash) {
  tree.Write("/bin/a", "A");
  auto e = Make(kExecPolicy);
  EXPECT_EQ(Check(*e, "/bin/a", AccessOp::kExec).code(), Code::kPermissionDenied);
  uint64_t src = List("/bin/a", "A");  // generation moves
  EXPECT_TRUE(Check(*e, "/bin/a", AccessOp::kExec).ok());
  EXPECT_EQ(e->stats().hashes, 1u);
  EXPECT_EQ(e->stats().relookups, 1u);
  store->Remove(src);  // an upgrade retired it
  EXPECT_EQ(Check(*e, "/bin/a", AccessOp::kExec).code(), Code::kPermissionDenied);
  EXPECT_EQ(e->stats().hashes, 1u);
  EXPECT_EQ(e->stats().relookups, 2u);
}

TEST_F(EnforcerTest, ChangedDropsVerdictAtOnce) {
  tree.Write("/bin/a", "A");
  List("/bin/a", "A");
  auto e = Make(kExecPolicy);
  Open o(tree, "/bin/a", AccessOp::kExec);
  OpenTicket t;
  ASSERT_TRUE(e->CheckOpen(o.req, &t).ok());
  e->Changed(o.req.st.st_dev, o.req.st.st_ino);
  ASSERT_TRUE(e->CheckOpen(o.req, &t).ok());
  EXPECT_EQ(e->stats().hashes, 2u);
}

TEST_F(EnforcerTest, SingleFlightConcurrentOpensHashOnce) {
  tree.Write("/bin/big", std::string(1 << 20, 'x'));
  List("/bin/big", std::string(1 << 20, 'x'));
  store->lookup_delay_ms = 100;  // keeps the first computation in flight while the others arrive
  auto e = Make(kExecPolicy);
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      Open o(tree, "/bin/big", AccessOp::kExec);
      OpenTicket t;
      if (e->CheckOpen(o.req, &t).ok()) ok++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, kThreads);
  EXPECT_EQ(e->stats().hashes, 1u);
  EXPECT_EQ(store->lookups, 1);
}

TEST_F(EnforcerTest, DenyListWinsOverEverything) {
  tree.Write("/usr/bin/bad", "bad");
  List("/usr/bin/bad", "bad");
  store->Deny(Sha("bad"));
  // Only an audit rule applies and the file is listed: the deny list still refuses it.
  auto e = Make("dont_appraise\naudit\n");
  Status s = Check(*e, "/usr/bin/bad", AccessOp::kRead);
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_NE(s.message().find("deny list"), std::string::npos) << s.message();
  Open o(tree, "/usr/bin/bad", AccessOp::kRead);
  EXPECT_EQ(e->Assess(o.req).refusal, Refusal::kDenied);
}

TEST_F(EnforcerTest, BindPathCountsOnlyAtListedPath) {
  tree.Write("/usr/bin/tool", "tool");
  tree.Write("/tmp/tool", "tool");
  List("/usr/bin/tool", "tool");
  auto content_only = Make(kExecPolicy);
  EXPECT_TRUE(Check(*content_only, "/tmp/tool", AccessOp::kExec).ok());
  EXPECT_EQ(store->path_calls, 0);  // lookups load no paths; an unbound record needs none
  auto bound = Make("appraise op=exec bind=path\n");
  EXPECT_TRUE(Check(*bound, "/usr/bin/tool", AccessOp::kExec).ok());
  EXPECT_GT(store->path_calls, 0);  // a bound record's path is loaded to compare it
  Status s = Check(*bound, "/tmp/tool", AccessOp::kExec);
  EXPECT_EQ(s.code(), Code::kPermissionDenied);
  EXPECT_NE(s.message().find("/usr/bin/tool"), std::string::npos) << s.message();
}

TEST_F(EnforcerTest, MutableRecordBindsItsPathEvenWithoutBindRule) {
  // An empty %config file must not vouch for an empty file elsewhere (e.g. a binary).
  tree.Write("/etc/empty.conf", "");
  tree.Write("/usr/bin/empty", "");
  List("/etc/empty.conf", "", kFileMutable | kFileConfig);
  auto e = Make("appraise\n");
  EXPECT_TRUE(Check(*e, "/etc/empty.conf", AccessOp::kRead).ok());
  EXPECT_EQ(Check(*e, "/usr/bin/empty", AccessOp::kRead).code(), Code::kPermissionDenied);
}

TEST_F(EnforcerTest, PermissiveAllowsAndLogsOnce) {
  tree.Write("/bin/evil", "evil");
  auto e = Make(kExecPolicy, EnforceMode::kPermissive);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Check(*e, "/bin/evil", AccessOp::kExec).ok());
  EXPECT_EQ(e->stats().refusals, 5u);
  EXPECT_EQ(e->stats().refusals_logged, 1u);
}

TEST_F(EnforcerTest, RefusalLoggedOncePerInodeAndVerdict) {
  tree.Write("/bin/evil", "evil");
  auto e = Make(kExecPolicy);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(Check(*e, "/bin/evil", AccessOp::kExec).ok());
  EXPECT_EQ(e->stats().refusals, 5u);
  EXPECT_EQ(e->stats().refusals_logged, 1u);
  tree.Write("/bin/evil", "evil, edited");  // new content: a new verdict, logged again
  EXPECT_FALSE(Check(*e, "/bin/evil", AccessOp::kExec).ok());
  EXPECT_EQ(e->stats().refusals_logged, 2u);
  store->Deny(Sha("evil, edited"));  // a different verdict on the same content
  EXPECT_FALSE(Check(*e, "/bin/evil", AccessOp::kExec).ok());
  EXPECT_EQ(e->stats().refusals_logged, 3u);
}

// A new file that reuses an old one's inode number, with the same content, is a new file: its
// refusal and audit are logged again (the file system gives it a new ctime; before, the log key
// was inode number and digest only, so it was not logged).
TEST_F(EnforcerTest, NewFileReusingAnInodeNumberAndDigestIsLoggedAgain) {
  tree.Write("/bin/evil", "evil");
  auto e = Make("appraise op=exec\naudit op=read\n");
  Open first(tree, "/bin/evil", AccessOp::kExec);
  OpenTicket t;
  EXPECT_FALSE(e->CheckOpen(first.req, &t).ok());
  EXPECT_FALSE(e->CheckOpen(first.req, &t).ok());
  EXPECT_EQ(e->stats().refusals_logged, 1u);
  Open read1(tree, "/bin/evil", AccessOp::kRead);
  EXPECT_TRUE(e->CheckOpen(read1.req, &t).ok());
  EXPECT_EQ(e->stats().audits_logged, 1u);
  // The same inode number and content, a later ctime: what unlink + create gives on tmpfs/ext4.
  Open second(tree, "/bin/evil", AccessOp::kExec);
  second.req.st.st_ctim.tv_sec += 10;
  EXPECT_FALSE(e->CheckOpen(second.req, &t).ok());
  EXPECT_EQ(e->stats().refusals_logged, 2u);
  Open read2(tree, "/bin/evil", AccessOp::kRead);
  read2.req.st.st_ctim.tv_sec += 10;
  EXPECT_TRUE(e->CheckOpen(read2.req, &t).ok());
  EXPECT_EQ(e->stats().audits_logged, 2u);
}

TEST_F(EnforcerTest, FailClosedOnStoreError) {
  tree.Write("/bin/a", "A");
  List("/bin/a", "A");
  store->fail_lookup = true;
  auto e = Make(kExecPolicy);
  Status s = Check(*e, "/bin/a", AccessOp::kExec);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kCorrupt);
  EXPECT_NE(s.message().find("injected read error"), std::string::npos);
  // Errors are not cached: once the store reads again, the file passes.
  store->fail_lookup = false;
  EXPECT_TRUE(Check(*e, "/bin/a", AccessOp::kExec).ok());
  // Permissive: the error is logged and the open allowed.
  store->fail_lookup = true;
  auto p = Make(kExecPolicy, EnforceMode::kPermissive);
  EXPECT_TRUE(Check(*p, "/bin/a", AccessOp::kExec).ok());
  EXPECT_EQ(p->stats().refusals, 1u);
}

TEST_F(EnforcerTest, FailClosedWhenFileCannotBeHashed) {
  tree.Write("/bin/a", "A");
  auto e = Make("appraise op=write\n");
  Open o(tree, "/bin/a", AccessOp::kWrite, O_WRONLY);
  o.req.reopen_readonly = []() -> Result<Fd> { return Status(Code::kIo, "reopen failed", EIO); };
  OpenTicket t;
  Status s = e->CheckOpen(o.req, &t);
  EXPECT_EQ(s.code(), Code::kIo);
  EXPECT_NE(s.code(), Code::kOk);
}

TEST_F(EnforcerTest, MeasureKnownSourceOnceAndUnknownFiles) {
  tree.Write("/usr/bin/a", "A");
  tree.Write("/usr/bin/b", "B");
  tree.Write("/tmp/u", "unknown");
  store->Add(SourceKind::kRpm, "pkg-1.0-1.x86_64",
             {FileEntry{Sha("A"), "/usr/bin/a", 0100755, 0},
              FileEntry{Sha("B"), "/usr/bin/b", 0100755, 0}});
  auto e = Make("measure op=exec\n");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Check(*e, "/usr/bin/a", AccessOp::kExec).ok());
    EXPECT_TRUE(Check(*e, "/usr/bin/b", AccessOp::kExec).ok());
    EXPECT_TRUE(Check(*e, "/tmp/u", AccessOp::kExec).ok());  // measured, not appraised
  }
  std::lock_guard l(measurer->mu);
  EXPECT_EQ(measurer->sources, std::vector<std::string>{"pkg-1.0-1.x86_64"});
  ASSERT_EQ(measurer->files.size(), 1u);
  EXPECT_EQ(measurer->files[0], Sha("unknown").ToString() + " /tmp/u");
}

TEST_F(EnforcerTest, UnknownFileIsMeasuredThenRefused) {
  tree.Write("/tmp/u", "unknown");
  auto e = Make("appraise op=exec\nmeasure op=exec\n");
  EXPECT_EQ(Check(*e, "/tmp/u", AccessOp::kExec).code(), Code::kPermissionDenied);
  std::lock_guard l(measurer->mu);
  EXPECT_EQ(measurer->files.size(), 1u);
}

TEST_F(EnforcerTest, FailClosedOnMeasurerError) {
  tree.Write("/usr/bin/a", "A");
  List("/usr/bin/a", "A");
  measurer->fail = true;
  auto e = Make("measure op=exec\n");
  Status s = Check(*e, "/usr/bin/a", AccessOp::kExec);
  EXPECT_EQ(s.code(), Code::kUnavailable);
  auto p = Make("measure op=exec\n", EnforceMode::kPermissive);
  EXPECT_TRUE(Check(*p, "/usr/bin/a", AccessOp::kExec).ok());
  measurer->fail = false;
  EXPECT_TRUE(Check(*e, "/usr/bin/a", AccessOp::kExec).ok());
}

TEST_F(EnforcerTest, AuditLogsUnknownOnceAndAllows) {
  tree.Write("/etc/x", "x");
  tree.Write("/etc/y", "y");
  List("/etc/y", "y");
  auto e = Make("audit op=read\n");
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(Check(*e, "/etc/x", AccessOp::kRead).ok());
    EXPECT_TRUE(Check(*e, "/etc/y", AccessOp::kRead).ok());
  }
  EXPECT_EQ(e->stats().audits_logged, 1u);
  EXPECT_EQ(e->stats().refusals, 0u);
}

TEST_F(EnforcerTest, MutableRetrustOnLastWriterClose) {
  tree.Write("/etc/app.conf", "shipped");
  List("/etc/app.conf", "shipped", kFileMutable | kFileConfig);
  auto e = Make("appraise path=/etc/** mutable\n");
  ASSERT_TRUE(Check(*e, "/etc/app.conf", AccessOp::kRead).ok());
  // Written through the mount: fs/ reports Changed while writing and WriterClosed at the end.
  tree.Write("/etc/app.conf", "edited by the admin");
  Open w(tree, "/etc/app.conf", AccessOp::kWrite, O_WRONLY);
  e->Changed(w.req.st.st_dev, w.req.st.st_ino);
  e->WriterClosed(w.req.st.st_dev, w.req.st.st_ino, "/etc/app.conf", w.req.reopen_readonly, {});
  EXPECT_EQ(store->trust_calls, 1);
  EXPECT_EQ(e->stats().retrusted, 1u);
  uint64_t hashes = e->stats().hashes;
  EXPECT_TRUE(Check(*e, "/etc/app.conf", AccessOp::kRead).ok());
  EXPECT_EQ(e->stats().hashes, hashes) << "re-trust primes the cache";
  // Local trust never vouches for exec, nor at another path.
  EXPECT_EQ(Check(*e, "/etc/app.conf", AccessOp::kExec).code(), Code::kPermissionDenied);
  tree.Write("/etc/copy.conf", "edited by the admin");
  EXPECT_EQ(Check(*e, "/etc/copy.conf", AccessOp::kRead).code(), Code::kPermissionDenied);
  // An edit beneath the mount (no WriterClosed) is caught.
  tree.Write("/etc/app.conf", "edited beneath");
  EXPECT_EQ(Check(*e, "/etc/app.conf", AccessOp::kRead).code(), Code::kPermissionDenied);
}

TEST_F(EnforcerTest, RetrustOfAFileNoLongerAtItsPathRecordsNothing) {
  tree.Write("/etc/app.conf", "written, then renamed away while hashed");
  auto e = Make("appraise path=/etc/** mutable\n");
  Open w(tree, "/etc/app.conf", AccessOp::kWrite, O_WRONLY);
  e->Changed(w.req.st.st_dev, w.req.st.st_ino);
  int asked = 0;
  e->WriterClosed(w.req.st.st_dev, w.req.st.st_ino, "/etc/app.conf", w.req.reopen_readonly,
                  [&asked] {
                    ++asked;
                    return false;
                  });
  EXPECT_EQ(asked, 1) << "asked once, after the hash";
  EXPECT_EQ(store->trust_calls, 0);
  EXPECT_EQ(e->stats().retrusted, 0u);
  EXPECT_EQ(Check(*e, "/etc/app.conf", AccessOp::kRead).code(), Code::kPermissionDenied);
  // Still at its path: recorded.
  e->WriterClosed(w.req.st.st_dev, w.req.st.st_ino, "/etc/app.conf", w.req.reopen_readonly,
                  [] { return true; });
  EXPECT_EQ(store->trust_calls, 1);
  EXPECT_TRUE(Check(*e, "/etc/app.conf", AccessOp::kRead).ok());
}

TEST_F(EnforcerTest, MutableFileBeingWrittenIsReadableUntilItsWriterCloses) {
  tree.Write("/etc/a.conf", "shipped");
  tree.Write("/usr/lib/x", "unlisted");
  // A read-only store: the re-trust at close cannot happen, which shows the window closing.
  auto e = Make("appraise path=/etc/** mutable\nappraise path=/usr/**\n", EnforceMode::kEnforce,
                false, /*writable=*/false);
  EXPECT_EQ(Check(*e, "/etc/a.conf", AccessOp::kRead).code(), Code::kPermissionDenied);
  Open w(tree, "/etc/a.conf", AccessOp::kWrite, O_WRONLY);
  e->Changed(w.req.st.st_dev, w.req.st.st_ino);  // a write through the mount
  EXPECT_TRUE(Check(*e, "/etc/a.conf", AccessOp::kRead).ok());
  EXPECT_EQ(Check(*e, "/etc/a.conf", AccessOp::kExec).code(), Code::kPermissionDenied);
  Open u(tree, "/usr/lib/x", AccessOp::kWrite, O_WRONLY);
  e->Changed(u.req.st.st_dev, u.req.st.st_ino);  // not mutable: no window
  EXPECT_EQ(Check(*e, "/usr/lib/x", AccessOp::kRead).code(), Code::kPermissionDenied);
  e->WriterClosed(w.req.st.st_dev, w.req.st.st_ino, "/etc/a.conf", w.req.reopen_readonly, {});
  EXPECT_EQ(Check(*e, "/etc/a.conf", AccessOp::kRead).code(), Code::kPermissionDenied);
}

TEST_F(EnforcerTest, WriterClosedOnNonMutablePathOnlyDrops) {
  tree.Write("/usr/bin/a", "A");
  List("/usr/bin/a", "A");
  auto e = Make("appraise\naudit path=/etc/** mutable\n");
  ASSERT_TRUE(Check(*e, "/usr/bin/a", AccessOp::kRead).ok());
  tree.Write("/usr/bin/a", "A modified through the mount");
  Open w(tree, "/usr/bin/a", AccessOp::kWrite, O_WRONLY);
  e->WriterClosed(w.req.st.st_dev, w.req.st.st_ino, "/usr/bin/a", w.req.reopen_readonly, {});
  EXPECT_EQ(store->trust_calls, 0);
  EXPECT_EQ(Check(*e, "/usr/bin/a", AccessOp::kRead).code(), Code::kPermissionDenied);
}

TEST_F(EnforcerTest, ReadOnlyStoreDoesNotRetrust) {
  tree.Write("/etc/a", "x");
  auto e =
      Make("appraise path=/etc/** mutable\n", EnforceMode::kEnforce, false, /*writable=*/false);
  Open w(tree, "/etc/a", AccessOp::kWrite, O_WRONLY);
  e->WriterClosed(w.req.st.st_dev, w.req.st.st_ino, "/etc/a", w.req.reopen_readonly, {});
  EXPECT_EQ(store->trust_calls, 0);
  EXPECT_EQ(Check(*e, "/etc/a", AccessOp::kRead).code(), Code::kPermissionDenied);
}

TEST_F(EnforcerTest, VerifyBlocksChecksEveryRead) {
  std::string content(4096 * 3 + 100, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7);
  tree.Write("/bin/f", content);
  List("/bin/f", content);
  auto e = Make(kExecPolicy, EnforceMode::kEnforce, /*verify_blocks=*/true);
  EXPECT_TRUE(e->verify_blocks());
  OpenTicket t;
  ASSERT_TRUE(Check(*e, "/bin/f", AccessOp::kExec, &t).ok());
  ASSERT_NE(t.blocks, nullptr);
  auto bytes = [&](size_t off, size_t len) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(content.data()) + off, len);
  };
  EXPECT_TRUE(e->CheckRead(t, 0, bytes(0, 4096)).ok());
  EXPECT_TRUE(e->CheckRead(t, 4096, bytes(4096, 8192)).ok());        // spans two blocks
  EXPECT_TRUE(e->CheckRead(t, 8192, bytes(8192, 4096 + 100)).ok());  // to EOF, short last block
  EXPECT_TRUE(e->CheckRead(t, content.size(), {}).ok());             // EOF
  std::string tampered = content;
  tampered[5000] ^= 1;
  auto tb =
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(tampered.data()), tampered.size());
  EXPECT_EQ(e->CheckRead(t, 4096, tb.subspan(4096, 4096)).code(), Code::kCorrupt);
  // Unaligned and partial-block reads are checked against the whole block, read again.
  EXPECT_TRUE(e->CheckRead(t, 100, bytes(100, 4096)).ok());
  EXPECT_TRUE(e->CheckRead(t, 0, bytes(0, 100)).ok());
  EXPECT_TRUE(e->CheckRead(t, 8192, bytes(8192, 50)).ok());
  EXPECT_TRUE(e->CheckRead(t, 4000, bytes(4000, 8192 - 500)).ok());
  EXPECT_EQ(e->CheckRead(t, 4000, tb.subspan(4000, 2000)).code(), Code::kCorrupt);  // bad bytes
  EXPECT_EQ(e->CheckRead(t, content.size() - 10, bytes(content.size() - 10, 10)).code(), Code::kOk);
  EXPECT_EQ(
      e->CheckRead(t, content.size() - 10,
                   std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(content.data()), 20))
          .code(),
      Code::kCorrupt);                                          // past the size
  EXPECT_EQ(e->CheckRead(t, 4096, {}).code(), Code::kCorrupt);  // file shrank
  EXPECT_GE(e->stats().read_mismatches, 4u);
  // The lower file changed beneath the open: a partial read of the changed block is refused even
  // when the bytes handed in are the old ones.
  {
    int fd = ::open(tree.Real("/bin/f").c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, "Z", 1, 4096 + 3000), 1);
    ::close(fd);
  }
  EXPECT_EQ(e->CheckRead(t, 4096 + 10, bytes(4096 + 10, 100)).code(), Code::kCorrupt);
  EXPECT_TRUE(e->CheckRead(t, 0, bytes(0, 4096)).ok());
  // A ticket without blocks (verify=open) checks nothing.
  EXPECT_TRUE(e->CheckRead(OpenTicket{}, 1, bytes(1, 2)).ok());
}

// fs/'s readers have no lower descriptor at the open (req.fd is -1): the ticket opens one only
// when a read covers part of a block, once, and a partial read it cannot check is refused.
TEST_F(EnforcerTest, VerifyBlocksReaderOpensItsDescriptorOnlyForPartialBlocks) {
  std::string content(4096 * 2 + 10, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 11 + 1);
  tree.Write("/bin/f", content);
  List("/bin/f", content);
  auto e = Make(kExecPolicy, EnforceMode::kEnforce, /*verify_blocks=*/true);
  auto bytes = [&](size_t off, size_t len) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(content.data()) + off, len);
  };
  for (bool fails_first : {false, true}) {
    SCOPED_TRACE(fails_first ? "the first reopen fails" : "reopen works");
    Open o(tree, "/bin/f", AccessOp::kExec);
    o.req.fd = -1;
    auto calls = std::make_shared<int>(0);
    auto failing = std::make_shared<bool>(false);
    auto real = o.req.reopen_readonly;
    o.req.reopen_readonly = [calls, failing, real]() -> Result<Fd> {
      ++*calls;
      if (*failing) return Status(Code::kIo, "reopen failed", EMFILE);
      return real();
    };
    OpenTicket t;
    ASSERT_TRUE(e->CheckOpen(o.req, &t).ok());
    ASSERT_NE(t.blocks, nullptr);
    const int at_open = *calls;  // a hash may have needed it; the ticket did not
    EXPECT_TRUE(e->CheckRead(t, 0, bytes(0, 4096)).ok());
    EXPECT_TRUE(e->CheckRead(t, 4096, bytes(4096, 4096 + 10)).ok());
    EXPECT_EQ(*calls, at_open) << "whole-block reads need no descriptor";
    int expected = at_open;
    if (fails_first) {
      *failing = true;
      EXPECT_EQ(e->CheckRead(t, 100, bytes(100, 200)).code(), Code::kCorrupt);
      EXPECT_EQ(*calls, ++expected);
      *failing = false;  // tried again by the next partial read
    }
    EXPECT_TRUE(e->CheckRead(t, 100, bytes(100, 200)).ok());
    EXPECT_TRUE(e->CheckRead(t, 5000, bytes(5000, 100)).ok());
    EXPECT_EQ(*calls, expected + 1) << "opened once, at the first partial-block read";
    std::string tampered = content;
    tampered[150] ^= 1;
    EXPECT_EQ(
        e->CheckRead(t, 100,
                     std::span<const uint8_t>(
                         reinterpret_cast<const uint8_t*>(tampered.data()) + 100, 200))
            .code(),
        Code::kCorrupt);
  }
}

TEST_F(EnforcerTest, NonRegularFilesAreNeverVouchedFor) {
  ASSERT_EQ(mkfifo(tree.Real("/fifo").c_str(), 0644), 0);
  auto e = Make("appraise\n");
  Open o(tree, "/fifo", AccessOp::kRead, O_RDONLY | O_NONBLOCK);
  ASSERT_TRUE(o.fd.valid());
  OpenTicket t;
  EXPECT_EQ(e->CheckOpen(o.req, &t).code(), Code::kPermissionDenied);
  EXPECT_EQ(e->stats().hashes, 0u);
}

TEST_F(EnforcerTest, CreateEnforcerWithRejectsBadModeAndMeasuresAllSources) {
  List("/a", "a", 0, "first");
  List("/b", "b", 0, "second");
  EnforcerConfig cfg;
  cfg.mode = "strict";
  auto bad = CreateEnforcerWith(cfg, Policy(), store, false, measurer);
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  cfg.mode = "permissive";
  cfg.measure_all_sources = true;
  auto ok = CreateEnforcerWith(cfg, Policy(), store, false, measurer);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ((*ok)->mode(), EnforceMode::kPermissive);
  std::lock_guard l(measurer->mu);
  EXPECT_EQ(measurer->sources, (std::vector<std::string>{"first", "second"}));
}

}  // namespace
}  // namespace dfs

namespace dfs {
namespace {

// A file /f of `content`, listed, and an enforcer with verify=blocks over it.
class ReadVerifiedTest : public ::testing::Test {
 protected:
  std::unique_ptr<Enforcer> Listed(const std::string& content) {
    tree.Write("/f", content);
    store->Add(SourceKind::kRpm, "p", {FileEntry{Sha(content), "/f", 0100644, 0}});
    EnforcerOptions o;
    o.verify_blocks = true;
    return std::make_unique<Enforcer>(store, nullptr, *Policy::Parse("appraise\n", "t"), o);
  }
  // n bytes of a simple pattern (no block repeats another).
  static std::string Pattern(size_t n, unsigned mul, unsigned add) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * mul + add);
    return s;
  }
  TempTree tree;
  std::shared_ptr<FakeStore> store = std::make_shared<FakeStore>();
};

TEST_F(ReadVerifiedTest, UnalignedReadsAreCheckedAndTamperingIsCaught) {
  const std::string content = Pattern(kVerifyBlockSize * 3 + 1234, 13, 5);
  auto ep = Listed(content);
  Enforcer& e = *ep;
  Open op(tree, "/f", AccessOp::kRead);
  OpenTicket t;
  ASSERT_TRUE(e.CheckOpen(op.req, &t).ok());
  ByteBuffer buf;
  size_t start = 0, len = 0;
  const std::pair<uint64_t, size_t> ranges[] = {{0, 4096},
                                                {100, 1000},
                                                {kVerifyBlockSize - 10, 20},
                                                {70000, 131072},
                                                {content.size() - 5, 4096},
                                                {content.size(), 4096},
                                                {content.size() + 5000, 10}};
  for (auto [off, size] : ranges) {
    ASSERT_TRUE(ReadVerified(e, t, op.fd.get(), off, size, &buf, &start, &len).ok()) << off;
    size_t want = off >= content.size() ? 0 : std::min<size_t>(size, content.size() - off);
    ASSERT_EQ(len, want) << off;
    EXPECT_EQ(std::string(reinterpret_cast<char*>(buf.data()) + start, len),
              content.substr(std::min<size_t>(off, content.size()), want));
  }
  // Tampered beneath the open file (same inode): the block read is refused, even unaligned.
  int fd = ::open(tree.Real("/f").c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "X", 1, kVerifyBlockSize + 7), 1);
  ::close(fd);
  EXPECT_EQ(ReadVerified(e, t, op.fd.get(), kVerifyBlockSize + 100, 10, &buf, &start, &len).code(),
            Code::kCorrupt);
  EXPECT_TRUE(ReadVerified(e, t, op.fd.get(), 0, 100, &buf, &start, &len).ok());
}


// ShareTicket: a ticket for another open of the same file checks against the same digests and
// reads part blocks through its own reopen, never the original's; no digests, no ticket.
TEST_F(ReadVerifiedTest, ASharedTicketChecksWithTheSameDigests) {
  const std::string content = Pattern(kVerifyBlockSize * 2 + 99, 7, 3);
  auto ep = Listed(content);
  Enforcer& e = *ep;
  Open op(tree, "/f", AccessOp::kRead);
  op.req.reopen_readonly = []() -> Result<Fd> {
    ADD_FAILURE() << "the original open's reopen was called";
    return Status(Code::kIo, "not this one");
  };
  OpenTicket t;
  ASSERT_TRUE(e.CheckOpen(op.req, &t).ok());
  ASSERT_NE(t.blocks, nullptr);
  EXPECT_EQ(e.ShareTicket(OpenTicket{}, nullptr).blocks, nullptr) << "nothing to share";
  int reopens = 0;
  const std::string real = tree.Real("/f");
  OpenTicket shared = e.ShareTicket(t, [&]() -> Result<Fd> {
    ++reopens;
    return Fd(::open(real.c_str(), O_RDONLY | O_CLOEXEC));
  });
  ASSERT_NE(shared.blocks, nullptr);
  EXPECT_NE(shared.blocks, t.blocks);
  // Whole blocks from the file as verified: accepted; an unaligned range reads its part blocks
  // through the shared ticket's own reopen.
  std::span<const uint8_t> all(reinterpret_cast<const uint8_t*>(content.data()), content.size());
  EXPECT_TRUE(e.CheckRead(shared, 0, all).ok());
  EXPECT_TRUE(e.CheckRead(shared, 10, all.subspan(10, 100)).ok());
  EXPECT_EQ(reopens, 1);
  // Other bytes: refused as for the original ticket.
  std::string other = content;
  other[kVerifyBlockSize + 1] ^= 1;
  std::span<const uint8_t> changed(reinterpret_cast<const uint8_t*>(other.data()), other.size());
  EXPECT_EQ(e.CheckRead(shared, 0, changed).code(), Code::kCorrupt);
  EXPECT_EQ(e.CheckRead(t, 0, changed).code(), Code::kCorrupt);
  // The shared ticket outlives the original one.
  t = OpenTicket{};
  EXPECT_TRUE(e.CheckRead(shared, 0, all).ok());
  EXPECT_EQ(e.CheckRead(shared, 0, changed).code(), Code::kCorrupt);
}


// ReadVerified with several tickets: the bytes must match each (two versions of one file open at
// once: no page may be filled that either open would refuse).
TEST_F(ReadVerifiedTest, BytesMustMatchEveryTicket) {
  const std::string v1(100000, 'a'), v2(100000, 'b');
  store->Add(SourceKind::kRpm, "q", {FileEntry{Sha(v2), "/g", 0100644, 0}});
  auto ep = Listed(v1);
  Enforcer& e = *ep;
  Open first(tree, "/f", AccessOp::kRead);
  OpenTicket t1;
  ASSERT_TRUE(e.CheckOpen(first.req, &t1).ok());
  tree.Write("/f", v2);  // another listed content, same path
  Open second(tree, "/f", AccessOp::kRead);
  e.Changed(second.req.st.st_dev, second.req.st.st_ino);
  OpenTicket t2;
  ASSERT_TRUE(e.CheckOpen(second.req, &t2).ok());
  ASSERT_NE(e.TicketDigests(t1), e.TicketDigests(t2));
  ByteBuffer buf;
  size_t start = 0, len = 0;
  const OpenTicket* only2[] = {&t2};
  const OpenTicket* both[] = {&t2, &t1};
  EXPECT_TRUE(ReadVerified(e, only2, second.fd.get(), 0, 4096, &buf, &start, &len).ok());
  EXPECT_EQ(ReadVerified(e, both, second.fd.get(), 0, 4096, &buf, &start, &len).code(),
            Code::kCorrupt);
}

}  // namespace
}  // namespace dfs
