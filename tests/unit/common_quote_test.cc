// LogQuote and ShellQuote (common/log.h). LogQuote: printable ASCII as is, everything else
// (quotes, backslash, control and non-ASCII bytes) as \xNN. ShellQuote: the quoted word, given
// to a real bash, is the original bytes again, and a name with control bytes prints none raw.
#include <gtest/gtest.h>
#include <stdio.h>
#include <sys/wait.h>

#include <string>

#include "common/log.h"

namespace {

// What `bash -c "printf %s WORD"` prints: the word as the shell reads it.
std::string ThroughBash(const std::string& word) {
  const std::string script = "printf %s " + word;
  std::string cmd = "bash -c " + dfs::ShellQuote(script);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return "<popen failed>";
  std::string out;
  char buf[256];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return "<bash failed>";
  return out;
}

TEST(LogQuote, EscapesAllButPlainPrintables) {
  EXPECT_EQ(dfs::LogQuote("/usr/bin/ls"), "\"/usr/bin/ls\"");
  EXPECT_EQ(dfs::LogQuote("a \"b\"\\c"), "\"a \\x22b\\x22\\x5cc\"");
  EXPECT_EQ(dfs::LogQuote("x\ny\x7f\xc3\xa9"), "\"x\\x0ay\\x7f\\xc3\\xa9\"");
  EXPECT_EQ(dfs::LogQuote(""), "\"\"");
}

TEST(ShellQuote, PlainNamesInSingleQuotes) {
  EXPECT_EQ(dfs::ShellQuote("/srv/web"), "'/srv/web'");
  EXPECT_EQ(dfs::ShellQuote("/tmp/mnt \"q\""), "'/tmp/mnt \"q\"'");
  EXPECT_EQ(dfs::ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(dfs::ShellQuote(""), "''");
}

TEST(ShellQuote, ControlBytesAreEscaped) {
  const std::string q = dfs::ShellQuote("/a\nb\x1b[2J\x9b");
  EXPECT_EQ(q, "$'/a\\x0ab\\x1b[2J\\x9b'");
  for (unsigned char c : q) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << static_cast<int>(c);
}

TEST(ShellQuote, BashReadsBackTheSameBytes) {
  const std::string names[] = {
      "/srv/web",
      "/tmp/mnt \"q\"",
      "it's $(touch /tmp/pwned) `id` ; rm -rf x",
      "back\\slash and 'quote'",
      std::string("/new\nline\ttab\x01\x7f"),
      "/\xc3\xa9t\xc3\xa9 \x80\xff",
      "trailing backslash\\",
      "\\x41 not an escape",
      "$'nested'",
  };
  for (const std::string& n : names) {
    EXPECT_EQ(ThroughBash(dfs::ShellQuote(n)), n) << dfs::LogQuote(n);
  }
}

}  // namespace
