// Gate::TryCheckOpenInline: decides only what needs no hashing, waiting or measuring, and
// otherwise has no effect (fs/ then calls CheckOpen off its session thread).
#include <gtest/gtest.h>

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
  std::unique_ptr<Enforcer> Make(std::string_view text, bool with_measurer = false) {
    auto p = Policy::Parse(text, "t.policy");
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    EnforcerOptions o;
    o.mode = EnforceMode::kEnforce;
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

}  // namespace
}  // namespace dfs
