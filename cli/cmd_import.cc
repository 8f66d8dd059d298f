// digestctl's key and import commands: keys add|list|remove, import rpm|rpmdb|tlv|manifest,
// manifest create, export tlv. See docs/cli-import.md.
//
// Every import verifies all inputs first (signatures, payloads, list structure), then hands the
// accepted ones to the store in one transaction, then prints a summary. Refused inputs never reach
// the store; the exit code says why the worst refusal happened (4 signature/key, 1 otherwise).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "apt/import.h"
#include "apt/openpgp.h"
#include "cache/store.h"
#include "cli/cli.h"
#include "common/log.h"
#include "crypto/sign.h"
#include "measurement/measurement.h"
#include "packaging/file_util.h"
#include "packaging/keys.h"
#include "packaging/manifest.h"
#include "packaging/rpm.h"
#include "packaging/tlv.h"

namespace dfs::cli {
namespace {

using nlohmann::json;

struct ImportFlags {
  bool allow_unsigned = false;
  bool allow_weak = false;
  bool keep_old = false;
};

bool IsSignatureRefusal(Code c) {
  return c == Code::kUnsigned || c == Code::kNoKey || c == Code::kBadSignature;
}

// Progress on stderr: a rewritten counter on a terminal, a line every 100 items otherwise.
class Progress {
 public:
  Progress(const char* what, size_t total) : what_(what), total_(total), tty_(isatty(2)) {}
  void Tick(size_t n) {
    if (tty_) {
      if (total_) {
        std::fprintf(stderr, "\r%s %zu/%zu", what_, n, total_);
      } else {
        std::fprintf(stderr, "\r%s %zu", what_, n);
      }
      shown_ = true;
    } else if (n % 100 == 0) {
      std::fprintf(stderr, "digestctl: progress: %s %zu%s\n", what_, n,
                   total_ ? ("/" + std::to_string(total_)).c_str() : "");
    }
  }
  ~Progress() {
    if (shown_) std::fprintf(stderr, "\n");
  }

 private:
  const char* what_;
  size_t total_;
  bool tty_;
  bool shown_ = false;
};

// ImportSummary::older (an rpm older than the active version, stored superseded) comes with the
// store implementation; read it where the contract has it.
template <typename S>
auto IsOlder(const S& s, int) -> decltype(static_cast<bool>(s.older)) {
  return s.older;
}
template <typename S>
bool IsOlder(const S&, long) {
  return false;
}

// Collects what happened to each input and prints the summary.
class Report {
 public:
  void Refuse(const std::string& input, const Status& s) {
    refused_.push_back({input, s});
    if (IsSignatureRefusal(s.code())) {
      sig_refusal_ = true;
    } else {
      other_refusal_ = true;
    }
  }
  void Imported(const ImportItem& item, const ImportSummary& sum) {
    ++sources_;
    files_ += sum.files;
    digests_ += sum.new_digests;
    if (sum.unchanged) ++unchanged_;
    bool older = IsOlder(sum, 0);
    if (older) ++older_;
    superseded_ += sum.superseded.size();
    json j = {{"name", item.source.name},
              {"kind", SourceKindName(item.source.kind)},
              {"source_id", sum.source_id},
              {"files", sum.files},
              {"new_digests", sum.new_digests},
              {"unchanged", sum.unchanged},
              {"superseded", sum.superseded},
              {"origin", item.source.origin},
              {"older", older}};
    if (item.source.flags & kSourceUnsigned) j["unsigned"] = true;
    if (item.source.flags & kSourceWeakAlgo) j["weak_algo"] = true;
    imported_.push_back(std::move(j));
  }
  void Note(const std::string& n) { notes_.push_back(n); }
  void SetRemoved(uint64_t n) { removed_ = n; }

  int Finish(const Context& ctx, const char* kind_plural) {
    if (ctx.json) {
      json refused = json::array();
      for (const auto& [input, s] : refused_) {
        refused.push_back(
            {{"input", input}, {"code", std::string(CodeName(s.code()))}, {"reason", s.message()}});
      }
      json j = {{kind_plural, sources_},
                {"files", files_},
                {"new_digests", digests_},
                {"unchanged", unchanged_},
                {"superseded", superseded_},
                {"older", older_},
                {"removed", removed_},
                {"refused_count", refused_.size()},
                {"imported", imported_},
                {"refused", refused},
                {"notes", notes_}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      for (const auto& [input, s] : refused_) {
        std::fprintf(stderr, "digestctl: refused: %s: %s\n", LogQuote(input).c_str(),
                     s.ToString().c_str());
      }
      for (const auto& n : notes_) std::fprintf(stderr, "digestctl: note: %s\n", n.c_str());
      std::printf(
          "%s: %llu, files: %llu, new digests: %llu, unchanged: %llu, superseded: %llu, "
          "older: %llu, removed: %llu, refused: %zu\n",
          kind_plural, static_cast<unsigned long long>(sources_),
          static_cast<unsigned long long>(files_), static_cast<unsigned long long>(digests_),
          static_cast<unsigned long long>(unchanged_), static_cast<unsigned long long>(superseded_),
          static_cast<unsigned long long>(older_), static_cast<unsigned long long>(removed_),
          refused_.size());
    }
    if (sig_refusal_) return kExitSignature;
    if (other_refusal_) return kExitProblem;
    return kExitOk;
  }

 private:
  std::vector<std::pair<std::string, Status>> refused_;
  std::vector<json> imported_;
  std::vector<std::string> notes_;
  uint64_t sources_ = 0, files_ = 0, digests_ = 0, unchanged_ = 0, superseded_ = 0, older_ = 0,
           removed_ = 0;
  bool sig_refusal_ = false, other_refusal_ = false;
};

// Opens the store for writing. On failure prints the error and returns nullptr (exit 3).
std::unique_ptr<Store> OpenStoreRw(Context& ctx) {
  auto s = Store::Open(ctx.store_dir, StoreOptions{});
  if (!s.ok()) {
    Fail(s.status());
    ctx.exit_code = kExitStore;
    return nullptr;
  }
  return std::move(s).value();
}

// Loads the configured keys of one type. On failure prints and sets exit 3 (the keys directory
// is part of the store).
bool LoadKeys(Context& ctx, KeyType t, std::vector<std::vector<uint8_t>>* data,
              std::vector<std::string>* ids) {
  KeyStore ks(ctx.store_dir);
  auto keys = ks.ListType(t);
  if (!keys.ok()) {
    Fail(keys.status());
    ctx.exit_code = kExitStore;
    return false;
  }
  for (auto& k : *keys) {
    data->push_back(std::move(k.data));
    if (ids) ids->push_back(k.id);
  }
  return true;
}

// Hands the accepted items to the store (one transaction) and records the outcome.
bool Commit(Context& ctx, Store& store, const std::vector<ImportItem>& items, const ImportFlags& f,
            bool remove_others, SourceKind kind, Report& rep) {
  ImportOptions o;
  o.keep_old = f.keep_old;
  uint64_t before_removed = 0;
  if (remove_others) {
    auto all = store.ListSources();
    if (all.ok()) {
      for (const auto& s : *all)
        before_removed += (s.kind == kind && s.state == SourceState::kRemoved);
    }
  }
  auto res = store.ImportAll(items, o, remove_others, kind);
  if (!res.ok()) {
    Status s = res.status();
    Fail(s.Prepend("store import"));
    ctx.exit_code = s.code() == Code::kInvalidArgument ? kExitProblem : kExitStore;
    return false;
  }
  for (size_t i = 0; i < items.size() && i < res->size(); ++i) rep.Imported(items[i], (*res)[i]);
  if (remove_others) {
    auto all = store.ListSources();
    uint64_t after = 0;
    if (all.ok()) {
      for (const auto& s : *all) after += (s.kind == kind && s.state == SourceState::kRemoved);
    }
    rep.SetRemoved(after - std::min(after, before_removed));
  }
  return true;
}

// ---- keys ----

json KeyJson(const KeyInfo& k) {
  return {{"id", k.id},
          {"type", KeyTypeName(k.type)},
          {"fingerprint", k.fingerprint},
          {"description", k.description},
          {"file", k.file}};
}

// A keyring of several OpenPGP keys (apt's .gpg keyrings): every key is parsed first, so that a
// keyring with a key the store cannot use adds nothing; keys already configured are reported and
// skipped.
void CmdKeysAddRing(Context& ctx, KeyStore& ks, const std::string& file,
                    const std::vector<std::vector<uint8_t>>& keys) {
  for (size_t i = 0; i < keys.size(); ++i) {
    auto k = ParseKey(keys[i]);
    if (!k.ok()) {
      Status s = k.status();
      Fail(s.Prepend("key " + file + " (key #" + std::to_string(i + 1) + " of " +
                     std::to_string(keys.size()) + ")"));
      ctx.exit_code = kExitSignature;
      return;
    }
  }
  json arr = json::array();
  for (const auto& data : keys) {
    auto k = ks.Add(data, file);
    std::string state = "added";
    KeyInfo info;
    if (k.ok()) {
      info = *k;
    } else if (k.status().code() == Code::kExists &&
               k.status().message().find("collision") == std::string::npos) {
      state = "exists";
      info = *ParseKey(data);
    } else {
      Status s = k.status();
      Fail(s.Prepend("key " + file));
      ctx.exit_code =
          s.code() == Code::kIo || s.code() == Code::kNotFound ? kExitStore : kExitSignature;
      return;
    }
    if (ctx.json) {
      json j = KeyJson(info);
      j["state"] = state;
      arr.push_back(std::move(j));
    } else if (state == "added") {
      std::printf("added %s key %s (%s) %s\n", KeyTypeName(info.type), info.id.c_str(),
                  info.fingerprint.c_str(), info.description.c_str());
    } else {
      std::printf("already configured: %s key %s (%s)\n", KeyTypeName(info.type), info.id.c_str(),
                  info.fingerprint.c_str());
    }
  }
  if (ctx.json) std::printf("%s\n", arr.dump().c_str());
}

void CmdKeysAdd(Context& ctx, const std::string& file) {
  auto data = ReadFileLimited(file, 4u << 20);
  if (!data.ok()) {
    ctx.exit_code = Fail(data.status());
    return;
  }
  KeyStore ks(ctx.store_dir);
  auto split = SplitKeys(*data);
  if (!split.ok()) {
    Status s = split.status();
    Fail(s.Prepend("key " + file));
    ctx.exit_code = kExitSignature;
    return;
  }
  if (split->size() > 1) {
    CmdKeysAddRing(ctx, ks, file, *split);
    return;
  }
  auto k = ks.Add(*data, file);
  if (!k.ok()) {
    Status s = k.status();
    s.Prepend("key " + file);
    Fail(s);
    ctx.exit_code =
        s.code() == Code::kIo || s.code() == Code::kNotFound ? kExitStore : kExitSignature;
    return;
  }
  if (ctx.json) {
    std::printf("%s\n", json({{"id", k->id},
                              {"type", KeyTypeName(k->type)},
                              {"fingerprint", k->fingerprint},
                              {"description", k->description},
                              {"file", k->file}})
                            .dump()
                            .c_str());
  } else {
    std::printf("added %s key %s (%s) %s\n", KeyTypeName(k->type), k->id.c_str(),
                k->fingerprint.c_str(), k->description.c_str());
  }
}

void CmdKeysList(Context& ctx) {
  KeyStore ks(ctx.store_dir);
  auto keys = ks.List();
  if (!keys.ok()) {
    Fail(keys.status());
    ctx.exit_code = kExitStore;
    return;
  }
  json arr = json::array();
  for (const auto& k : *keys) {
    if (ctx.json) {
      arr.push_back({{"id", k.id},
                     {"type", KeyTypeName(k.type)},
                     {"fingerprint", k.fingerprint},
                     {"description", k.description},
                     {"file", k.file}});
    } else {
      std::printf("%-16s %-7s %s %s\n", k.id.c_str(), KeyTypeName(k.type), k.fingerprint.c_str(),
                  k.description.c_str());
    }
  }
  if (ctx.json) std::printf("%s\n", arr.dump().c_str());
}

void CmdKeysRemove(Context& ctx, const std::string& id) {
  KeyStore ks(ctx.store_dir);
  auto k = ks.Remove(id);
  if (!k.ok()) {
    ctx.exit_code = Fail(k.status());
    if (k.status().code() == Code::kInvalidArgument) ctx.exit_code = kExitUsage;
    return;
  }
  if (ctx.json) {
    std::printf("%s\n", json({{"removed", k->id}, {"fingerprint", k->fingerprint}}).dump().c_str());
  } else {
    std::printf("removed %s key %s (%s)\n", KeyTypeName(k->type), k->id.c_str(),
                k->fingerprint.c_str());
  }
}

// ---- imports ----

// What both RPM imports start with: the configured OpenPGP keys, the store (read-write) and an
// importer over those keys. Returns false (ctx.exit_code set, error printed) if any is missing.
bool StartRpmImport(Context& ctx, const ImportFlags& f, std::unique_ptr<Store>* store,
                    std::unique_ptr<RpmImporter>* imp, RpmImportOptions* o) {
  std::vector<std::vector<uint8_t>> keys;
  if (!LoadKeys(ctx, KeyType::kOpenPgp, &keys, nullptr)) return false;
  *store = OpenStoreRw(ctx);
  if (!*store) return false;
  auto created = RpmImporter::Create(keys);
  if (!created.ok()) {
    Fail(created.status());
    ctx.exit_code = kExitStore;
    return false;
  }
  *imp = std::move(created).value();
  o->allow_unsigned = f.allow_unsigned;
  o->allow_weak = f.allow_weak;
  return true;
}


void CmdImportRpm(Context& ctx, const std::vector<std::string>& files, const ImportFlags& f) {
  std::unique_ptr<Store> store;
  std::unique_ptr<RpmImporter> imp;
  RpmImportOptions o;
  if (!StartRpmImport(ctx, f, &store, &imp, &o)) return;
  Report rep;
  std::vector<ImportItem> items;
  {
    Progress prog("verified packages", files.size());
    for (size_t i = 0; i < files.size(); ++i) {
      auto item = imp->ReadPackageFile(files[i], o);
      if (item.ok()) {
        items.push_back(std::move(*item));
      } else {
        rep.Refuse(files[i], item.status());
      }
      prog.Tick(i + 1);
    }
  }
  if (!items.empty() && !Commit(ctx, *store, items, f, false, SourceKind::kRpm, rep)) return;
  ctx.exit_code = rep.Finish(ctx, "packages");
}

void CmdImportRpmdb(Context& ctx, const std::string& root, const std::string& dbpath,
                    const ImportFlags& f) {
  std::unique_ptr<Store> store;
  std::unique_ptr<RpmImporter> imp;
  RpmImportOptions o;
  if (!StartRpmImport(ctx, f, &store, &imp, &o)) return;
  Report rep;
  std::vector<ImportItem> items;
  Result<std::vector<RpmdbPackage>> pkgs = Status(Code::kInternal, "");
  {
    Progress prog("read installed headers", 0);
    pkgs = imp->ReadRpmdb(root, dbpath, o, [&](size_t n) { prog.Tick(n); });
  }
  if (!pkgs.ok()) {
    ctx.exit_code = Fail(pkgs.status());
    if (pkgs.status().code() == Code::kNotFound) ctx.exit_code = kExitProblem;
    return;
  }
  for (auto& p : *pkgs) {
    if (p.item.ok()) {
      items.push_back(std::move(p.item.value()));
    } else {
      rep.Refuse(p.nevra, p.item.status());
    }
  }
  // The store must match what is installed: sources of kind rpm not in this list are removed, and
  // every installed version stays active (two installed versions of one package, such as kernels,
  // are both vouched for; an upgrade shows as the old version missing from the list).
  ImportFlags rf = f;
  rf.keep_old = true;
  // Sources of kind rpm not in this list are removed.
  // A refused package is not in the list, so its older active version (if any) is removed too:
  // the store never vouches for something that is not what is installed.
  if (!Commit(ctx, *store, items, rf, /*remove_others=*/true, SourceKind::kRpm, rep)) return;
  ctx.exit_code = rep.Finish(ctx, "packages");
}

// ---- Debian: import apt / import deb ----

// The store's OpenPGP keys in a GnuPG home of their own (never the rootfs's keyrings).
std::unique_ptr<apt::PgpVerifier> StartAptImport(Context& ctx, std::unique_ptr<Store>* store) {
  std::vector<std::vector<uint8_t>> keys;
  if (!LoadKeys(ctx, KeyType::kOpenPgp, &keys, nullptr)) return nullptr;
  *store = OpenStoreRw(ctx);
  if (!*store) return nullptr;
  auto v = apt::PgpVerifier::Create(keys);
  if (!v.ok()) {
    Fail(v.status());
    ctx.exit_code = v.status().code() == Code::kUnavailable ? kExitRuntime : kExitStore;
    return nullptr;
  }
  return std::move(v).value();
}

// Refusals and notes of a Debian import; returns the accepted items.
std::vector<ImportItem> CollectApt(apt::AptImportResult& r, Report& rep, uint64_t* deb_bytes) {
  std::vector<ImportItem> items;
  for (const auto& p : r.problems) rep.Note("index not used: " + p.status.message());
  for (auto& p : r.packages) {
    *deb_bytes += p.deb_bytes;
    if (p.item.ok()) {
      items.push_back(std::move(p.item.value()));
    } else {
      rep.Refuse(p.input, p.item.status());
    }
  }
  return items;
}

void CmdImportApt(Context& ctx, const std::string& root, const std::vector<std::string>& lists,
                  const std::vector<std::string>& debs, const ImportFlags& f) {
  std::unique_ptr<Store> store;
  auto verifier = StartAptImport(ctx, &store);
  if (!verifier) return;
  Report rep;
  Result<apt::AptImportResult> res = Status(Code::kInternal, "");
  {
    Progress prog("verified packages", 0);
    apt::AptImportOptions o;
    o.progress = [&](size_t n, size_t) { prog.Tick(n); };
    res = apt::ImportRoot(root, lists, debs, *verifier, o);
  }
  if (!res.ok()) {
    ctx.exit_code = Fail(res.status());
    if (res.status().code() == Code::kNotFound || res.status().code() == Code::kCorrupt) {
      ctx.exit_code = kExitProblem;
    }
    return;
  }
  uint64_t bytes = 0;
  std::vector<ImportItem> items = CollectApt(*res, rep, &bytes);
  spdlog::info("import apt root={} releases={} indexes={} packages={} deb_bytes={}", LogQuote(root),
               res->releases, res->indexes, res->packages.size(), bytes);
  // As import rpmdb: the store's deb sources become exactly the installed packages that verify.
  ImportFlags rf = f;
  rf.keep_old = true;
  if (!Commit(ctx, *store, items, rf, /*remove_others=*/true, SourceKind::kDeb, rep)) return;
  ctx.exit_code = rep.Finish(ctx, "packages");
}

void CmdImportDeb(Context& ctx, const std::vector<std::string>& files,
                  const std::vector<std::string>& lists, const ImportFlags& f) {
  std::unique_ptr<Store> store;
  auto verifier = StartAptImport(ctx, &store);
  if (!verifier) return;
  Report rep;
  Result<apt::AptImportResult> res = Status(Code::kInternal, "");
  {
    Progress prog("verified packages", files.size());
    apt::AptImportOptions o;
    o.progress = [&](size_t n, size_t) { prog.Tick(n); };
    res = apt::ImportDebFiles(files, lists, *verifier, o);
  }
  if (!res.ok()) {
    ctx.exit_code = Fail(res.status());
    if (res.status().code() == Code::kNotFound) ctx.exit_code = kExitProblem;
    return;
  }
  uint64_t bytes = 0;
  std::vector<ImportItem> items = CollectApt(*res, rep, &bytes);
  if (!items.empty() && !Commit(ctx, *store, items, f, false, SourceKind::kDeb, rep)) return;
  ctx.exit_code = rep.Finish(ctx, "packages");
}

void CmdImportTlv(Context& ctx, const std::vector<std::string>& files, const ImportFlags& f) {
  std::vector<std::vector<uint8_t>> certs;
  std::vector<std::string> ids;
  if (!LoadKeys(ctx, KeyType::kX509, &certs, &ids)) return;
  auto store = OpenStoreRw(ctx);
  if (!store) return;
  TlvImportOptions o;
  o.allow_unsigned = f.allow_unsigned;
  o.allow_weak = f.allow_weak;
  Report rep;
  std::vector<ImportItem> items;
  {
    Progress prog("verified lists", files.size());
    for (size_t i = 0; i < files.size(); ++i) {
      size_t pathless = 0;
      auto item = ReadTlvFile(files[i], certs, ids, o, &pathless);
      if (item.ok()) {
        if (pathless) {
          rep.Note(files[i] + ": " + std::to_string(pathless) +
                   " entries without a path were not imported");
        }
        items.push_back(std::move(*item));
      } else {
        rep.Refuse(files[i], item.status());
      }
      prog.Tick(i + 1);
    }
  }
  if (!items.empty() && !Commit(ctx, *store, items, f, false, SourceKind::kTlv, rep)) return;
  ctx.exit_code = rep.Finish(ctx, "lists");
}

void CmdImportManifest(Context& ctx, const std::string& file, const ImportFlags& f) {
  std::vector<std::vector<uint8_t>> certs;
  std::vector<std::string> ids;
  if (!LoadKeys(ctx, KeyType::kX509, &certs, &ids)) return;
  auto store = OpenStoreRw(ctx);
  if (!store) return;
  Report rep;
  auto item = ReadManifestFile(file, certs, ids);
  std::vector<ImportItem> items;
  if (item.ok()) {
    items.push_back(std::move(*item));
  } else {
    rep.Refuse(file, item.status());
  }
  if (!items.empty() && !Commit(ctx, *store, items, f, false, SourceKind::kManifest, rep)) return;
  ctx.exit_code = rep.Finish(ctx, "manifests");
}

void CmdManifestCreate(Context& ctx, const std::string& dir, const std::string& key,
                       const std::string& cert, const std::string& out, std::string name) {
  auto k = ReadFileLimited(key, 1 << 20);
  if (!k.ok()) {
    ctx.exit_code = Fail(k.status());
    return;
  }
  auto c = ReadFileLimited(cert, 1 << 20);
  if (!c.ok()) {
    ctx.exit_code = Fail(c.status());
    return;
  }
  if (name.empty()) {
    std::string d = dir;
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    size_t slash = d.find_last_of('/');
    name = slash == std::string::npos ? d : d.substr(slash + 1);
  }
  BuildStats st;
  auto m = BuildManifest(dir, name, HashAlgo::kSha256, &st);
  if (!m.ok()) {
    ctx.exit_code = Fail(m.status());
    return;
  }
  auto text = SignManifest(*m, *k, *c);
  if (!text.ok()) {
    Status s = text.status();
    ctx.exit_code = Fail(s.Prepend("signing with " + key + " / " + cert));
    if (s.code() == Code::kInvalidArgument) ctx.exit_code = kExitSignature;
    return;
  }
  Status w = WriteFileAtomic(out, {reinterpret_cast<const uint8_t*>(text->data()), text->size()});
  if (!w.ok()) {
    ctx.exit_code = Fail(w);
    return;
  }
  if (ctx.json) {
    std::printf("%s\n", json({{"manifest", out},
                              {"name", name},
                              {"files", st.files},
                              {"skipped", st.skipped},
                              {"bytes", st.bytes}})
                            .dump()
                            .c_str());
  } else {
    std::printf("wrote %s: %llu files (%llu bytes), %llu non-regular entries skipped\n",
                out.c_str(), static_cast<unsigned long long>(st.files),
                static_cast<unsigned long long>(st.bytes),
                static_cast<unsigned long long>(st.skipped));
  }
}

// A source name as a file name: printable ASCII except '/', anything else as '_'.
std::string SafeFileName(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += (c > 0x20 && c < 0x7f && c != '/') ? static_cast<char>(c) : '_';
  if (out.empty() || out == "." || out == "..") out = "_";
  return out;
}

void CmdExportTlv(Context& ctx, const std::string& source, bool all, const std::string& outdir,
                  const std::string& key, const std::string& cert) {
  if (all == !source.empty()) {
    std::fprintf(stderr, "digestctl: USAGE: export tlv needs exactly one of SOURCE or --all\n");
    ctx.exit_code = kExitUsage;
    return;
  }
  if (key.empty() != cert.empty()) {
    std::fprintf(stderr, "digestctl: USAGE: --key and --cert go together\n");
    ctx.exit_code = kExitUsage;
    return;
  }
  std::vector<uint8_t> kdata, cdata;
  if (!key.empty()) {
    auto k = ReadFileLimited(key, 1 << 20);
    auto c = ReadFileLimited(cert, 1 << 20);
    if (!k.ok() || !c.ok()) {
      ctx.exit_code = Fail(!k.ok() ? k.status() : c.status());
      return;
    }
    kdata = std::move(*k);
    cdata = std::move(*c);
  }
  StoreOptions so;
  so.read_only = true;
  auto st = Store::Open(ctx.store_dir, so);
  if (!st.ok()) {
    Fail(st.status());
    ctx.exit_code = kExitStore;
    return;
  }
  Store& store = **st;
  std::vector<SourceInfo> sources;
  if (all) {
    auto l = store.ListSources();
    if (!l.ok()) {
      Fail(l.status());
      ctx.exit_code = kExitStore;
      return;
    }
    for (auto& s : *l) {
      if (s.state == SourceState::kActive && s.kind != SourceKind::kLocal) sources.push_back(s);
    }
  } else {
    auto s = store.FindSource(source);
    if (!s.ok()) {
      ctx.exit_code = Fail(s.status());
      return;
    }
    sources.push_back(*s);
  }
  json written = json::array();
  for (const auto& s : sources) {
    auto files = store.SourceFiles(s.id);
    if (!files.ok()) {
      Fail(files.status());
      ctx.exit_code = kExitStore;
      return;
    }
    // One list per algorithm (a kernel list has one); normally there is exactly one.
    std::map<HashAlgo, TlvList> lists;
    for (const auto& fe : *files) {
      if (fe.digest.empty()) continue;
      TlvList& l = lists[fe.digest.algo];
      l.algo = fe.digest.algo;
      l.entries.push_back({fe.digest, fe.path});
    }
    if (lists.empty()) lists[HashAlgo::kSha256].algo = HashAlgo::kSha256;
    for (const auto& [algo, l] : lists) {
      auto bytes = WriteTlv(l);
      if (!bytes.ok()) {
        ctx.exit_code = Fail(Status(bytes.status()).Prepend("source " + s.name));
        return;
      }
      std::vector<uint8_t> out = std::move(*bytes);
      if (!kdata.empty()) {
        auto sig = SignDetached(out, kdata, cdata, /*module_style=*/true);
        if (!sig.ok()) {
          ctx.exit_code = Fail(Status(sig.status()).Prepend("signing with " + key));
          return;
        }
        out = AppendModuleSignature(out, *sig);
      }
      // The kernel's digest cache and manage_digest_lists pick the parser from the name's prefix
      // ("rpm-" is an RPM header), so every list written here is "tlv-"; the rest is the source's
      // kind and name ("tlv-rpm-hello-2.0-1.x86_64", "tlv-manifest-NAME", "tlv-NAME" for a TLV
      // source), so sources of different kinds never share a file.
      std::string base = SafeFileName(SourceEntryName(s));
      if (!base.starts_with("tlv-")) base = "tlv-" + base;
      if (lists.size() > 1) base += "." + std::string(HashAlgoName(algo));
      std::string path = outdir + "/" + base;
      Status w = WriteFileAtomic(path, out);
      if (!w.ok()) {
        ctx.exit_code = Fail(w);
        return;
      }
      written.push_back({{"source", s.name},
                         {"file", path},
                         {"entries", l.entries.size()},
                         {"algo", std::string(HashAlgoName(algo))},
                         {"signed", !kdata.empty()}});
      if (!ctx.json) {
        std::printf("wrote %s (%zu entries, %s%s)\n", path.c_str(), l.entries.size(),
                    std::string(HashAlgoName(algo)).c_str(), kdata.empty() ? "" : ", signed");
      }
    }
  }
  if (ctx.json) std::printf("%s\n", written.dump().c_str());
}

CLI::App* GetOrAdd(CLI::App& app, const std::string& name, const std::string& desc) {
  for (CLI::App* sub : app.get_subcommands([&](CLI::App* a) { return a->get_name() == name; })) {
    return sub;
  }
  return app.add_subcommand(name, desc);
}

void AddImportFlags(CLI::App* cmd, ImportFlags& f, bool keep_old) {
  cmd->add_flag("--allow-unsigned", f.allow_unsigned,
                "import inputs without a signature (recorded on the source)");
  cmd->add_flag("--allow-weak", f.allow_weak, "accept MD5/SHA-1 digests (recorded on the source)");
  if (keep_old) {
    cmd->add_flag("--keep-old", f.keep_old,
                  "keep older versions of the same package active (no rollback protection)");
  }
}

}  // namespace

void RegisterImportCommands(CLI::App& app, Context& ctx) {
  // State the callbacks read; lives as long as the process (CLI11 keeps references).
  struct Args {
    std::string file, id, root, dbpath, dir, key, cert, out, name, source, outdir = ".";
    std::vector<std::string> files, lists, debs;
    ImportFlags flags;
    bool all = false;
  };
  static Args a;

  auto* keys =
      app.add_subcommand("keys", "trusted keys: OpenPGP (RPM) and X.509 (lists, manifests)");
  keys->require_subcommand(1);
  auto* kadd = keys->add_subcommand("add", "add an OpenPGP public key or an X.509 certificate");
  kadd->add_option("FILE", a.file, "key file (armoured/binary OpenPGP, PEM/DER X.509)")->required();
  kadd->callback([&ctx] { CmdKeysAdd(ctx, a.file); });
  keys->add_subcommand("list", "list the configured keys")->callback([&ctx] { CmdKeysList(ctx); });
  auto* krm = keys->add_subcommand("remove", "remove a key by id or fingerprint prefix");
  krm->add_option("ID", a.id, "key id (16 hex) or fingerprint prefix")->required();
  krm->callback([&ctx] { CmdKeysRemove(ctx, a.id); });

  auto* imp = app.add_subcommand("import", "import signed sources into the store");
  imp->require_subcommand(1);
  auto* rpm = imp->add_subcommand("rpm", "import signed RPM package files");
  rpm->add_option("FILE", a.files, "package files")->required();
  AddImportFlags(rpm, a.flags, true);
  rpm->callback([&ctx] { CmdImportRpm(ctx, a.files, a.flags); });
  auto* rpmdb =
      imp->add_subcommand("rpmdb", "make the store match a root tree's installed packages");
  rpmdb->add_option("--root", a.root, "root directory of the tree")->required();
  rpmdb->add_option("--dbpath", a.dbpath,
                    "database directory inside the root (default: /usr/lib/sysimage/rpm or "
                    "/var/lib/rpm, whichever exists)");
  AddImportFlags(rpmdb, a.flags, false);
  rpmdb->callback([&ctx] { CmdImportRpmdb(ctx, a.root, a.dbpath, a.flags); });
  auto* aptc = imp->add_subcommand(
      "apt", "make the store match a Debian root tree's installed packages (signed apt chain)");
  aptc->add_option("--root", a.root, "root directory of the tree")->required();
  // One directory per --lists/--debs (repeat the option for more), so that FILE arguments after
  // it are not taken for directories.
  aptc->add_option("--lists", a.lists,
                   "another directory of apt index files (InRelease, Packages); repeatable")
      ->allow_extra_args(false);
  aptc->add_option("--debs", a.debs, "another directory of .deb files; repeatable")
      ->allow_extra_args(false);
  aptc->callback([&ctx] { CmdImportApt(ctx, a.root, a.lists, a.debs, a.flags); });
  auto* debc = imp->add_subcommand("deb", "import .deb files listed by signed apt indexes");
  debc->add_option("--lists", a.lists, "directory of apt index files; repeatable")
      ->required()
      ->allow_extra_args(false);
  debc->add_option("FILE", a.files, ".deb files")->required();
  debc->add_flag("--keep-old", a.flags.keep_old,
                 "keep older versions of the same package active (no rollback protection)");
  debc->callback([&ctx] { CmdImportDeb(ctx, a.files, a.lists, a.flags); });
  auto* tlv = imp->add_subcommand("tlv", "import kernel TLV digest lists (digest_cache v6)");
  tlv->add_option("FILE", a.files, "digest list files")->required();
  AddImportFlags(tlv, a.flags, false);
  tlv->callback([&ctx] { CmdImportTlv(ctx, a.files, a.flags); });
  auto* man = imp->add_subcommand("manifest", "import a signed manifest");
  man->add_option("FILE", a.file, "manifest file")->required();
  man->callback([&ctx] { CmdImportManifest(ctx, a.file, a.flags); });

  auto* mf = app.add_subcommand("manifest", "signed manifests of golden trees");
  mf->require_subcommand(1);
  auto* create = mf->add_subcommand("create", "walk DIR and write a signed manifest");
  create->add_option("DIR", a.dir, "the golden tree")->required();
  create->add_option("--key", a.key, "signing private key (PEM)")->required();
  create->add_option("--cert", a.cert, "signing certificate (PEM or DER)")->required();
  create->add_option("-o,--output", a.out, "manifest file to write")->required();
  create->add_option("--name", a.name, "manifest name (default: DIR's base name)");
  create->callback([&ctx] { CmdManifestCreate(ctx, a.dir, a.key, a.cert, a.out, a.name); });

  // "export" is shared with the measurement commands (export keylime-policy).
  auto* exp = GetOrAdd(app, "export", "export the store in other formats");
  auto* etlv = exp->add_subcommand("tlv", "write kernel TLV digest lists (tlv-KIND-NAME)");
  etlv->add_option("SOURCE", a.source, "source id or name");
  etlv->add_flag("--all", a.all, "every active source");
  etlv->add_option("-o,--output-dir", a.outdir, "directory to write into (default .)");
  etlv->add_option("--key", a.key, "sign the lists with this private key (PEM)");
  etlv->add_option("--cert", a.cert, "certificate of the signing key");
  etlv->callback([&ctx] { CmdExportTlv(ctx, a.source, a.all, a.outdir, a.key, a.cert); });
}

}  // namespace dfs::cli
