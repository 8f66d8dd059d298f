// digestctl's store commands: init, stats, list, dump, lookup, remove, deny. See docs/cli-store.md.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>

#include "cache/store.h"
#include "cli/cli.h"
#include "common/fd.h"
#include "common/log.h"
#include "crypto/hash.h"

namespace dfs::cli {
namespace {

using nlohmann::json;

// Opens the store; on failure prints the error and sets exit code 3 (the store is unusable).
std::unique_ptr<Store> OpenStore(Context& ctx, bool read_only) {
  StoreOptions o;
  o.read_only = read_only;
  auto s = Store::Open(ctx.store_dir, o);
  if (!s.ok()) {
    Fail(s.status());
    ctx.exit_code = kExitStore;
    return nullptr;
  }
  return std::move(s).value();
}

void Print(const json& j) { std::printf("%s\n", j.dump().c_str()); }

std::string TimeText(int64_t t) {
  char buf[32];
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json SourceJson(const SourceInfo& s) {
  json j = {{"id", s.id},
            {"kind", SourceKindName(s.kind)},
            {"name", s.name},
            {"state", SourceStateName(s.state)},
            {"signer", s.signer},
            {"blob_digest", s.blob_digest.empty() ? "" : s.blob_digest.ToString()},
            {"import_time", s.import_time},
            {"origin", s.origin}};
  if (IsPackageKind(s.kind)) {
    j["package"] = s.package;
    j["arch"] = s.arch;
    j["version"] = s.version;
  }
  json flags = json::array();
  if (s.flags & kSourceUnsigned) flags.push_back("unsigned");
  if (s.flags & kSourceWeakAlgo) flags.push_back("weak-algo");
  j["flags"] = flags;
  return j;
}

json FileFlagsJson(uint32_t f) {
  json flags = json::array();
  if (f & kFileMutable) flags.push_back("mutable");
  if (f & kFileConfig) flags.push_back("config");
  if (f & kFileDoc) flags.push_back("doc");
  return flags;
}

std::string Octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%o", mode);
  return buf;
}

void CmdInit(Context& ctx) {
  StoreOptions o;
  o.create = true;
  auto s = Store::Open(ctx.store_dir, o);
  if (!s.ok()) {
    Fail(s.status());
    ctx.exit_code = kExitStore;
    return;
  }
  if (ctx.json) {
    Print({{"store", ctx.store_dir}, {"schema", kStoreSchemaVersion}, {"generation", (*s)->Generation()}});
  } else {
    std::printf("store %s ready (schema %u, generation %llu)\n", ctx.store_dir.c_str(), kStoreSchemaVersion,
                static_cast<unsigned long long>((*s)->Generation()));
  }
}

void CmdStats(Context& ctx) {
  auto st = OpenStore(ctx, true);
  if (!st) return;
  auto s = st->Stats();
  if (!s.ok()) {
    ctx.exit_code = Fail(s.status());
    return;
  }
  if (ctx.json) {
    json per_algo = json::object(), per_kind = json::object();
    for (auto& [k, v] : s->digests_per_algo) per_algo[k] = v;
    for (auto& [k, v] : s->sources_per_kind) per_kind[k] = v;
    Print({{"generation", s->generation},
           {"digests", s->digests},
           {"provenance_records", s->provenance_records},
           {"deny_entries", s->deny_entries},
           {"bytes_on_disk", s->bytes_on_disk},
           {"digests_per_algo", per_algo},
           {"active_sources_per_kind", per_kind}});
    return;
  }
  std::printf("store:              %s\n", ctx.store_dir.c_str());
  std::printf("generation:         %llu\n", static_cast<unsigned long long>(s->generation));
  std::printf("digests:            %llu\n", static_cast<unsigned long long>(s->digests));
  for (auto& [k, v] : s->digests_per_algo) {
    std::printf("  %-16s  %llu\n", k.c_str(), static_cast<unsigned long long>(v));
  }
  std::printf("provenance records: %llu\n", static_cast<unsigned long long>(s->provenance_records));
  std::printf("active sources:\n");
  for (auto& [k, v] : s->sources_per_kind) {
    std::printf("  %-16s  %llu\n", k.c_str(), static_cast<unsigned long long>(v));
  }
  std::printf("deny entries:       %llu\n", static_cast<unsigned long long>(s->deny_entries));
  std::printf("size on disk:       %llu bytes\n", static_cast<unsigned long long>(s->bytes_on_disk));
}

void CmdList(Context& ctx, bool all) {
  auto st = OpenStore(ctx, true);
  if (!st) return;
  auto l = st->ListSources();
  if (!l.ok()) {
    ctx.exit_code = Fail(l.status());
    return;
  }
  json arr = json::array();
  for (const SourceInfo& s : *l) {
    if (!all && s.state != SourceState::kActive) continue;
    if (ctx.json) {
      arr.push_back(SourceJson(s));
    } else {
      std::printf("%6llu  %-8s  %-10s  %s  %s\n", static_cast<unsigned long long>(s.id), SourceKindName(s.kind),
                  SourceStateName(s.state), TimeText(s.import_time).c_str(), LogQuote(s.name).c_str());
    }
  }
  if (ctx.json) Print(arr);
}

void CmdDump(Context& ctx) {
  auto st = OpenStore(ctx, true);
  if (!st) return;
  auto l = st->ListSources();
  if (!l.ok()) {
    ctx.exit_code = Fail(l.status());
    return;
  }
  Print({{"type", "store"}, {"schema", kStoreSchemaVersion}, {"generation", st->Generation()}});
  for (const SourceInfo& s : *l) {
    json j = SourceJson(s);
    j["type"] = "source";
    Print(j);
    auto files = st->SourceFiles(s.id);
    if (!files.ok()) {
      ctx.exit_code = Fail(files.status());
      return;
    }
    for (const FileEntry& f : *files) {
      Print({{"type", "file"},
             {"source", s.id},
             {"path", f.path},
             {"digest", f.digest.ToString()},
             {"mode", Octal(f.mode)},
             {"flags", FileFlagsJson(f.flags)}});
    }
  }
  auto deny = st->DenyList();
  if (!deny.ok()) {
    ctx.exit_code = Fail(deny.status());
    return;
  }
  for (auto& [d, reason] : *deny) Print({{"type", "deny"}, {"digest", d.ToString()}, {"reason", reason}});
}

// Hashes a regular file (no symlink following for the last component).
Result<Digest> HashPath(const std::string& path, HashAlgo algo) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY));
  if (!fd) return Status::FromErrno(errno, "opening " + path);
  struct stat sb;
  if (::fstat(fd.get(), &sb) != 0) return Status::FromErrno(errno, "stat " + path);
  if (!S_ISREG(sb.st_mode)) return Status(Code::kInvalidArgument, path + " is not a regular file");
  auto d = HashFd(fd.get(), algo);
  if (!d.ok()) {
    Status s = d.status();
    return s.Prepend("hashing " + path);
  }
  return d;
}

void CmdLookup(Context& ctx, const std::string& file, const std::string& digest_text,
               const std::string& algo_name) {
  if (file.empty() == digest_text.empty()) {
    ctx.exit_code = Fail(Status(Code::kInvalidArgument, "lookup takes a FILE or --digest ALGO:HEX (one of them)"));
    return;
  }
  Digest d;
  if (!digest_text.empty()) {
    auto p = Digest::Parse(digest_text);
    if (!p.ok()) {
      ctx.exit_code = Fail(p.status());
      return;
    }
    d = std::move(p).value();
  } else {
    HashAlgo algo = HashAlgoFromName(algo_name);
    if (algo == HashAlgo::kUnknown) {
      ctx.exit_code = Fail(Status(Code::kInvalidArgument, "unknown hash algorithm '" + algo_name + "'"));
      return;
    }
    auto h = HashPath(file, algo);
    if (!h.ok()) {
      Fail(h.status());
      ctx.exit_code = h.status().code() == Code::kInvalidArgument ? kExitUsage : kExitRuntime;
      return;
    }
    d = std::move(h).value();
  }
  auto st = OpenStore(ctx, true);
  if (!st) return;
  auto r = st->Lookup(d);
  if (!r.ok()) {
    ctx.exit_code = Fail(r.status());
    return;
  }
  std::map<uint64_t, SourceInfo> sources;
  for (const Provenance& p : r->provenance) {
    if (sources.count(p.source_id)) continue;
    auto s = st->GetSource(p.source_id);
    if (s.ok()) sources[p.source_id] = *s;
  }
  const char* verdict = r->denied ? "denied" : r->known() ? "known" : "unknown";
  if (ctx.json) {
    json prov = json::array();
    for (const Provenance& p : r->provenance) {
      json j = {{"source", p.source_id}, {"path", p.path}, {"mode", Octal(p.mode)}, {"flags", FileFlagsJson(p.flags)}};
      if (auto it = sources.find(p.source_id); it != sources.end()) {
        j["source_name"] = it->second.name;
        j["source_kind"] = SourceKindName(it->second.kind);
      }
      prov.push_back(j);
    }
    json out = {{"digest", d.ToString()}, {"verdict", verdict}, {"denied", r->denied}, {"provenance", prov}};
    if (!file.empty()) out["file"] = file;
    Print(out);
  } else {
    std::printf("%s%s%s: %s\n", file.empty() ? "" : LogQuote(file).c_str(), file.empty() ? "" : " ",
                d.ToString().c_str(), verdict);
    for (const Provenance& p : r->provenance) {
      auto it = sources.find(p.source_id);
      std::string flags;
      for (auto& f : FileFlagsJson(p.flags)) flags += " " + f.get<std::string>();
      std::printf("  source %llu (%s %s) path %s mode %s%s\n", static_cast<unsigned long long>(p.source_id),
                  it != sources.end() ? SourceKindName(it->second.kind) : "?",
                  it != sources.end() ? LogQuote(it->second.name).c_str() : "?", LogQuote(p.path).c_str(),
                  Octal(p.mode).c_str(), flags.c_str());
    }
  }
  if (r->denied || !r->known()) ctx.exit_code = kExitProblem;
}

void CmdRemove(Context& ctx, const std::string& source) {
  auto st = OpenStore(ctx, false);
  if (!st) return;
  auto s = st->FindSource(source);
  if (!s.ok()) {
    ctx.exit_code = Fail(s.status());
    return;
  }
  bool was_removed = s->state == SourceState::kRemoved;
  Status rs = st->RemoveSource(s->id);
  if (!rs.ok()) {
    ctx.exit_code = Fail(rs);
    return;
  }
  if (ctx.json) {
    Print({{"removed", s->id}, {"name", s->name}, {"already_removed", was_removed}, {"generation", st->Generation()}});
  } else {
    std::printf("source %llu (%s) %s\n", static_cast<unsigned long long>(s->id), LogQuote(s->name).c_str(),
                was_removed ? "was already removed" : "removed");
  }
}

void CmdDeny(Context& ctx, const std::string& action, const std::string& digest_text, const std::string& reason) {
  if (action == "list") {
    auto st = OpenStore(ctx, true);
    if (!st) return;
    auto l = st->DenyList();
    if (!l.ok()) {
      ctx.exit_code = Fail(l.status());
      return;
    }
    json arr = json::array();
    for (auto& [d, r] : *l) {
      if (ctx.json) {
        arr.push_back({{"digest", d.ToString()}, {"reason", r}});
      } else {
        std::printf("%s  %s\n", d.ToString().c_str(), LogQuote(r).c_str());
      }
    }
    if (ctx.json) Print(arr);
    return;
  }
  if (digest_text.empty()) {
    ctx.exit_code = Fail(Status(Code::kInvalidArgument, "deny " + action + " needs ALGO:HEX"));
    return;
  }
  auto d = Digest::Parse(digest_text);
  if (!d.ok()) {
    ctx.exit_code = Fail(d.status());
    return;
  }
  auto st = OpenStore(ctx, false);
  if (!st) return;
  Status s = action == "add" ? st->DenyAdd(*d, reason) : st->DenyRemove(*d);
  if (!s.ok()) {
    ctx.exit_code = Fail(s);
    return;
  }
  if (ctx.json) {
    Print({{"action", action}, {"digest", d->ToString()}, {"generation", st->Generation()}});
  } else {
    std::printf("%s %s the deny list\n", d->ToString().c_str(), action == "add" ? "added to" : "removed from");
  }
}

}  // namespace

void RegisterStoreCommands(CLI::App& app, Context& ctx) {
  app.add_subcommand("init", "create an empty store (no-op if one exists)")->callback([&ctx] { CmdInit(ctx); });
  app.add_subcommand("stats", "counts per algorithm and source kind, size on disk")->callback([&ctx] {
    CmdStats(ctx);
  });

  auto* list = app.add_subcommand("list", "list the sources (active only unless --all)");
  static bool list_all = false;
  list->add_flag("--all", list_all, "include superseded and removed sources");
  list->callback([&ctx] { CmdList(ctx, list_all); });

  app.add_subcommand("dump", "every source, file and deny entry as JSON lines")->callback([&ctx] {
    CmdDump(ctx);
  });

  auto* lookup = app.add_subcommand("lookup", "look a file's digest (or --digest) up; exit 1 if unknown or denied");
  static std::string lookup_file, lookup_digest, lookup_algo = "sha256";
  lookup->add_option("FILE", lookup_file, "file to hash and look up");
  lookup->add_option("--digest", lookup_digest, "digest to look up, ALGO:HEX");
  lookup->add_option("--algo", lookup_algo, "hash algorithm for FILE (default sha256)");
  lookup->callback([&ctx] { CmdLookup(ctx, lookup_file, lookup_digest, lookup_algo); });

  auto* remove = app.add_subcommand("remove", "mark a source removed (its digests stop counting)");
  static std::string remove_source;
  remove->add_option("SOURCE", remove_source, "source id or name")->required();
  remove->callback([&ctx] { CmdRemove(ctx, remove_source); });

  auto* deny = app.add_subcommand("deny", "the deny list: digests refused whatever vouches for them");
  deny->require_subcommand(1);
  static std::string deny_digest, deny_reason;
  auto* add = deny->add_subcommand("add", "add ALGO:HEX to the deny list");
  add->add_option("DIGEST", deny_digest, "ALGO:HEX")->required();
  add->add_option("--reason", deny_reason, "why (kept with the entry)");
  add->callback([&ctx] { CmdDeny(ctx, "add", deny_digest, deny_reason); });
  auto* rm = deny->add_subcommand("remove", "remove ALGO:HEX from the deny list (exit 1 if absent)");
  rm->add_option("DIGEST", deny_digest, "ALGO:HEX")->required();
  rm->callback([&ctx] { CmdDeny(ctx, "remove", deny_digest, ""); });
  deny->add_subcommand("list", "list the deny list")->callback([&ctx] { CmdDeny(ctx, "list", "", ""); });
}

}  // namespace dfs::cli
