#include "policy/policy.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "common/fd.h"

namespace dfs {

// Defined in the generated default_policy.cc (the text of policy/default.policy).
extern const char kDefaultPolicyText[];

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kAppraise:
      return "appraise";
    case Action::kDontAppraise:
      return "dont_appraise";
    case Action::kMeasure:
      return "measure";
    case Action::kDontMeasure:
      return "dont_measure";
    case Action::kAudit:
      return "audit";
    case Action::kDontAudit:
      return "dont_audit";
  }
  return "?";
}

Family FamilyOf(Action a) {
  switch (a) {
    case Action::kAppraise:
    case Action::kDontAppraise:
      return Family::kAppraise;
    case Action::kMeasure:
    case Action::kDontMeasure:
      return Family::kMeasure;
    case Action::kAudit:
    case Action::kDontAudit:
      return Family::kAudit;
  }
  return Family::kAudit;
}

bool IsPositive(Action a) {
  return a == Action::kAppraise || a == Action::kMeasure || a == Action::kAudit;
}

bool IdMatch::Matches(uint32_t v) const {
  switch (cmp) {
    case Cmp::kEq:
      return v == value;
    case Cmp::kLt:
      return v < value;
    case Cmp::kGt:
      return v > value;
  }
  return false;
}

bool Decision::on(Family f) const {
  const Rule* r = of(f);
  return r != nullptr && IsPositive(r->action);
}

bool Decision::is_mutable() const {
  if (mutable_denied) return false;
  for (const Rule* r : rule) {
    if (r != nullptr && r->is_mutable) return true;
  }
  return false;
}

namespace {

struct Token {
  std::string_view text;
  size_t col;  // 1-based
};

class Parser {
 public:
  Parser(std::string_view name, int line) : name_(name), line_(line) {}

  Status Error(size_t col, std::string_view msg) const {
    return Status(Code::kInvalidArgument, std::string(name_) + ":" + std::to_string(line_) + ":" +
                                              std::to_string(col) + ": " + std::string(msg));
  }

  Result<Rule> ParseLine(const std::vector<Token>& toks, std::string_view text) {
    Rule r;
    r.line = line_;
    r.text = std::string(text);
    const Token& a = toks[0];
    static const std::pair<std::string_view, Action> kActions[] = {
        {"appraise", Action::kAppraise}, {"dont_appraise", Action::kDontAppraise},
        {"measure", Action::kMeasure},   {"dont_measure", Action::kDontMeasure},
        {"audit", Action::kAudit},       {"dont_audit", Action::kDontAudit},
    };
    bool found = false;
    for (const auto& [n, act] : kActions) {
      if (a.text == n) {
        r.action = act;
        found = true;
      }
    }
    if (!found) {
      return Error(a.col, "unknown action '" + std::string(a.text) +
                              "' (appraise, dont_appraise, measure, dont_measure, audit, "
                              "dont_audit)");
    }
    bool seen_op = false, seen_path = false, seen_uid = false, seen_fowner = false,
         seen_type = false, seen_mutable = false, seen_bind = false, seen_max_size = false;
    for (size_t i = 1; i < toks.size(); ++i) {
      const Token& t = toks[i];
      if (t.text == "mutable") {
        if (seen_mutable) return Error(t.col, "'mutable' given twice");
        seen_mutable = true;
        r.is_mutable = true;
        continue;
      }
      size_t op_pos = t.text.find_first_of("=<>");
      if (op_pos == std::string_view::npos || op_pos == 0) {
        return Error(t.col, "expected KEY=VALUE or 'mutable', got '" + std::string(t.text) + "'");
      }
      std::string_view key = t.text.substr(0, op_pos);
      char cmp = t.text[op_pos];
      std::string_view val = t.text.substr(op_pos + 1);
      size_t vcol = t.col + op_pos + 1;
      auto dup = [&](bool& seen) -> Status {
        if (seen) return Error(t.col, "condition '" + std::string(key) + "' given twice");
        seen = true;
        return Status::Ok();
      };
      if (cmp != '=' && key != "uid" && key != "fowner") {
        return Error(t.col + op_pos,
                     "'" + std::string(1, cmp) + "' is only allowed after uid and fowner");
      }
      if (val.empty()) return Error(vcol, "empty value for '" + std::string(key) + "'");
      if (key == "op") {
        DFS_RETURN_IF_ERROR(dup(seen_op));
        if (val == "exec")
          r.op = AccessOp::kExec;
        else if (val == "read")
          r.op = AccessOp::kRead;
        else if (val == "write")
          r.op = AccessOp::kWrite;
        else if (val == "any")
          r.op.reset();
        else
          return Error(vcol, "unknown op '" + std::string(val) + "' (exec, read, write, any)");
      } else if (key == "path") {
        DFS_RETURN_IF_ERROR(dup(seen_path));
        size_t gcol = 0;
        auto g = Glob::Compile(val, &gcol);
        if (!g.ok()) {
          std::string m = g.status().message();
          size_t colon = m.find(": ");
          if (colon != std::string::npos) m = m.substr(colon + 2);
          return Error(vcol + (gcol ? gcol - 1 : 0), "bad path glob: " + m);
        }
        r.path = std::move(g).value();
      } else if (key == "uid" || key == "fowner") {
        DFS_RETURN_IF_ERROR(dup(key == "uid" ? seen_uid : seen_fowner));
        IdMatch m;
        m.cmp = cmp == '<' ? IdMatch::Cmp::kLt : cmp == '>' ? IdMatch::Cmp::kGt : IdMatch::Cmp::kEq;
        uint32_t v = 0;
        auto [p, ec] = std::from_chars(val.data(), val.data() + val.size(), v);
        if (ec != std::errc() || p != val.data() + val.size()) {
          return Error(vcol, "'" + std::string(key) +
                                 "' needs a numeric id (0 to 4294967295), got '" +
                                 std::string(val) + "'");
        }
        m.value = v;
        (key == "uid" ? r.uid : r.fowner) = m;
      } else if (key == "type") {
        DFS_RETURN_IF_ERROR(dup(seen_type));
        static const std::pair<std::string_view, mode_t> kTypes[] = {
            {"reg", S_IFREG}, {"dir", S_IFDIR},  {"lnk", S_IFLNK},   {"chr", S_IFCHR},
            {"blk", S_IFBLK}, {"fifo", S_IFIFO}, {"sock", S_IFSOCK},
        };
        bool ok = false;
        for (const auto& [n, m] : kTypes) {
          if (val == n) {
            r.type = m;
            ok = true;
          }
        }
        if (!ok) {
          return Error(vcol, "unknown type '" + std::string(val) +
                                 "' (reg, dir, lnk, chr, blk, fifo, sock)");
        }
      } else if (key == "max_size") {
        DFS_RETURN_IF_ERROR(dup(seen_max_size));
        if (!IsPositive(r.action)) {
          return Error(t.col, "max_size= has no effect on " + std::string(ActionName(r.action)));
        }
        // Decimal bytes, optionally followed by K, M, G or T (powers of 1024).
        std::string_view digits = val;
        int shift = 0;
        switch (digits.back()) {
          case 'K':
            shift = 10;
            break;
          case 'M':
            shift = 20;
            break;
          case 'G':
            shift = 30;
            break;
          case 'T':
            shift = 40;
            break;
        }
        if (shift != 0) digits.remove_suffix(1);
        uint64_t v = 0;
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
        if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size() || v == 0 ||
            (shift != 0 && v > (UINT64_MAX >> shift))) {
          return Error(vcol,
                       "max_size= needs a size in bytes above 0, optionally with K, M, G or "
                       "T (e.g. 512M), got '" +
                           std::string(val) + "'");
        }
        r.max_size = v << shift;
      } else if (key == "bind") {
        DFS_RETURN_IF_ERROR(dup(seen_bind));
        if (val != "path") return Error(vcol, "unknown binding '" + std::string(val) + "' (path)");
        if (!IsPositive(r.action)) {
          return Error(t.col, "bind=path has no effect on " + std::string(ActionName(r.action)));
        }
        r.bind_path = true;
      } else {
        return Error(t.col, "unknown condition '" + std::string(key) +
                                "' (op, path, uid, fowner, type, max_size, bind, mutable)");
      }
    }
    return r;
  }

 private:
  std::string_view name_;
  int line_;
};

}  // namespace

Result<Policy> Policy::Parse(std::string_view text, std::string_view name) {
  Policy p;
  p.name_ = std::string(name);
  p.text_ = std::string(text);
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    ++line_no;
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    Parser parser(name, line_no);
    // Comments: '#' at the start of a token to the end of the line.
    std::vector<Token> toks;
    size_t i = 0;
    size_t content_end = 0;
    bool bad = false;
    while (i < line.size()) {
      unsigned char c = static_cast<unsigned char>(line[i]);
      if (c == ' ' || c == '\t') {
        ++i;
        continue;
      }
      if (c == '#') break;
      size_t start = i;
      while (i < line.size() && line[i] != ' ' && line[i] != '\t') {
        unsigned char d = static_cast<unsigned char>(line[i]);
        if (d < 0x20 || d == 0x7f) {
          return parser.Error(i + 1, "control character in policy text");
        }
        ++i;
      }
      toks.push_back({line.substr(start, i - start), start + 1});
      content_end = i;
    }
    (void)bad;
    if (toks.empty()) {
      if (nl == text.size()) break;
      continue;
    }
    size_t first = toks[0].col - 1;
    auto r = parser.ParseLine(toks, line.substr(first, content_end - first));
    if (!r.ok()) return r.status();
    p.rules_.push_back(std::move(r).value());
    if (nl == text.size()) break;
  }
  return p;
}

Result<Policy> Policy::Load(const std::string& file) {
  Fd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "reading policy " + file);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "reading policy " + file);
  if (!S_ISREG(st.st_mode)) {
    return Status(Code::kInvalidArgument, "policy " + file + " is not a regular file");
  }
  if (st.st_size > (16 << 20)) {
    return Status(Code::kInvalidArgument, "policy " + file + " is larger than 16 MiB");
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "reading policy " + file);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  if (text.find('\0') != std::string::npos) {
    return Status(Code::kInvalidArgument, "policy " + file + " contains a NUL byte");
  }
  return Parse(text, file);
}

std::string_view Policy::DefaultText() { return kDefaultPolicyText; }

Policy Policy::Default() {
  auto p = Parse(DefaultText(), "<default policy>");
  // The default policy is checked by a unit test; a parse failure here is a build bug.
  if (!p.ok()) return Policy();
  return std::move(p).value();
}

Decision Policy::Decide(const Subject& s) const {
  Decision d;
  int left = kNumFamilies;
  for (const Rule& r : rules_) {
    int f = static_cast<int>(FamilyOf(r.action));
    if (d.rule[f] != nullptr) continue;
    if (r.op && *r.op != s.op) continue;
    if (r.type && *r.type != (s.mode & S_IFMT)) continue;
    if (r.uid && !r.uid->Matches(s.uid)) continue;
    if (r.fowner && !r.fowner->Matches(s.fowner)) continue;
    if (r.path) {
      if (s.path_unknown) {
        if (!IsPositive(r.action)) continue;  // strictest: no exemption applies to an unknown path
      } else if (!r.path->Match(s.path)) {
        continue;
      }
    }
    d.rule[f] = &r;
    if (--left == 0) break;
  }
  return d;
}

Decision Policy::DecideStrictest(const Subject& s, const std::vector<std::string>& aliases) const {
  Subject primary = s;
  if (primary.path.empty() && aliases.empty()) primary.path_unknown = true;
  Decision d = Decide(primary);
  if (primary.path_unknown) {
    d.mutable_denied = true;
    return d;
  }
  bool all_mutable = d.is_mutable();
  for (const std::string& alias : aliases) {
    Subject t = s;
    t.path = alias;
    Decision o = Decide(t);
    all_mutable = all_mutable && o.is_mutable();
    for (int f = 0; f < kNumFamilies; ++f) {
      const Family fam = static_cast<Family>(f);
      if (!d.on(fam) && o.on(fam)) d.rule[f] = o.rule[f];
    }
  }
  d.mutable_denied = !all_mutable;
  return d;
}

bool Policy::IsMutable(const Subject& s) const {
  Subject t = s;
  t.op = AccessOp::kRead;
  return Decide(t).is_mutable();
}

bool Policy::has_mutable() const {
  for (const Rule& r : rules_) {
    if (r.is_mutable) return true;
  }
  return false;
}

bool Policy::has_family(Family f) const {
  for (const Rule& r : rules_) {
    if (FamilyOf(r.action) == f && IsPositive(r.action)) return true;
  }
  return false;
}

}  // namespace dfs
