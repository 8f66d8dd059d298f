// policy/policy.h: the policy language (docs/policy.md): parsing and the per-open decision.
//
// A policy is a list of rules, one per line. Rules belong to three families: appraise
// (appraise / dont_appraise), measure (measure / dont_measure) and audit (audit / dont_audit).
// For one subject (path, op, uid, file owner, file type), each family is decided by the first rule
// of that family, in file order, whose conditions all match: first match wins, per family, as in
// IMA. A family with no matching rule is off.
//
// Thread safety: a Policy is immutable after Parse; Decide may be called from any thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "policy/gate.h"
#include "policy/glob.h"

namespace dfs {

enum class Action : uint8_t {
  kAppraise,
  kDontAppraise,
  kMeasure,
  kDontMeasure,
  kAudit,
  kDontAudit,
};
enum class Family : uint8_t { kAppraise = 0, kMeasure = 1, kAudit = 2 };
inline constexpr int kNumFamilies = 3;

std::string_view ActionName(Action a);
Family FamilyOf(Action a);
bool IsPositive(Action a);  // appraise, measure, audit (not the dont_ forms)

// A numeric comparison for uid= / uid< / uid> and fowner=...
struct IdMatch {
  enum class Cmp : uint8_t { kEq, kLt, kGt } cmp = Cmp::kEq;
  uint32_t value = 0;
  bool Matches(uint32_t v) const;
};

struct Rule {
  int line = 0;  // 1-based line in the policy file
  Action action = Action::kAppraise;
  std::optional<AccessOp> op;     // nullopt = op=any
  std::optional<Glob> path;       // nullopt = any path
  std::optional<IdMatch> uid;     // the calling process's uid
  std::optional<IdMatch> fowner;  // the file's owner (st_uid)
  std::optional<mode_t> type;     // S_IFREG etc. (the S_IFMT bits)
  bool is_mutable = false;        // `mutable`: re-trusted when its last writer closes
  bool bind_path = false;         // `bind=path`: a digest counts only at a path listed for it
  // `max_size=N` (positive rules only): a regular file of more than N bytes (apparent size) that
  // this rule decides is not hashed: it is unknown content. nullopt: no limit of the rule's own.
  std::optional<uint64_t> max_size;
  std::string text;  // the rule as written (trimmed), for messages
};

// What is asked about: one open (or, for mutability, one file).
struct Subject {
  std::string_view path;  // from the mount root, "/usr/bin/hello"
  AccessOp op = AccessOp::kRead;
  uint32_t uid = 0;
  uint32_t fowner = 0;
  mode_t mode = S_IFREG;  // st_mode (only the S_IFMT bits are used)
  // No name is known for the file: every positive rule's path= matches, no dont_ rule's does,
  // so the decision is the strictest any path could give.
  bool path_unknown = false;
};

// The decision for one subject: per family, the deciding rule (nullptr = no rule matched).
struct Decision {
  const Rule* rule[kNumFamilies] = {nullptr, nullptr, nullptr};
  // True if the family's deciding rule is the positive action (appraise / measure / audit).
  bool on(Family f) const;
  const Rule* of(Family f) const { return rule[static_cast<int>(f)]; }
  bool any() const { return on(Family::kAppraise) || on(Family::kMeasure) || on(Family::kAudit); }
  // `mutable`: any family's deciding rule carries the flag (and no name of the file denies it).
  bool is_mutable() const;
  bool mutable_denied = false;  // set by DecideStrictest when some name of the file is not mutable
};

class Policy {
 public:
  // Parses policy text. `name` is used in error messages ("NAME:LINE:COL: message").
  // Errors: kInvalidArgument naming the line and column of the first error.
  static Result<Policy> Parse(std::string_view text, std::string_view name);
  // Reads and parses a file. kNotFound / kIo if it cannot be read (naming it).
  static Result<Policy> Load(const std::string& file);
  // The built-in default policy (the text of policy/default.policy), parsed.
  static Policy Default();
  static std::string_view DefaultText();

  Decision Decide(const Subject& s) const;
  // For a file known under several names (hard links), or none (s.path empty): per family the
  // strictest decision over s.path and every alias: a positive rule (appraise, measure, audit)
  // matched by any name wins over the primary name's decision; `mutable` holds only if it holds
  // for every name. An empty s.path with no aliases decides as Subject::path_unknown.
  Decision DecideStrictest(const Subject& s, const std::vector<std::string>& aliases) const;
  // Mutability of a file as its last writer closes: Decide() for op=read, then is_mutable().
  bool IsMutable(const Subject& s) const;

  const std::vector<Rule>& rules() const { return rules_; }
  const std::string& name() const { return name_; }
  const std::string& text() const { return text_; }  // the policy text as parsed
  bool has_mutable() const;
  bool has_family(Family f) const;  // any positive rule of that family

 private:
  std::string name_;
  std::string text_;
  std::vector<Rule> rules_;
};

}  // namespace dfs
