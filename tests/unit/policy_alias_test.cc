// Hard links and unknown names: a FUSE open does not say which name the caller used, so the
// decision is the strictest over every known name of the file, and an unknown name is decided as
// strictly as any name could be (regression tests for the hard-link path-aliasing bypass).
#include <gtest/gtest.h>

#include "policy/pipeline.h"
#include "policy/policy.h"
#include "tests/unit/enforcer_fakes.h"

namespace dfs {
namespace {

using testing::FakeStore;
using testing::Open;
using testing::Sha;
using testing::TempTree;

constexpr std::string_view kPolicy =
    "dont_appraise path=/tmp/**\n"
    "appraise op=read path=/usr/**\n"
    "audit op=read path=/tmp/** mutable\n"
    "audit op=read path=/etc/** mutable\n";

Policy Parse(std::string_view text) {
  auto p = Policy::Parse(text, "t.policy");
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}

TEST(DecideStrictest, AnAliasUnderAnAppraisedTreeAppraises) {
  Policy p = Parse(kPolicy);
  Subject s{"/tmp/a", AccessOp::kRead};
  EXPECT_FALSE(p.Decide(s).on(Family::kAppraise)) << "the /tmp name alone is exempt";
  Decision d = p.DecideStrictest(s, {"/usr/lib/libx.so"});
  EXPECT_TRUE(d.on(Family::kAppraise));
  EXPECT_EQ(d.of(Family::kAppraise)->line, 2);
  EXPECT_FALSE(d.is_mutable()) << "mutable only if every name is mutable";
}

TEST(DecideStrictest, MutableOnlyWhenEveryNameIs) {
  Policy p = Parse(kPolicy);
  Subject s{"/tmp/a", AccessOp::kRead};
  EXPECT_TRUE(p.DecideStrictest(s, {}).is_mutable());
  EXPECT_TRUE(p.DecideStrictest(s, {"/etc/b"}).is_mutable());
  EXPECT_FALSE(p.DecideStrictest(s, {"/etc/b", "/opt/c"}).is_mutable());
}

TEST(DecideStrictest, UnknownPathIsDecidedStrictly) {
  Policy p = Parse(kPolicy);
  Subject s{"", AccessOp::kRead};
  EXPECT_FALSE(p.Decide(s).on(Family::kAppraise)) << "an empty path matches no glob";
  Decision d = p.DecideStrictest(s, {});
  EXPECT_TRUE(d.on(Family::kAppraise)) << "no dont_ exemption applies to an unknown path";
  EXPECT_TRUE(d.on(Family::kAudit));
  EXPECT_FALSE(d.is_mutable());
}

class AliasEnforcerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Enforcer> Make(std::string_view text) {
    EnforcerOptions o;
    o.mode = EnforceMode::kEnforce;
    o.store_writable = true;
    return std::make_unique<Enforcer>(store, nullptr, Parse(text), o);
  }
  std::shared_ptr<FakeStore> store = std::make_shared<FakeStore>();
  TempTree tree;
};

TEST_F(AliasEnforcerTest, UnknownContentHardLinkedIntoUsrIsRefusedWhateverNameIsReported) {
  tree.Write("/tmp/a", "attacker library");
  auto e = Make(kPolicy);
  Open o(tree, "/tmp/a", AccessOp::kRead);
  OpenTicket t;
  EXPECT_TRUE(e->CheckOpen(o.req, &t).ok()) << "one name, under /tmp: not appraised";
  Open linked(tree, "/tmp/a", AccessOp::kRead);
  linked.req.aliases = {"/usr/lib/libx.so"};
  EXPECT_EQ(e->CheckOpen(linked.req, &t).code(), Code::kPermissionDenied);
  Open nameless(tree, "/tmp/a", AccessOp::kRead);
  nameless.req.path.clear();
  EXPECT_EQ(e->CheckOpen(nameless.req, &t).code(), Code::kPermissionDenied);
}

TEST_F(AliasEnforcerTest, PathBoundRecordsMustVouchAtEveryName) {
  tree.Write("/usr/bin/hello", "hello");
  store->Add(SourceKind::kRpm, "hello",
             {FileEntry{Sha("hello"), "/usr/bin/hello", 0100755, 0}});
  auto e = Make("appraise op=read path=/usr/** bind=path\n");
  Open o(tree, "/usr/bin/hello", AccessOp::kRead);
  OpenTicket t;
  EXPECT_TRUE(e->CheckOpen(o.req, &t).ok());
  Open linked(tree, "/usr/bin/hello", AccessOp::kRead);
  linked.req.aliases = {"/usr/local/bin/hello"};
  EXPECT_EQ(e->CheckOpen(linked.req, &t).code(), Code::kPermissionDenied)
      << "a listed binary linked to an unlisted path is refused with bind=path";
}

}  // namespace
}  // namespace dfs

namespace dfs {
namespace {

// verify=blocks in permissive mode logs a mismatching read and serves it; a handle with write
// access gets no block ticket (it reads what writers through the mount wrote).
class VerifyBlocksModesTest : public ::testing::Test {
 protected:
  std::unique_ptr<Enforcer> Make(EnforceMode mode) {
    EnforcerOptions o;
    o.mode = mode;
    o.verify_blocks = true;
    o.block_size = 4096;
    return std::make_unique<Enforcer>(store, nullptr, Parse("appraise op=read\n"), o);
  }
  std::shared_ptr<FakeStore> store = std::make_shared<FakeStore>();
  TempTree tree;
};

TEST_F(VerifyBlocksModesTest, PermissiveServesAMismatchingRead) {
  std::string content(8192, 'a');
  tree.Write("/f", content);
  store->Add(SourceKind::kRpm, "p", {FileEntry{Sha(content), "/f", 0100644, 0}});
  std::string other(4096, 'b');
  auto span = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(other.data()), 4096);
  for (EnforceMode mode : {EnforceMode::kEnforce, EnforceMode::kPermissive}) {
    auto e = Make(mode);
    Open o(tree, "/f", AccessOp::kRead);
    OpenTicket t;
    ASSERT_TRUE(e->CheckOpen(o.req, &t).ok());
    ASSERT_NE(t.blocks, nullptr);
    Status s = e->CheckRead(t, 0, span);
    if (mode == EnforceMode::kEnforce) {
      EXPECT_EQ(s.code(), Code::kCorrupt);
    } else {
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    EXPECT_EQ(e->stats().read_mismatches, 1u);
  }
}

TEST_F(VerifyBlocksModesTest, WriteHandlesAreNotBlockChecked) {
  std::string content(8192, 'a');
  tree.Write("/f", content);
  store->Add(SourceKind::kRpm, "p", {FileEntry{Sha(content), "/f", 0100644, 0}});
  auto e = Make(EnforceMode::kEnforce);
  Open ro(tree, "/f", AccessOp::kRead, O_RDONLY);
  OpenTicket t1;
  ASSERT_TRUE(e->CheckOpen(ro.req, &t1).ok());
  EXPECT_NE(t1.blocks, nullptr);
  Open rw(tree, "/f", AccessOp::kRead, O_RDWR);
  OpenTicket t2;
  ASSERT_TRUE(e->CheckOpen(rw.req, &t2).ok());
  EXPECT_EQ(t2.blocks, nullptr);
}

}  // namespace
}  // namespace dfs
