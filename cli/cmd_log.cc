// digestctl log show|verify and export keylime-policy (docs/measurement.md).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "cache/store.h"
#include "cli/cli.h"
#include "common/digest.h"
#include "common/fd.h"
#include "measurement/ima_log.h"
#include "measurement/measurement.h"
#include "measurement/tpm.h"

namespace dfs::cli {

namespace {

constexpr size_t kMaxLogBytes = size_t{1} << 30;

struct LoadedLog {
  std::string format;  // "binary" | "ascii"
  std::vector<ima::Entry> entries;
  std::vector<uint64_t> offsets;  // binary: byte offset of each entry
  bool truncated_tail = false;
  uint64_t complete_bytes = 0;
  uint64_t total_bytes = 0;
};

Result<std::string> ReadFile(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "opening log " + path);
  std::string out;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "reading log " + path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > kMaxLogBytes)
      return Status(Code::kInvalidArgument, "log " + path + " is over 1 GiB");
  }
  return out;
}

// An ASCII log starts with a decimal PCR index and a space; a binary one with a little-endian u32
// whose first byte is the PCR index (< 32, never an ASCII digit).
bool LooksAscii(const std::string& data) {
  size_t i = 0;
  while (i < data.size() && i < 3 && data[i] >= '0' && data[i] <= '9') ++i;
  return i > 0 && i < data.size() && data[i] == ' ';
}

Result<LoadedLog> LoadLog(const std::string& path, const std::string& format) {
  DFS_ASSIGN_OR_RETURN(std::string data, ReadFile(path));
  LoadedLog out;
  out.total_bytes = data.size();
  std::string fmt = format;
  if (fmt == "auto") fmt = LooksAscii(data) ? "ascii" : "binary";
  out.format = fmt;
  if (fmt == "ascii") {
    auto e = ima::ParseAscii(data);
    if (!e.ok()) return Status(Code::kCorrupt, "log " + path + ": " + e.status().message());
    out.entries = std::move(*e);
    out.complete_bytes = data.size();
    return out;
  }
  if (fmt != "binary")
    return Status(Code::kInvalidArgument, "--format must be auto, binary or ascii");
  auto p = ima::ParseBinary(reinterpret_cast<const uint8_t*>(data.data()), data.size());
  if (!p.ok()) return Status(Code::kCorrupt, "log " + path + ": " + p.status().message());
  out.entries = std::move(p->entries);
  out.offsets = std::move(p->offsets);
  out.truncated_tail = p->truncated_tail;
  out.complete_bytes = p->complete_bytes;
  return out;
}

// A check that found a problem: message to stderr, exit 1.
int Problem(const std::string& msg) {
  std::fprintf(stderr, "digestctl: %s\n", msg.c_str());
  return kExitProblem;
}

int FailLoad(const Status& s) {
  if (s.code() == Code::kCorrupt) return Problem(s.ToString());
  return Fail(s);
}

struct ShowArgs {
  std::string log;
  std::string format = "auto";
  bool json = false;
};

int RunShow(const ShowArgs& a, const Context& ctx) {
  auto log = LoadLog(a.log, a.format);
  if (!log.ok()) return FailLoad(log.status());
  if (ctx.json || a.json) {
    nlohmann::json j;
    j["log"] = a.log;
    j["format"] = log->format;
    j["entries"] = nlohmann::json::array();
    for (size_t i = 0; i < log->entries.size(); ++i) {
      const auto& e = log->entries[i];
      nlohmann::json je;
      if (i < log->offsets.size()) je["offset"] = log->offsets[i];
      je["pcr"] = e.pcr;
      je["template_hash"] = ToHex(e.template_hash);
      je["template"] = e.template_name;
      je["digest"] = e.digest.empty() ? "" : e.digest.ToString();
      je["path"] = e.path;
      je["template_hash_valid"] = ima::TemplateHashValid(e);
      j["entries"].push_back(je);
    }
    j["truncated_tail"] = log->truncated_tail;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    for (const auto& e : log->entries) std::fputs(ima::EncodeAscii(e).c_str(), stdout);
  }
  if (log->truncated_tail) {
    return Problem("log " + a.log + " ends inside a record at byte " +
                   std::to_string(log->complete_bytes) + " (a torn append)");
  }
  return kExitOk;
}

struct VerifyArgs {
  std::string log;
  std::string format = "auto";
  std::string tcti;
  int pcr = -1;
  std::vector<std::string> expect;  // "[PCR:]ALGO:HEX"
  std::string ascii;                // an ASCII log that must match --log entry by entry
  bool json = false;
};

int RunVerify(const VerifyArgs& a, const Context& ctx) {
  auto log = LoadLog(a.log, a.format);
  if (!log.ok()) return FailLoad(log.status());
  bool ok = true;
  std::vector<std::string> problems;
  if (log->truncated_tail) {
    problems.push_back("log ends inside a record at byte " + std::to_string(log->complete_bytes) +
                       " (a torn append)");
  }
  std::vector<ima::Entry> entries;
  for (size_t i = 0; i < log->entries.size(); ++i) {
    const auto& e = log->entries[i];
    if (!ima::TemplateHashValid(e)) {
      problems.push_back("entry " + std::to_string(i) + " (" + e.path +
                         "): template hash does not match its template data");
    }
    if (a.pcr < 0 || e.pcr == static_cast<uint32_t>(a.pcr)) entries.push_back(e);
  }
  if (!a.ascii.empty()) {
    auto other = LoadLog(a.ascii, "ascii");
    if (!other.ok()) {
      problems.push_back(other.status().message());
    } else {
      size_t n = std::min(other->entries.size(), log->entries.size());
      for (size_t i = 0; i < n; ++i) {
        const auto& x = log->entries[i];
        const auto& y = other->entries[i];
        if (x.pcr != y.pcr || x.template_hash != y.template_hash ||
            x.template_data != y.template_data) {
          problems.push_back("entry " + std::to_string(i) + " differs between " + a.log + " and " +
                             a.ascii);
          break;
        }
      }
      if (other->entries.size() != log->entries.size()) {
        problems.push_back(a.log + " has " + std::to_string(log->entries.size()) + " entries, " +
                           a.ascii + " has " + std::to_string(other->entries.size()));
      }
    }
  }
  if (a.pcr >= 0 && entries.empty()) {
    problems.push_back("log has no entry for PCR " + std::to_string(a.pcr));
  }

  // Expected values: from the TPM, or from --expect.
  std::map<std::pair<uint32_t, HashAlgo>, Digest> expected;
  std::vector<HashAlgo> banks;
  std::set<uint32_t> pcrs;
  for (const auto& e : entries) pcrs.insert(e.pcr);
  if (a.pcr >= 0) pcrs.insert(static_cast<uint32_t>(a.pcr));
  // An empty log still says something: the PCR it is for has never been extended.
  if (pcrs.empty() && !a.tcti.empty()) pcrs.insert(kDefaultPcr);
  std::string source;
  if (!a.tcti.empty()) {
    auto tpm = Tpm::Connect(a.tcti);
    if (!tpm.ok()) return Fail(tpm.status());
    source = "tpm " + a.tcti;
    for (uint32_t pcr : pcrs) {
      auto b = (*tpm)->Banks(pcr);
      if (!b.ok()) return Fail(b.status());
      if (banks.empty()) banks = *b;
      auto v = (*tpm)->Read(pcr, banks);
      if (!v.ok()) return Fail(v.status());
      for (const Digest& d : *v) expected[{pcr, d.algo}] = d;
    }
  } else {
    for (const std::string& x : a.expect) {
      std::string rest = x;
      uint32_t pcr = a.pcr >= 0 ? static_cast<uint32_t>(a.pcr) : kDefaultPcr;
      size_t c = rest.find(':');
      if (c != std::string::npos && c > 0 && rest.find_first_not_of("0123456789") == c) {
        pcr = static_cast<uint32_t>(std::stoul(rest.substr(0, c)));
        rest = rest.substr(c + 1);
      }
      auto d = Digest::Parse(rest);
      if (!d.ok())
        return Fail(Status(Code::kInvalidArgument, "--expect " + x + ": " + d.status().message()));
      expected[{pcr, d->algo}] = *d;
      pcrs.insert(pcr);
      if (std::find(banks.begin(), banks.end(), d->algo) == banks.end()) banks.push_back(d->algo);
    }
    if (!expected.empty()) source = "--expect";
    if (banks.empty()) banks = {HashAlgo::kSha1, HashAlgo::kSha256};
  }
  auto replay = ima::ReplayAll(entries, banks);
  if (!replay.ok()) return Fail(replay.status());

  nlohmann::json jp = nlohmann::json::array();
  std::string text;
  for (uint32_t pcr : pcrs) {
    std::vector<Digest> computed;
    auto it = replay->find(pcr);
    if (it != replay->end()) {
      computed = it->second;
    } else {
      for (HashAlgo b : banks)
        computed.push_back(Digest{b, std::vector<uint8_t>(HashAlgoSize(b), 0)});
    }
    for (const Digest& d : computed) {
      auto ex = expected.find({pcr, d.algo});
      std::string status = "computed";
      if (ex != expected.end()) {
        status = ex->second == d ? "match" : "MISMATCH";
        if (ex->second != d) {
          ok = false;
          problems.push_back("PCR " + std::to_string(pcr) + " " +
                             std::string(HashAlgoName(d.algo)) + ": log replays to " + d.Hex() +
                             ", " + source + " has " + ex->second.Hex());
        }
      }
      char line[512];
      std::snprintf(line, sizeof line, "pcr %u %s %s %s\n", pcr,
                    std::string(HashAlgoName(d.algo)).c_str(), d.Hex().c_str(), status.c_str());
      text += line;
      nlohmann::json j;
      j["pcr"] = pcr;
      j["bank"] = HashAlgoName(d.algo);
      j["computed"] = d.Hex();
      if (ex != expected.end()) j["expected"] = ex->second.Hex();
      j["status"] = status;
      jp.push_back(j);
    }
  }
  if (!problems.empty()) ok = false;
  if (ctx.json || a.json) {
    nlohmann::json j;
    j["log"] = a.log;
    j["format"] = log->format;
    j["entries"] = log->entries.size();
    j["compared_with"] = source.empty() ? "nothing" : source;
    j["pcrs"] = jp;
    j["problems"] = problems;
    j["ok"] = ok;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("log %s: %s, %zu entries, compared with %s\n", a.log.c_str(), log->format.c_str(),
                log->entries.size(),
                source.empty() ? "nothing (computed values only)" : source.c_str());
    std::fputs(text.c_str(), stdout);
  }
  for (const auto& p : problems) std::fprintf(stderr, "digestctl: verify: %s\n", p.c_str());
  if (ok) {
    if (!(ctx.json || a.json))
      std::printf("%s\n", source.empty() ? "OK (no reference values)" : "OK");
    return kExitOk;
  }
  return kExitProblem;
}

struct KeylimeArgs {
  std::string out;
  std::vector<std::string> excludes;
  bool no_sources = false;
};

// Writes `text` to `path` through a temporary file and rename, so a reader never sees half of it.
Status WriteFileAtomic(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd) return Status::FromErrno(errno, "creating " + tmp);
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd.get(), text.data() + off, text.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = Status::FromErrno(errno, "writing " + tmp);
      ::unlink(tmp.c_str());
      return s;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = Status::FromErrno(errno, "writing " + path);
    ::unlink(tmp.c_str());
    return s;
  }
  return Status::Ok();
}

// Keylime's RUNTIME_POLICY_GENERATOR.LegacyAllowList, what Keylime's own policy generator writes.
// Keylime's verifier expects an IMA log only from a policy whose generator is above
// EmptyAllowList (1); with 0 (Unknown) or 1 it would not check the log at all.
constexpr int kKeylimeGenerator = 3;
// Shortest digest Keylime's schema accepts (40 hex digits, SHA-1): MD5 digests cannot be listed.
constexpr size_t kKeylimeMinHex = 40;

// A Keylime runtime policy (keylime.ima.types.RuntimePolicyType, meta.version 1) from the store:
// every file of every active source (path -> its digests), and, unless --no-sources, every active
// source under the name digestfs measures it by (rpm-NVRA -> blob digest), so a digestfs log checks
// against it as well as a kernel IMA log of the same files. It validates with Keylime's
// RUNTIME_POLICY_SCHEMA (keylime.ima.ima.validate_runtime_policy).
int RunKeylimeExport(const KeylimeArgs& a, const Context& ctx) {
  StoreOptions so;
  so.read_only = true;
  auto store = Store::Open(ctx.store_dir, so);
  if (!store.ok()) {
    Fail(store.status());
    return kExitStore;
  }
  auto sources = (*store)->ListSources();
  if (!sources.ok()) return Fail(sources.status());
  std::map<std::string, std::set<std::string>> digests;
  size_t nsources = 0, nfiles = 0, nweak = 0;
  for (const SourceInfo& s : *sources) {
    if (s.state != SourceState::kActive) continue;
    ++nsources;
    if (!a.no_sources && !s.blob_digest.empty())
      digests[SourceEntryName(s)].insert(s.blob_digest.Hex());
    auto files = (*store)->SourceFiles(s.id);
    if (!files.ok()) {
      Status st = files.status();
      return Fail(st.Prepend("source " + s.name));
    }
    for (const FileEntry& f : *files) {
      if (f.digest.empty()) continue;
      if (f.digest.Hex().size() < kKeylimeMinHex) {
        ++nweak;
        continue;
      }
      digests[f.path].insert(f.digest.Hex());
      ++nfiles;
    }
  }
  nlohmann::json j;
  char ts[32];
  std::time_t now = std::time(nullptr);
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  j["meta"] = {{"version", 1}, {"generator", kKeylimeGenerator}, {"timestamp", ts}};
  j["release"] = 0;
  j["digests"] = nlohmann::json::object();
  for (const auto& [path, set] : digests)
    j["digests"][path] = std::vector<std::string>(set.begin(), set.end());
  j["excludes"] = a.excludes;
  j["keyrings"] = nlohmann::json::object();
  j["ima"] = {{"ignored_keyrings", nlohmann::json::array()},
              {"log_hash_alg", "sha1"},
              {"dm_policy", nullptr}};
  j["ima-buf"] = nlohmann::json::object();
  j["verification-keys"] = "";
  if (nweak > 0) {
    std::fprintf(stderr,
                 "digestctl: left out %zu file digests shorter than SHA-1 (MD5), which a Keylime "
                 "policy cannot hold\n",
                 nweak);
  }
  std::string text = j.dump(1) + "\n";
  if (a.out.empty() || a.out == "-") {
    std::fputs(text.c_str(), stdout);
  } else {
    Status s = WriteFileAtomic(a.out, text);
    if (!s.ok()) return Fail(s);
    std::fprintf(stderr, "digestctl: wrote %s: %zu sources, %zu files, %zu paths\n", a.out.c_str(),
                 nsources, nfiles, digests.size());
  }
  return kExitOk;
}

CLI::App* GetOrAddSubcommand(CLI::App& app, const std::string& name, const std::string& desc) {
  for (CLI::App* sub : app.get_subcommands([&](CLI::App* c) { return c->get_name() == name; })) {
    return sub;
  }
  return app.add_subcommand(name, desc);
}

}  // namespace

void RegisterLogCommands(CLI::App& app, Context& ctx) {
  auto* log = app.add_subcommand("log", "show and verify IMA-format measurement logs");
  log->require_subcommand(1);

  auto show_args = std::make_shared<ShowArgs>();
  auto* show = log->add_subcommand("show", "print a measurement log (binary or ASCII)");
  show->add_option("--log", show_args->log, "log file (binary_ or ascii_runtime_measurements)")
      ->required();
  show->add_option("--format", show_args->format, "auto|binary|ascii")->capture_default_str();
  show->add_flag("--json", show_args->json, "JSON output");
  show->callback([show_args, &ctx] { ctx.exit_code = RunShow(*show_args, ctx); });

  auto verify_args = std::make_shared<VerifyArgs>();
  auto* verify = log->add_subcommand(
      "verify", "replay a log, check every template hash and compare the PCRs with a TPM");
  verify->add_option("--log", verify_args->log, "log file")->required();
  verify->add_option("--format", verify_args->format, "auto|binary|ascii")->capture_default_str();
  verify->add_option(
      "--tcti", verify_args->tcti,
      "TPM to compare with (e.g. swtpm:host=127.0.0.1,port=2321, device:/dev/tpmrm0)");
  verify->add_option("--pcr", verify_args->pcr, "only entries of this PCR")
      ->check(CLI::Range(0, 23));
  verify->add_option("--expect", verify_args->expect,
                     "expected value [PCR:]ALGO:HEX (without --tcti; repeatable)");
  verify->add_option("--ascii", verify_args->ascii,
                     "also check that this ASCII log has the same entries as --log");
  verify->add_flag("--json", verify_args->json, "JSON output");
  verify->callback([verify_args, &ctx] { ctx.exit_code = RunVerify(*verify_args, ctx); });

  // "export" is shared with the import commands (export tlv).
  auto* exp = GetOrAddSubcommand(app, "export", "export the store in other formats");
  auto kl_args = std::make_shared<KeylimeArgs>();
  auto* kl = exp->add_subcommand(
      "keylime-policy", "write a Keylime runtime policy (JSON) from the store's active sources");
  kl->add_option("-o,--output", kl_args->out, "file to write (default: standard output)");
  kl->add_option("--exclude", kl_args->excludes,
                 "path regex for the policy's excludes (repeatable), e.g. '^digestfs_aggregate$'");
  kl->add_flag("--no-sources", kl_args->no_sources,
               "leave out the source entries (rpm-NVRA -> header digest) that digestfs logs");
  kl->callback([kl_args, &ctx] { ctx.exit_code = RunKeylimeExport(*kl_args, ctx); });
}

}  // namespace dfs::cli
