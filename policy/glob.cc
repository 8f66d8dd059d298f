#include "policy/glob.h"

#include <fnmatch.h>

namespace dfs {

namespace {

Status GlobError(size_t col, const std::string& msg, size_t* err_col) {
  if (err_col) *err_col = col;
  return Status(Code::kInvalidArgument, "col " + std::to_string(col) + ": " + msg);
}

// Splits an absolute path into its components (the leading '/' dropped), into `out` (cleared
// first; its capacity is kept for the next path).
void Split(std::string_view s, std::vector<std::string_view>* out) {
  out->clear();
  size_t i = 1;
  while (i <= s.size()) {
    size_t j = s.find('/', i);
    if (j == std::string_view::npos) j = s.size();
    out->push_back(s.substr(i, j - i));
    i = j + 1;
  }
}

// Whether fnmatch(3) would match `comp` against `pattern` only byte for byte.
bool IsLiteral(std::string_view pattern) {
  return pattern.find_first_of("*?[\\") == std::string_view::npos;
}

// fnmatch(3) of one component, without a heap copy for names up to NAME_MAX.
bool FnMatch(const std::string& pattern, std::string_view comp) {
  char buf[256];
  if (comp.size() < sizeof buf) {
    comp.copy(buf, comp.size());
    buf[comp.size()] = '\0';
    return ::fnmatch(pattern.c_str(), buf, 0) == 0;
  }
  return ::fnmatch(pattern.c_str(), std::string(comp).c_str(), 0) == 0;
}

}  // namespace

Result<Glob> Glob::Compile(std::string_view pattern, size_t* err_col) {
  if (pattern.empty() || pattern[0] != '/') {
    return GlobError(1, "a path glob must start with '/' (it is relative to the mount root)",
                     err_col);
  }
  Glob g;
  g.pattern_ = std::string(pattern);
  if (pattern == "/") return GlobError(1, "the glob '/' matches no file; use /**", err_col);
  size_t start = 1;
  while (start <= pattern.size()) {
    size_t end = pattern.find('/', start);
    if (end == std::string_view::npos) end = pattern.size();
    std::string_view comp = pattern.substr(start, end - start);
    if (comp.empty())
      return GlobError(start + 1, "empty path component ('//' or a trailing '/')", err_col);
    if (comp == "." || comp == "..") {
      return GlobError(start + 1, "'.' and '..' are not allowed in a path glob", err_col);
    }
    if (comp != "**") {
      int depth = 0;
      for (size_t i = 0; i < comp.size(); ++i) {
        char c = comp[i];
        size_t col = start + i + 1;
        if (c == '\\') {
          if (i + 1 == comp.size())
            return GlobError(col, "'\\' at the end of a component", err_col);
          ++i;
        } else if (c == '*' && i + 1 < comp.size() && comp[i + 1] == '*') {
          return GlobError(col, "'**' must be a whole path component ('/**/')", err_col);
        } else if (c == '[') {
          depth = 1;
          size_t k = i + 1;
          if (k < comp.size() && (comp[k] == '!' || comp[k] == '^')) ++k;
          if (k < comp.size() && comp[k] == ']') ++k;  // a leading ']' is literal
          while (k < comp.size() && comp[k] != ']') ++k;
          if (k >= comp.size()) return GlobError(col, "unterminated character class '['", err_col);
          depth = 0;
          i = k;
        }
      }
      (void)depth;
    }
    g.comps_.emplace_back(comp);
    g.literal_.push_back(comp != "**" && IsLiteral(comp));
    start = end + 1;
  }
  return g;
}

bool Glob::MatchFrom(size_t pi, const std::vector<std::string_view>& parts, size_t si) const {
  while (pi < comps_.size()) {
    const std::string& c = comps_[pi];
    if (c == "**") {
      // Collapse consecutive "**" and try every split point.
      while (pi + 1 < comps_.size() && comps_[pi + 1] == "**") ++pi;
      if (pi + 1 == comps_.size()) return true;  // trailing ** matches the rest (even nothing)
      for (size_t k = si; k <= parts.size(); ++k) {
        if (MatchFrom(pi + 1, parts, k)) return true;
      }
      return false;
    }
    if (si >= parts.size()) return false;
    if (literal_[pi] ? parts[si] != c : !FnMatch(c, parts[si])) return false;
    ++pi;
    ++si;
  }
  return si == parts.size();
}

bool Glob::Match(std::string_view path) const {
  if (path.empty() || path[0] != '/') return false;
  if (path.find('\0') != std::string_view::npos) return false;
  // One vector per thread, reused: a Gate matches every open's path against several globs.
  thread_local std::vector<std::string_view> parts;
  Split(path, &parts);
  return MatchFrom(0, parts, 0);
}

}  // namespace dfs
