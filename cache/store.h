// cache/store.h: the digest store, an LMDB environment in a directory (docs/store-format.md).
//
// Contract:
// - One Store object per process per directory (LMDB's rule: one environment per process). A
//   second Open of the same directory (same st_dev/st_ino) in one process returns another Store
//   sharing the first one's environment. After fork(), a child must open its own Store and must
//   not use the parent's objects.
// - It is thread-safe: any number of threads may call the read methods at once (read
//   transactions are pooled; a lookup is one short read transaction); write methods serialize
//   on LMDB's single writer lock, which also serializes writers in other processes.
// - Every write method is one LMDB write transaction: after a crash (kill -9 at any point) the
// store
//   is exactly as before the call or exactly as after it. Readers never see half of a write.
//   A write that changes nothing (an unchanged import, removing a removed source) commits nothing.
// - Generation() changes on every committed write, and is cheap (no transaction, no access to the
//   map: 2 preads and an fstat of data.mdb): mounted daemons compare it with the generation a
//   cached verdict was made under. It is LMDB's last committed transaction id, so writes by any
//   process are seen; kDamagedGeneration while the data file is damaged (below).
// - A data file damaged or truncated while open (meta pages overwritten, the file cut short) never
//   crashes the process: every transaction and Generation() first check both meta pages and the
//   file's size, and fail with kCorrupt (logged once as store_damaged, naming the store) until
//   the file is sane again (logged as store_recovered); a file put back in place is used again.
//   Not covered: damage to other pages than the meta pages, and a truncation in the microseconds
//   between that check and LMDB's reads (docs/store-format.md, "A damaged store").
// - The map grows on demand (MDB_MAP_FULL: the write is retried whole with a doubled map, up to
//   StoreOptions.max_map_size); a map grown by another process is adopted transparently.
// - Returned values are copies; nothing points into LMDB memory after a call returns.
//
// Errors (Status codes): kNotFound (no such digest/source; a missing or empty store without
// create), kVersion (a store of an unknown or newer schema), kCorrupt (a damaged data file or
// record, named in the message; Open checks the meta pages, the meta records and every table's
// root), kFull (map full and cannot grow, or disk full; nothing was written), kIo (an OS call
// failed), kInvalidArgument (malformed input: an unstorable digest, a relative or duplicate path,
// an empty name, ...; nothing was written), kPermissionDenied (a write on a read-only Store),
// kUnavailable (the directory is already open read-only in this process and a writable Store
// was asked for).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cache/records.h"
#include "common/digest.h"
#include "common/status.h"

namespace dfs {

struct StoreOptions {
  bool create = false;     // create the directory and an empty store if missing
  bool read_only = false;  // open without write access (daemon use)
  // LMDB map size to start with (0: 64 MiB, or the size the store already has). The map grows
  // on demand (doubling) up to max_map_size (0: 1 TiB); beyond it a write fails with kFull.
  uint64_t initial_map_size = 0;
  uint64_t max_map_size = 0;
};

// The schema version this build writes, and the newest it can read (docs/store-format.md). It
// also reads schema 1: a read-only open reads a v1 store as it is (and follows it when another
// process upgrades it); a writable open upgrades it to this version first, in one write
// transaction (a crash leaves the v1 store; the upgrade changes Generation()).
inline constexpr uint32_t kStoreSchemaVersion = 2;

// Store::Generation() while the data file is damaged: differs from every real generation, so a
// verdict cached before the damage is looked up again (and fails closed).
inline constexpr uint64_t kDamagedGeneration = UINT64_MAX;

// What Lookup loads besides the verdict.
struct LookupOptions {
  // false: Provenance.path may be left unloaded (has_path false; Store::FilePath gives it). A
  // path costs a second read of the file list (~0.25 us at 1M digests); the daemon needs one only
  // for a record bound to its path. Source id, mode and flags are always filled.
  bool paths = true;
};

// The answer to a digest lookup.
struct LookupResult {
  bool denied = false;                 // on the deny list: refuse, whatever else vouches
  std::vector<Provenance> provenance;  // records from *active* sources only
  bool known() const { return !provenance.empty(); }
};

struct StoreStats {
  uint64_t generation = 0;
  uint64_t digests = 0;  // distinct digests of active sources (records of the digests
                         // table: two digests sharing a 64-bit prefix count once)
  uint64_t provenance_records = 0;
  uint64_t deny_entries = 0;
  uint64_t bytes_on_disk = 0;                                      // size of the data file
  std::vector<std::pair<std::string, uint64_t>> digests_per_algo;  // ("sha256", n)
  std::vector<std::pair<std::string, uint64_t>> sources_per_kind;  // ("rpm", n), active only
};

// What to do with older versions of the same package when importing.
struct ImportOptions {
  bool keep_old = false;  // true: do not supersede older (package, arch) versions
};

struct ImportSummary {
  uint64_t source_id = 0;
  uint64_t files = 0;
  uint64_t new_digests = 0;
  std::vector<uint64_t> superseded;  // ids of sources this import superseded
  bool unchanged = false;            // an identical source (same blob digest) was already active
  // Package kinds (rpm, deb) only: a newer version of the same (package, arch) is active, so this
  // source was stored in state kSuperseded (its digests are not vouched for) instead of rolling the
  // package back.
  bool older = false;
};

class Store {
 public:
  // Opens (or with opts.create, creates) the store in `dir`. Errors: see above; kNotFound names
  // the directory and says how to create it.
  static Result<std::unique_ptr<Store>> Open(const std::string& dir, const StoreOptions& opts);
  virtual ~Store() = default;

  // Cheap (~15 ns, no transaction); see the contract above.
  virtual uint64_t Generation() const = 0;

  // Looks a digest up: the deny flag and one Provenance per (active source, path) that ships it.
  // Records of superseded or removed sources are not returned. An unknown digest is OK with no
  // provenance (not kNotFound). Errors: kInvalidArgument (algorithm without a kernel id, wrong
  // length), kCorrupt.
  virtual Result<LookupResult> Lookup(const Digest& d, const LookupOptions& opts) const = 0;
  Result<LookupResult> Lookup(const Digest& d) const { return Lookup(d, LookupOptions{}); }
  // The path of file `file_index` of source `source_id` (a Provenance's file_index), from the
  // current state of the store. kNotFound if the source or the file does not exist (any more: a
  // replaced local trust is deleted), kCorrupt.
  virtual Result<std::string> FilePath(uint64_t source_id, uint32_t file_index) const = 0;

  // Adds one source and its files in one transaction. A source with the same kind and blob digest
  // already active is left alone (summary.unchanged). For a package kind (rpm, deb), an active
  // source with the same (package, arch) and a different version is superseded unless
  // opts.keep_old: the newest version wins (rpm's or dpkg's version order, per kind); importing an
  // older one stores it superseded
  // (summary.older). item.source.id and .state are ignored (assigned); import_time 0 means now.
  // Files may come in any order; paths must be absolute and unique within the item.
  virtual Result<ImportSummary> Import(const ImportItem& item, const ImportOptions& opts) = 0;
  // Several sources in one transaction (import rpmdb: the store matches the list exactly if
  // remove_others is true: active sources of `kind` not in `items` are marked removed).
  virtual Result<std::vector<ImportSummary>> ImportAll(const std::vector<ImportItem>& items,
                                                       const ImportOptions& opts,
                                                       bool remove_others, SourceKind kind) = 0;

  // Marks a source removed; its digests stop counting. Removing a removed source is OK (no-op).
  // kNotFound for an unknown id.
  virtual Status RemoveSource(uint64_t id) = 0;
  // A source by decimal id, or by name: the active source with that name, else the newest with it.
  virtual Result<SourceInfo> FindSource(const std::string& id_or_name) const = 0;
  virtual Result<SourceInfo> GetSource(uint64_t id) const = 0;
  // All sources (every state), ordered by id.
  virtual Result<std::vector<SourceInfo>> ListSources() const = 0;
  // The files of one source, ordered by path.
  virtual Result<std::vector<FileEntry>> SourceFiles(uint64_t id) const = 0;

  // Trusts one local file (the mutable-file re-trust path): digest at path, kind kLocal.
  // Replaces any earlier local record for the same path.
  virtual Status TrustLocal(const std::string& path, const Digest& d, uint32_t mode) = 0;

  // Adds (or replaces the reason of) a deny entry.
  virtual Status DenyAdd(const Digest& d, const std::string& reason) = 0;
  // kNotFound if d is not on the list.
  virtual Status DenyRemove(const Digest& d) = 0;
  // Ordered by (algorithm id, digest bytes).
  virtual Result<std::vector<std::pair<Digest, std::string>>> DenyList() const = 0;

  // Scans the store (O(digests + sources)): for `digestctl stats`, not for hot paths.
  virtual Result<StoreStats> Stats() const = 0;
};

}  // namespace dfs
