#include "apt/deb822.h"

#include <algorithm>

namespace dfs::apt {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (IsBlank(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (IsBlank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Status LineError(size_t line, const std::string& why) {
  return Status(Code::kCorrupt, "line " + std::to_string(line) + ": " + why);
}

}  // namespace

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

const std::string_view* Stanza::Find(std::string_view name) const {
  for (const Deb822Field& f : fields) {
    if (EqualsNoCase(f.name, name)) return &f.value;
  }
  return nullptr;
}

std::string_view Stanza::Get(std::string_view name) const {
  const std::string_view* v = Find(name);
  return v ? *v : std::string_view();
}

Status ParseDeb822(std::string_view text, std::vector<Stanza>* out, const Deb822Options& opts) {
  if (text.find('\0') != std::string_view::npos) {
    return Status(Code::kCorrupt, "contains a NUL byte");
  }
  Stanza cur;
  Deb822Field* last = nullptr;  // the field a continuation line extends
  size_t lineno = 0;
  size_t pos = 0;
  auto finish = [&]() {
    if (!cur.fields.empty()) out->push_back(std::move(cur));
    cur = Stanza();
    last = nullptr;
  };
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    size_t next = eol == std::string_view::npos ? text.size() : eol + 1;
    std::string_view line =
        text.substr(pos, (eol == std::string_view::npos ? text.size() : eol) - pos);
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (TrimBlanks(line).empty()) {
      finish();
    } else if (IsBlank(line.front())) {
      if (last == nullptr) return LineError(lineno, "continuation line without a field before it");
      // Extend the raw value to the end of this line (values view the original text).
      // "Name:" with an empty first line: the value starts at the newline before this line, so
      // that its first line is empty (FieldLines).
      const char* begin = last->value.empty() ? line.data() - 1 : last->value.data();
      last->value = std::string_view(begin, static_cast<size_t>(line.data() + line.size() - begin));
    } else if (line.front() == '#') {
      if (!opts.comments) return LineError(lineno, "comment lines are not allowed here");
    } else {
      size_t colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return LineError(lineno, "not a field (no \"Name:\")");
      }
      std::string_view name = line.substr(0, colon);
      if (name.front() == '-') return LineError(lineno, "a field name cannot start with '-'");
      for (char c : name) {
        if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
          return LineError(lineno, "field name contains a blank or a non-ASCII byte");
        }
      }
      if (cur.fields.empty()) cur.line = lineno;
      if (cur.Find(name) != nullptr) {
        return LineError(lineno, "field " + std::string(name) + " given twice in one stanza");
      }
      cur.fields.push_back({name, TrimBlanks(line.substr(colon + 1))});
      last = &cur.fields.back();
    }
    pos = next;
  }
  finish();
  return Status::Ok();
}

std::vector<std::string_view> FieldLines(std::string_view value) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  bool first = true;
  while (pos <= value.size()) {
    size_t eol = value.find('\n', pos);
    std::string_view line =
        value.substr(pos, (eol == std::string_view::npos ? value.size() : eol) - pos);
    if (!first && !line.empty() && IsBlank(line.front())) line.remove_prefix(1);
    while (!line.empty() && (IsBlank(line.back()) || line.back() == '\r')) line.remove_suffix(1);
    out.push_back(line);
    first = false;
    if (eol == std::string_view::npos) break;
    pos = eol + 1;
  }
  return out;
}

std::vector<std::string_view> SplitBlanks(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsBlank(s[i])) ++i;
    size_t j = i;
    while (j < s.size() && !IsBlank(s[j])) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace dfs::apt
