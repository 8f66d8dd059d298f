// The policy language: globs, parsing (errors with line and column), first-match decisions per
// family, and the shipped default policy.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "policy/glob.h"
#include "policy/policy.h"

namespace dfs {
namespace {

bool G(std::string_view pat, std::string_view path) {
  auto g = Glob::Compile(pat);
  EXPECT_TRUE(g.ok()) << pat << ": " << g.status().ToString();
  return g.ok() && g->Match(path);
}

TEST(Glob, StarStaysInsideOneComponent) {
  EXPECT_TRUE(G("/usr/bin/*", "/usr/bin/ls"));
  EXPECT_FALSE(G("/usr/bin/*", "/usr/bin/sub/ls"));
  EXPECT_FALSE(G("/usr/*", "/usr/bin/ls"));
  EXPECT_TRUE(G("/usr/*/ls", "/usr/bin/ls"));
  EXPECT_TRUE(G("/etc/*.conf", "/etc/a.conf"));
  EXPECT_FALSE(G("/etc/*.conf", "/etc/a.confx"));
  EXPECT_TRUE(G("/etc/?.conf", "/etc/a.conf"));
  EXPECT_FALSE(G("/etc/?.conf", "/etc/ab.conf"));
}

TEST(Glob, DoubleStarSpansComponents) {
  EXPECT_TRUE(G("/usr/**", "/usr/bin/ls"));
  EXPECT_TRUE(G("/usr/**", "/usr/lib/x86_64-linux-gnu/libc.so.6"));
  EXPECT_TRUE(G("/usr/**", "/usr"));  // zero components
  EXPECT_FALSE(G("/usr/**", "/usrx/bin"));
  EXPECT_TRUE(G("/**/*.so", "/a/b/c.so"));
  EXPECT_TRUE(G("/**/*.so", "/c.so"));
  EXPECT_TRUE(G("/usr/**/bin/*", "/usr/bin/ls"));
  EXPECT_TRUE(G("/usr/**/bin/*", "/usr/local/x/bin/ls"));
  EXPECT_FALSE(G("/usr/**/bin/*", "/usr/local/x/sbin/ls"));
  EXPECT_TRUE(G("/**", "/anything/at/all"));
}

TEST(Glob, LibStarCoversLib64AndClasses) {
  EXPECT_TRUE(G("/lib*/**", "/lib64/ld-linux-x86-64.so.2"));
  EXPECT_TRUE(G("/lib*/**", "/lib/x"));
  EXPECT_TRUE(G("/lib*/**", "/libexec/a/b"));
  EXPECT_FALSE(G("/lib*/**", "/usr/lib/x"));
  EXPECT_TRUE(G("/bin/[a-c]*", "/bin/bash"));
  EXPECT_FALSE(G("/bin/[!a-c]*", "/bin/bash"));
  EXPECT_TRUE(G("/bin/\\*", "/bin/*"));
  EXPECT_FALSE(G("/bin/\\*", "/bin/x"));
}

TEST(Glob, HiddenFilesAreNotSpecial) {
  EXPECT_TRUE(G("/tmp/*", "/tmp/.hidden"));
  EXPECT_TRUE(G("/usr/**", "/usr/.x/.y"));
}

// Components without metacharacters are compared byte for byte; an escaped metacharacter is a
// literal one (fnmatch), not a wildcard, and is not compared as the two bytes "\\*".
TEST(Glob, LiteralAndEscapedComponents) {
  EXPECT_TRUE(G("/usr/lib/sysimage/**", "/usr/lib/sysimage/rpm/x"));
  EXPECT_FALSE(G("/usr/lib/sysimage/**", "/usr/lib/sysimag/rpm/x"));
  EXPECT_FALSE(G("/usr/lib/sysimage/**", "/usr/lib/sysimagex/rpm"));
  EXPECT_FALSE(G("/usr/lib", "/usr/li"));
  EXPECT_TRUE(G("/opt/a\\*b", "/opt/a*b"));
  EXPECT_FALSE(G("/opt/a\\*b", "/opt/axb"));
  EXPECT_FALSE(G("/opt/a\\*b", "/opt/a\\*b"));
  EXPECT_TRUE(G("/opt/a\\?", "/opt/a?"));
  EXPECT_FALSE(G("/opt/a\\?", "/opt/ab"));
  EXPECT_TRUE(G("/opt/a\\b", "/opt/ab"));  // an escaped ordinary character is that character
  EXPECT_FALSE(G("/opt/a\\b", "/opt/a\\b"));
  // Names longer than NAME_MAX are matched whole, literal or not.
  const std::string longname(300, 'n');
  EXPECT_TRUE(G("/opt/*", "/opt/" + longname));
  EXPECT_TRUE(G("/opt/" + longname, "/opt/" + longname));
  EXPECT_FALSE(G("/opt/" + longname + "?", "/opt/" + longname));
  // The same Glob matched many times, and other paths between: nothing carried over.
  auto g = Glob::Compile("/usr/**/bin/*");
  ASSERT_TRUE(g.ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(g->Match("/usr/local/bin/x"));
    EXPECT_FALSE(g->Match("/usr/local/sbin/x"));
    EXPECT_TRUE(g->Match("/usr/bin/y"));
    EXPECT_FALSE(g->Match("/usr/bin"));
  }
}

TEST(Glob, UnnormalizedPathsDoNotMatch) {
  EXPECT_FALSE(G("/usr/bin/*", "/usr//bin/ls"));
  EXPECT_FALSE(G("/usr/bin/*", "usr/bin/ls"));
  EXPECT_FALSE(G("/usr/bin/ls", "/usr/bin/ls/"));
}

TEST(Glob, BadGlobsNameTheColumn) {
  size_t col = 0;
  EXPECT_FALSE(Glob::Compile("usr/**", &col).ok());
  EXPECT_EQ(col, 1u);
  EXPECT_FALSE(Glob::Compile("/usr//bin", &col).ok());
  EXPECT_EQ(col, 6u);
  EXPECT_FALSE(Glob::Compile("/usr/a**", &col).ok());
  EXPECT_EQ(col, 7u);
  EXPECT_FALSE(Glob::Compile("/usr/[ab", &col).ok());
  EXPECT_EQ(col, 6u);
  EXPECT_FALSE(Glob::Compile("/usr/../etc", &col).ok());
  EXPECT_EQ(col, 6u);
  EXPECT_FALSE(Glob::Compile("/", &col).ok());
}

Status ParseError(std::string_view text) {
  auto p = Policy::Parse(text, "t.policy");
  EXPECT_FALSE(p.ok()) << text;
  return p.ok() ? Status::Ok() : p.status();
}

TEST(PolicyParse, AllActionsAndConditions) {
  auto p = Policy::Parse(
      "# comment\n"
      "\n"
      "appraise op=exec path=/usr/** uid=0 fowner<1000 type=reg bind=path\n"
      "  dont_appraise op=read path=/tmp/**   # trailing comment\n"
      "measure op=any uid>999 mutable\r\n"
      "dont_measure fowner=5\n"
      "audit op=write\n"
      "dont_audit type=dir\n",
      "t.policy");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const auto& r = p->rules();
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0].line, 3);
  EXPECT_EQ(r[0].action, Action::kAppraise);
  EXPECT_EQ(*r[0].op, AccessOp::kExec);
  EXPECT_EQ(r[0].path->pattern(), "/usr/**");
  EXPECT_EQ(r[0].uid->cmp, IdMatch::Cmp::kEq);
  EXPECT_EQ(r[0].fowner->cmp, IdMatch::Cmp::kLt);
  EXPECT_EQ(r[0].fowner->value, 1000u);
  EXPECT_EQ(*r[0].type, static_cast<mode_t>(S_IFREG));
  EXPECT_TRUE(r[0].bind_path);
  EXPECT_EQ(r[1].line, 4);
  EXPECT_EQ(r[1].action, Action::kDontAppraise);
  EXPECT_EQ(r[1].text, "dont_appraise op=read path=/tmp/**");
  EXPECT_EQ(r[2].action, Action::kMeasure);
  EXPECT_FALSE(r[2].op.has_value());
  EXPECT_EQ(r[2].uid->cmp, IdMatch::Cmp::kGt);
  EXPECT_TRUE(r[2].is_mutable);
  EXPECT_EQ(r[3].action, Action::kDontMeasure);
  EXPECT_EQ(r[4].action, Action::kAudit);
  EXPECT_EQ(*r[4].op, AccessOp::kWrite);
  EXPECT_EQ(r[5].action, Action::kDontAudit);
  EXPECT_EQ(*r[5].type, static_cast<mode_t>(S_IFDIR));
  EXPECT_TRUE(p->has_mutable());
  EXPECT_TRUE(p->has_family(Family::kMeasure));
}

TEST(PolicyParse, EmptyPolicyIsValidAndDecidesNothing) {
  auto p = Policy::Parse("# nothing\n\n", "t");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->rules().empty());
  EXPECT_FALSE(p->Decide({"/usr/bin/ls", AccessOp::kExec, 0, 0, S_IFREG}).any());
}

TEST(PolicyParse, ErrorsNameFileLineAndColumn) {
  EXPECT_EQ(ParseError("appraise\nfrobnicate op=exec\n").message(),
            "t.policy:2:1: unknown action 'frobnicate' (appraise, dont_appraise, measure, "
            "dont_measure, audit, dont_audit)");
  EXPECT_EQ(ParseError("appraise op=run\n").message(),
            "t.policy:1:13: unknown op 'run' (exec, read, write, any)");
  EXPECT_EQ(ParseError("appraise  colour=red\n").message(),
            "t.policy:1:11: unknown condition 'colour' (op, path, uid, fowner, type, max_size, "
            "bind, mutable)");
  EXPECT_EQ(ParseError("appraise path=/usr//x\n").message(),
            "t.policy:1:20: bad path glob: empty path component ('//' or a trailing '/')");
  EXPECT_EQ(ParseError("appraise path=usr/**\n").message(),
            "t.policy:1:15: bad path glob: a path glob must start with '/' (it is relative to the "
            "mount root)");
  EXPECT_EQ(ParseError("appraise uid=root\n").message(),
            "t.policy:1:14: 'uid' needs a numeric id (0 to 4294967295), got 'root'");
  EXPECT_EQ(ParseError("appraise uid=99999999999\n").code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseError("dont_appraise bind=path\n").message(),
            "t.policy:1:15: bind=path has no effect on dont_appraise");
  EXPECT_EQ(ParseError("appraise bind=content\n").message(),
            "t.policy:1:15: unknown binding 'content' (path)");
  EXPECT_EQ(ParseError("appraise op=exec op=read\n").message(),
            "t.policy:1:18: condition 'op' given twice");
  EXPECT_EQ(ParseError("appraise type=socket\n").message(),
            "t.policy:1:15: unknown type 'socket' (reg, dir, lnk, chr, blk, fifo, sock)");
  EXPECT_EQ(ParseError("appraise path<x\n").message(),
            "t.policy:1:14: '<' is only allowed after uid and fowner");
  EXPECT_EQ(ParseError("appraise op=\n").message(), "t.policy:1:13: empty value for 'op'");
  EXPECT_EQ(ParseError("appraise exec\n").message(),
            "t.policy:1:10: expected KEY=VALUE or 'mutable', got 'exec'");
  EXPECT_EQ(ParseError("appraise mutable mutable\n").message(),
            "t.policy:1:18: 'mutable' given twice");
  EXPECT_EQ(ParseError("appraise\x01\n").message(),
            "t.policy:1:9: control character in policy text");
  EXPECT_EQ(ParseError("\n\n\tappraise path=/a/b**\n").message(),
            "t.policy:3:20: bad path glob: '**' must be a whole path component ('/**/')");
}

TEST(PolicyParse, MaxSize) {
  auto p = Policy::Parse("appraise max_size=512M\naudit max_size=7\nmeasure max_size=1T\n", "t");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(*p->rules()[0].max_size, 512ull << 20);
  EXPECT_EQ(*p->rules()[1].max_size, 7u);
  EXPECT_EQ(*p->rules()[2].max_size, 1ull << 40);
  EXPECT_EQ(ParseError("dont_audit max_size=1G\n").message(),
            "t.policy:1:12: max_size= has no effect on dont_audit");
  for (const char* bad : {"0", "1X", "G", "-1", "99999999999T", "1.5G", "18446744073709551616"}) {
    EXPECT_EQ(ParseError("appraise max_size=" + std::string(bad) + "\n").code(),
              Code::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(ParseError("appraise max_size=1 max_size=2\n").message(),
            "t.policy:1:21: condition 'max_size' given twice");
}

TEST(PolicyParse, LoadNamesTheFile) {
  auto p = Policy::Load("/nonexistent/digestfs.policy");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("/nonexistent/digestfs.policy"), std::string::npos);
  char tmpl[] = "/tmp/policy_parse_test.XXXXXX";
  int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  std::string text = "appraise op=exec\naudit op=nope\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  auto q = Policy::Load(tmpl);
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(),
            std::string(tmpl) + ":2:10: unknown op 'nope' (exec, read, write, any)");
  unlink(tmpl);
}

Subject S(std::string_view path, AccessOp op, uint32_t uid = 0, uint32_t fowner = 0,
          mode_t mode = S_IFREG) {
  return Subject{path, op, uid, fowner, mode};
}

TEST(PolicyDecide, FirstMatchWinsPerFamily) {
  auto p = Policy::Parse(
      "dont_appraise path=/tmp/**\n"     // 1
      "appraise op=exec\n"               // 2
      "appraise op=read path=/usr/**\n"  // 3
      "measure op=exec path=/usr/**\n"   // 4
      "dont_measure\n"                   // 5
      "measure op=exec\n"                // 6: never decides: 5 matches everything first
      "audit op=read mutable\n",         // 7
      "t");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto d = p->Decide(S("/tmp/x", AccessOp::kExec));
  EXPECT_EQ(d.of(Family::kAppraise)->line, 1);
  EXPECT_FALSE(d.on(Family::kAppraise));
  EXPECT_EQ(d.of(Family::kMeasure)->line, 5);
  EXPECT_FALSE(d.on(Family::kMeasure));
  EXPECT_EQ(d.of(Family::kAudit), nullptr);
  EXPECT_FALSE(d.any());

  d = p->Decide(S("/usr/bin/ls", AccessOp::kExec));
  EXPECT_TRUE(d.on(Family::kAppraise));
  EXPECT_EQ(d.of(Family::kAppraise)->line, 2);
  EXPECT_TRUE(d.on(Family::kMeasure));
  EXPECT_EQ(d.of(Family::kMeasure)->line, 4);

  d = p->Decide(S("/usr/lib/libc.so", AccessOp::kRead));
  EXPECT_EQ(d.of(Family::kAppraise)->line, 3);
  EXPECT_EQ(d.of(Family::kMeasure)->line, 5);
  EXPECT_EQ(d.of(Family::kAudit)->line, 7);
  EXPECT_TRUE(d.is_mutable());

  d = p->Decide(S("/home/a", AccessOp::kWrite));
  EXPECT_EQ(d.of(Family::kAppraise), nullptr);
  EXPECT_EQ(d.of(Family::kAudit), nullptr);
  EXPECT_FALSE(d.is_mutable());
  EXPECT_TRUE(p->IsMutable(S("/home/a", AccessOp::kWrite)));  // mutability is decided for read
}

TEST(PolicyDecide, UidFownerAndType) {
  auto p = Policy::Parse(
      "appraise uid=1000\n"
      "appraise fowner>999\n"
      "audit uid<100 type=reg\n"
      "measure type=fifo\n",
      "t");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->Decide(S("/a", AccessOp::kRead, 1000, 0)).of(Family::kAppraise)->line, 1);
  EXPECT_EQ(p->Decide(S("/a", AccessOp::kRead, 1, 1000)).of(Family::kAppraise)->line, 2);
  EXPECT_EQ(p->Decide(S("/a", AccessOp::kRead, 1, 999)).of(Family::kAppraise), nullptr);
  EXPECT_EQ(p->Decide(S("/a", AccessOp::kRead, 99, 0)).of(Family::kAudit)->line, 3);
  EXPECT_EQ(p->Decide(S("/a", AccessOp::kRead, 100, 0)).of(Family::kAudit), nullptr);
  EXPECT_EQ(p->Decide(S("/a", AccessOp::kRead, 0, 0, S_IFDIR)).of(Family::kAudit), nullptr);
  EXPECT_EQ(p->Decide(S("/a", AccessOp::kRead, 0, 0, S_IFIFO)).of(Family::kMeasure)->line, 4);
  EXPECT_EQ(p->Decide(S("/a", AccessOp::kRead, 0, 0, S_IFREG)).of(Family::kMeasure), nullptr);
}

TEST(PolicyDefault, ParsesAndDecidesAsDocumented) {
  auto p = Policy::Parse(Policy::DefaultText(), "default.policy");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // The compiled-in text is the shipped file.
  std::ifstream f(DFS_SOURCE_DIR "/policy/default.policy");
  std::string file((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(file, Policy::DefaultText());
  EXPECT_TRUE(p->Decide(S("/opt/app/bin/x", AccessOp::kExec)).on(Family::kAppraise));
  EXPECT_TRUE(p->Decide(S("/tmp/x", AccessOp::kExec)).on(Family::kAppraise));
  EXPECT_TRUE(p->Decide(S("/tmp/x", AccessOp::kExec)).on(Family::kMeasure));
  for (const char* path :
       {"/usr/lib/libc.so.6", "/lib64/ld.so", "/lib/x", "/bin/sh", "/sbin/init"}) {
    EXPECT_TRUE(p->Decide(S(path, AccessOp::kRead)).on(Family::kAppraise)) << path;
  }
  EXPECT_FALSE(p->Decide(S("/etc/passwd", AccessOp::kRead)).on(Family::kAppraise));
  EXPECT_TRUE(p->Decide(S("/etc/passwd", AccessOp::kRead)).on(Family::kAudit));
  for (const char* path : {"/etc/passwd", "/var/lib/x", "/home/u/z"}) {
    EXPECT_TRUE(p->IsMutable(S(path, AccessOp::kWrite))) << path;
  }
  // Scratch trees: neither mutable (each re-trust is a store record) nor audited.
  for (const char* path : {"/tmp/y", "/var/tmp/y"}) {
    EXPECT_FALSE(p->IsMutable(S(path, AccessOp::kWrite))) << path;
    EXPECT_FALSE(p->Decide(S(path, AccessOp::kRead)).any()) << path;
  }
  EXPECT_FALSE(p->IsMutable(S("/usr/bin/ls", AccessOp::kWrite)));
  EXPECT_FALSE(p->Decide(S("/opt/data", AccessOp::kRead)).any());
  auto db = p->Decide(S("/usr/lib/sysimage/rpm/rpmdb.sqlite", AccessOp::kRead));
  EXPECT_FALSE(db.on(Family::kAppraise));
  EXPECT_TRUE(db.on(Family::kAudit));
  EXPECT_TRUE(p->Decide(S("/usr/lib/sysimage/x", AccessOp::kExec)).on(Family::kAppraise));
  EXPECT_FALSE(Policy::Default().rules().empty());
}

}  // namespace
}  // namespace dfs
