// apt/deb822.h: the deb822 control-file syntax that dpkg and apt use (Packages, Release, the
// dpkg status file, a .deb's control file): stanzas separated by blank lines, each a list of
// "Name: value" fields, where a line starting with a space or a tab continues the field before.
//
// The parser never copies: a Stanza's names and values view the text handed to ParseDeb822, which
// must outlive them. A value is the raw text after "Name:" up to the end of its last continuation
// line, with the first line's leading and trailing blanks trimmed; FieldLines() splits a multi-line
// value into lines (the continuation's leading blank removed; a "." line stays "."). Field names
// compare case-insensitively, as Debian policy says.
//
// Strictness (a malformed index is refused whole, never read in part):
// - a line that is neither a field ("Name:" with a name of printable ASCII without ':' and not
//   starting with '#' or '-') nor a continuation is kCorrupt, naming the line;
// - a continuation line before any field, a field twice in one stanza, a NUL byte: kCorrupt;
// - '#' comment lines are accepted only where the format allows them (Deb822Options.comments).
//   A PGP armour line ("-----BEGIN PGP ...") is not a field: clearsigned text must be verified
//   and unwrapped first (apt/openpgp.h).
// Lines may end in "\n" or "\r\n"; blank lines (only spaces/tabs) separate stanzas.
//
// Fuzzing entry point: ParseDeb822 (any bytes; returns a Status, never crashes).
// Thread safety: plain functions over caller-owned text.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dfs::apt {

struct Deb822Field {
  std::string_view name;
  std::string_view value;  // raw; see FieldLines
};

struct Stanza {
  std::vector<Deb822Field> fields;
  size_t line = 0;  // 1-based line number of the stanza's first field, for messages

  // The value of the field called `name` (case-insensitive), or nullptr.
  const std::string_view* Find(std::string_view name) const;
  // Find()'s value, or "" if the field is absent.
  std::string_view Get(std::string_view name) const;
};

struct Deb822Options {
  bool comments = false;  // accept lines starting with '#' (sources, not indexes)
};

// Parses `text` into stanzas (in order; empty stanzas are not returned). Errors: kCorrupt with the
// 1-based line number and what was wrong.
Status ParseDeb822(std::string_view text, std::vector<Stanza>* out, const Deb822Options& opts = {});

// The lines of a (multi-line) value: the first line as is (may be empty, as in Release's
// "SHA256:"), then each continuation line without its leading blank and without trailing blanks.
std::vector<std::string_view> FieldLines(std::string_view value);

// Splits on runs of blanks (space, tab).
std::vector<std::string_view> SplitBlanks(std::string_view s);

bool EqualsNoCase(std::string_view a, std::string_view b);

}  // namespace dfs::apt
