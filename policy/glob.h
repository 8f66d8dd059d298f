// policy/glob.h: path globs for `path=` conditions (docs/policy.md, "Globs").
//
// A glob is an absolute path pattern, split on '/' into components:
// - a component `**` matches zero or more whole components;
// - in any other component, `*` matches any run of characters and `?` one character, never '/';
//   `[abc]`, `[a-z]` and `[!abc]` are character classes; `\x` matches x literally.
//   (fnmatch(3) without FNM_PERIOD on one component: a leading '.' is matched like any character,
//   so hidden files get no special treatment.)
// Matching is on bytes; paths are not normalized ("//" or "/./" never match a well-formed glob).
//
// Thread safety: a Glob is immutable after Compile.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dfs {

class Glob {
 public:
  // Compiles `pattern`. On error, kInvalidArgument whose message is prefixed with the 1-based
  // column within `pattern` ("col N: ..."), and *err_col (if given) set to that column.
  static Result<Glob> Compile(std::string_view pattern, size_t* err_col = nullptr);

  bool Match(std::string_view path) const;
  const std::string& pattern() const { return pattern_; }

 private:
  bool MatchFrom(size_t pi, const std::vector<std::string_view>& parts, size_t si) const;
  std::string pattern_;
  std::vector<std::string> comps_;  // pattern components; "**" stands for any number of them
  std::vector<bool> literal_;       // per component: no metacharacter (compared byte for byte)
};

}  // namespace dfs
