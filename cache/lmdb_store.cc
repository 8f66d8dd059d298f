// cache/lmdb_store.cc: Store implemented on LMDB. Schema and encodings: cache/store_format.h and
// docs/store-format.md.
#include <fcntl.h>
#include <lmdb.h>
#include <setjmp.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string_view>

#include "cache/store.h"
#include "cache/store_format.h"
#include "common/fd.h"
#include "common/log.h"

namespace dfs {
namespace {

using namespace store_format;

constexpr uint64_t kDefaultMapSize = 64ull << 20;
constexpr uint64_t kDefaultMaxMapSize = 1ull << 40;
constexpr unsigned kMaxReaders = 1022;

Status LmdbError(int rc, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += mdb_strerror(rc);
  switch (rc) {
    case MDB_MAP_FULL:
      return Status(Code::kFull, std::move(msg));
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
    case MDB_BAD_VALSIZE:
      return Status(Code::kCorrupt, std::move(msg));
    case MDB_NOTFOUND:
      return Status(Code::kNotFound, std::move(msg));
    case MDB_READERS_FULL:
    case MDB_TXN_FULL:
    case MDB_MAP_RESIZED:
      return Status(Code::kUnavailable, std::move(msg));
    default:
      break;
  }
  if (rc > 0) return Status::FromErrno(rc, context);
  return Status(Code::kInternal, std::move(msg));
}

std::string_view View(const MDB_val& v) {
  return std::string_view(static_cast<const char*>(v.mv_data), v.mv_size);
}
MDB_val Val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }

// True if the file system holding dir has less than 16 MiB or 1% free.
bool DiskNearlyFull(const std::string& dir) {
  struct statvfs sv;
  if (::statvfs(dir.c_str(), &sv) != 0) return false;
  uint64_t avail = static_cast<uint64_t>(sv.f_bavail) * sv.f_frsize;
  uint64_t total = static_cast<uint64_t>(sv.f_blocks) * sv.f_frsize;
  return avail < (16ull << 20) || avail < total / 100;
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// LMDB's meta page layout (lmdb.h 0.9, 64-bit): a 16-byte page header (pgno u64, pad u16, flags
// u16, lower/upper u16 each), then MDB_meta: magic u32, version u32, address u64, mapsize u64, two
// MDB_db records (pad u32 - the page size in the free DB's record -, flags u16, depth u16,
// branch/leaf/overflow page counts u64, entries u64, root u64), last_pg u64, txnid u64.
constexpr size_t kMetaHdr = 16, kMetaLen = 136;

// Checks meta page `i` (its first kMetaHdr + kMetaLen bytes in buf) against a data file of
// file_size bytes. LMDB itself checks only the magic and the version, and trusts the page numbers:
// a damaged or truncated file would make it read outside the map (SIGSEGV) or past the end of the
// file (SIGBUS). psize: 0 for page 0 (read from it, returned in *psize), else page 0's size.
// *txnid: the page's transaction id.
Status CheckMetaRecord(const uint8_t* buf, uint64_t i, uint64_t file_size, const std::string& path,
                       uint64_t* psize, uint64_t* txnid, uint64_t* last_page = nullptr,
                       uint64_t* top_root = nullptr) {
  constexpr size_t kDb = 48;
  constexpr uint32_t kMagic = 0xBEEFC0DE;
  constexpr uint16_t kPMeta = 0x08;
  constexpr uint64_t kInvalid = ~0ull;
  auto u16 = [](const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
  };
  auto u32 = [](const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  };
  auto u64 = [](const uint8_t* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  };
  auto bad = [&](const std::string& why) {
    return Status(Code::kCorrupt,
                  path + ": LMDB meta page " + std::to_string(i) + " is damaged (" + why + ")");
  };
  if (u64(buf) != i) return bad("page number");
  if (!(u16(buf + 10) & kPMeta)) return bad("page flags");
  const uint8_t* m = buf + kMetaHdr;
  if (u32(m) != kMagic) return bad("magic");
  if (u32(m + 4) != 1) {
    return Status(Code::kCorrupt, path + ": LMDB data format version " +
                                      std::to_string(u32(m + 4)) +
                                      " is not the supported version 1");
  }
  // A fixed map address (MDB_FIXEDMAP, never used here) would tell LMDB where to map the file.
  if (u64(m + 8) != 0) return bad("map address");
  uint64_t ps = u32(m + 24);  // free DB's md_pad holds the page size
  if (i == 0) {
    if (ps < 512 || ps > 65536 || (ps & (ps - 1))) return bad("page size " + std::to_string(ps));
    *psize = ps;
    if (file_size < 2 * ps) {
      return Status(Code::kCorrupt, path + " is truncated: " + std::to_string(file_size) +
                                        " bytes, less than its two meta pages");
    }
  } else if (ps != *psize) {
    return bad("page size differs from meta page 0");
  }
  uint64_t mapsize = u64(m + 16);
  uint64_t last_pg = u64(m + 24 + 2 * kDb);
  if (last_pg < 1 || last_pg > (1ull << 40)) return bad("last page " + std::to_string(last_pg));
  uint64_t need = (last_pg + 1) * *psize;
  if (need > file_size) {
    return Status(Code::kCorrupt, path + " is truncated: " + std::to_string(file_size) +
                                      " bytes, its meta page " + std::to_string(i) + " needs " +
                                      std::to_string(need));
  }
  if (mapsize < need || mapsize > (1ull << 46)) return bad("map size " + std::to_string(mapsize));
  for (int d = 0; d < 2; ++d) {
    const uint8_t* db = m + 24 + d * kDb;
    uint16_t depth = u16(db + 6);
    uint64_t root = u64(db + 40);
    if (root == kInvalid) {
      if (depth != 0) return bad("empty table with depth");
    } else if (root < 2 || root > last_pg || depth == 0 || depth > 32) {
      return bad("table root " + std::to_string(root) + " depth " + std::to_string(depth));
    }
  }
  *txnid = u64(m + 24 + 2 * kDb + 8);
  if (last_page) *last_page = last_pg;
  if (top_root) {
    *top_root = 0;
    for (int d = 0; d < 2; ++d) {
      uint64_t root = u64(m + 24 + d * kDb + 40);
      if (root != kInvalid) *top_root = std::max(*top_root, root);
    }
  }
  return Status::Ok();
}

// Checks both meta pages of the data file open at fd (named path): read first, then the file's
// size, so that a writer extending the file before writing a meta page is never taken for a
// truncation. *txnid: the newer page's transaction id, the one a read transaction starts from
// (LMDB's last committed transaction). 2 preads and an fstat, no access to the map.
Status CheckMetaPagesAt(int fd, const std::string& path, uint64_t* txnid) {
  uint8_t buf[2][kMetaHdr + kMetaLen];
  uint64_t psize = 0, ids[2] = {0, 0};
  ssize_t n = ::pread(fd, buf[0], sizeof buf[0], 0);
  if (n < 0) return Status::FromErrno(errno, "reading " + path);
  uint32_t ps0;
  std::memcpy(&ps0, buf[0] + kMetaHdr + 24, 4);
  ssize_t n1 = 0;
  if (static_cast<size_t>(n) == sizeof buf[0] && ps0 >= 512 && ps0 <= 65536) {
    n1 = ::pread(fd, buf[1], sizeof buf[1], ps0);
    if (n1 < 0) return Status::FromErrno(errno, "reading " + path);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) return Status::FromErrno(errno, "fstat " + path);
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (static_cast<size_t>(n) != sizeof buf[0] || size < 2 * 512) {
    return Status(Code::kCorrupt, path + " is truncated (" + std::to_string(size) +
                                      " bytes, less than its two meta pages)");
  }
  DFS_RETURN_IF_ERROR(CheckMetaRecord(buf[0], 0, size, path, &psize, &ids[0]));
  if (static_cast<size_t>(n1) != sizeof buf[1]) {
    return Status(Code::kCorrupt, path + ": LMDB meta page 1 is damaged (short read)");
  }
  DFS_RETURN_IF_ERROR(CheckMetaRecord(buf[1], 1, size, path, &psize, &ids[1]));
  *txnid = std::max(ids[0], ids[1]);
  return Status::Ok();
}

// ---- reading the map without dying of SIGBUS ------------------------------------------------
// Touching a page of a MAP_SHARED mapping that lies past the end of the file raises SIGBUS. The
// store's checks read the map only through ProbeCopy, which turns that SIGBUS into `false`: a
// process-wide SIGBUS handler (installed once, by the first Store::Open) jumps back into
// ProbeCopy when the faulting thread is inside one, and otherwise puts back the handler that was
// there before and returns, so the access faults again and gets that handler (the default one
// dumps core as before). ProbeCopy holds no object with a destructor, so the jump skips nothing.

thread_local sigjmp_buf* t_probe = nullptr;
struct sigaction g_old_sigbus;

void OnSigbus(int sig, siginfo_t*, void*) {
  if (sigjmp_buf* jb = t_probe) {
    t_probe = nullptr;
    siglongjmp(*jb, 1);
  }
  ::sigaction(sig, &g_old_sigbus, nullptr);
}

void InstallSigbusGuard() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = OnSigbus;
    // SA_NODEFER: SIGBUS is not blocked in the handler, so jumping out of it (sigsetjmp without
    // saving the mask, which would cost a system call per probe) leaves the mask as it was.
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &g_old_sigbus);
  });
}

// Copies n bytes of the map at src to dst; false if that raised SIGBUS (the file is shorter).
bool ProbeCopy(uint8_t* dst, const uint8_t* src, size_t n) {
  sigjmp_buf jb;
  if (sigsetjmp(jb, 0) != 0) return false;
  t_probe = &jb;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  const volatile uint8_t* v = src;
  for (size_t i = 0; i < n; ++i) dst[i] = v[i];
  std::atomic_signal_fence(std::memory_order_seq_cst);
  t_probe = nullptr;
  return true;
}

// One open LMDB environment, shared by every Store object of this process for the same directory.
struct Env {
  std::string dir;
  dev_t dev = 0;
  ino_t ino = 0;
  pid_t pid = 0;
  bool read_only = false;
  uint64_t max_map = kDefaultMaxMapSize;
  MDB_env* env = nullptr;
  // data.mdb (the inode LMDB maps) and this Env's own read-only map of it, as long as LMDB's, for
  // Health(): LMDB does not tell where its map is, and pages of a shared file map are shared, so
  // a truncation shows in both. Set at open and by Remap/Grow; read under map_mu (shared).
  Fd data_fd;
  std::string data_path;  // dir + "/data.mdb"
  mutable const uint8_t* map = nullptr;
  mutable uint64_t map_len = 0;
  // 1 while Health() finds the data file damaged (for logging the change once each way).
  mutable std::atomic<int> damaged{0};
  MDB_dbi meta = 0, digests = 0, sources = 0, files = 0, names = 0, groups = 0, blobs = 0, deny = 0;

  // Lock order: write_mu, then map_mu, then pool_mu.
  // write_mu: held for a whole write method, so map growth never races another in-process writer.
  std::mutex write_mu;
  // map_mu: shared while any transaction of this process is live (and around mdb_env_info);
  // exclusive to remap (mdb_env_set_mapsize), which LMDB allows only with no live transaction.
  mutable std::shared_mutex map_mu;
  // pool_mu: guards pool, the reset read transactions kept for reuse (mdb_txn_renew is cheaper
  // than mdb_txn_begin and keeps the reader slot).
  mutable std::mutex pool_mu;
  mutable std::vector<MDB_txn*> pool;
  // The schema version read at open (a writable open upgrades a v1 store, see Store::Open).
  uint32_t schema_at_open = 0;
  // What the newest read transaction saw that only a write can change (see FactsOf), with its
  // transaction id: txnid << 16 | deny list non-empty << 8 | schema. A read-only open of a v1
  // store keeps working while a digestctl of this build upgrades it, and reads the new layout
  // from the upgrade's transaction on.
  mutable std::atomic<uint64_t> facts_seen{0};

  ~Env() {
    if (map) ::munmap(const_cast<uint8_t*>(map), map_len);
    for (MDB_txn* t : pool) mdb_txn_abort(t);
    if (env) mdb_env_close(env);
  }

  // Whether LMDB may touch the map now: both meta pages sane (CheckMetaRecord) and the file as
  // long as they say. LMDB trusts the file it maps: a data file damaged or truncated under a
  // mounted daemon would crash it (SIGSEGV on a page number outside the map, SIGBUS past the end
  // of the file). Called before every transaction and by Generation(), with map_mu held shared.
  // It reads the meta pages from the map and one byte of the highest root page they name, through
  // ProbeCopy (no system call: ~40 ns; 2 preads and an fstat cost 4 us on this VM). A meta page
  // naming a page past this process's map is left to LMDB (MDB_MAP_RESIZED, then Remap, and the
  // next call checks the page). A failed check is retried twice, 1 ms apart, since a writer in
  // another process may be rewriting a meta page as it is read. The change to damaged and back
  // is logged once each. *txnid: the last committed transaction.
  Status Health(uint64_t* txnid) const {
    Status s = Probe(txnid);
    for (int i = 0; i < 2 && !s.ok(); ++i) {
      ::usleep(1000);
      s = Probe(txnid);
    }
    if (!s.ok()) {
      if (damaged.exchange(1) == 0) {
        spdlog::error(
            "store_damaged store={} error={} (every decision that needs the store fails "
            "closed until data.mdb is sane again)",
            LogQuote(dir), LogQuote(s.message()));
      }
      return s;
    }
    if (damaged.exchange(0) == 1) {
      spdlog::warn("store_recovered store={} generation={}", LogQuote(dir), *txnid);
    }
    return s;
  }
  Status Health() const {
    uint64_t ignored;
    return Health(&ignored);
  }
  // One check of Health().
  Status Probe(uint64_t* txnid) const {
    const std::string& data = data_path;
    auto truncated = [&](uint64_t need) {
      struct stat st;
      std::string size = ::stat(data.c_str(), &st) == 0 ? std::to_string(st.st_size) : "?";
      return Status(Code::kCorrupt,
                    data + " is truncated: " + size + " bytes" +
                        (need ? ", its meta pages need " + std::to_string(need) : ""));
    };
    uint8_t buf[2][kMetaHdr + kMetaLen];
    if (!map || map_len < 2 * 512)
      return Status(Code::kIo, data + ": not mapped (see store_map_failed)");
    if (!ProbeCopy(buf[0], map, sizeof buf[0])) return truncated(0);
    uint64_t psize = 0, ids[2] = {0, 0}, last[2] = {0, 0}, root[2] = {0, 0};
    DFS_RETURN_IF_ERROR(
        CheckMetaRecord(buf[0], 0, UINT64_MAX, data, &psize, &ids[0], &last[0], &root[0]));
    if (2 * psize > map_len)
      return Status(Code::kCorrupt, data + ": page size larger than the map");
    if (!ProbeCopy(buf[1], map + psize, sizeof buf[1])) return truncated(0);
    DFS_RETURN_IF_ERROR(
        CheckMetaRecord(buf[1], 1, UINT64_MAX, data, &psize, &ids[1], &last[1], &root[1]));
    // The highest root page of either meta page: a page the tree reaches, so written. Not the
    // meta's last page number: LMDB counts pages a transaction allocated and gave back unwritten,
    // so a sane file can end a page before it (StoreConcurrency.ThreadsSeeWholeWrites failed on
    // that, 2 runs in 40, with writers and readers in one process).
    const uint64_t last_pg = std::max(root[0], root[1]);
    if ((last_pg + 1) * psize <= map_len) {
      uint8_t byte;
      if (!ProbeCopy(&byte, map + last_pg * psize, 1)) return truncated((last_pg + 1) * psize);
    }
    *txnid = std::max(ids[0], ids[1]);
    return Status::Ok();
  }
  // Maps data.mdb as long as LMDB's map is now (after an open or a remap). Without a map (mmap
  // failed), Health() fails closed.
  void NoteMap() const {
    MDB_envinfo info;
    mdb_env_info(env, &info);
    if (map && map_len == info.me_mapsize) return;
    if (map) ::munmap(const_cast<uint8_t*>(map), map_len);
    map = nullptr;
    map_len = 0;
    void* m = ::mmap(nullptr, info.me_mapsize, PROT_READ, MAP_SHARED, data_fd.get(), 0);
    if (m == MAP_FAILED) {
      spdlog::error("store_map_failed store={} error={}", LogQuote(dir),
                    LogQuote(std::strerror(errno)));
      return;
    }
    map = static_cast<const uint8_t*>(m);
    map_len = info.me_mapsize;
  }

  // Adopts a map size another process set (after MDB_MAP_RESIZED).
  Status Remap() const {
    std::unique_lock lock(map_mu);
    DropPool();
    int rc = mdb_env_set_mapsize(env, 0);
    if (rc) return LmdbError(rc, "adopting the store's new map size in " + dir);
    NoteMap();
    MDB_envinfo info;
    mdb_env_info(env, &info);
    spdlog::info("store map resized by another process dir={} size={}", LogQuote(dir),
                 info.me_mapsize);
    return Status::Ok();
  }
  // Doubles the map (after MDB_MAP_FULL).
  Status Grow() const {
    std::unique_lock lock(map_mu);
    DropPool();
    MDB_envinfo info;
    mdb_env_info(env, &info);
    uint64_t cur = info.me_mapsize;
    if (cur >= max_map) {
      return Status(Code::kFull, "store " + dir + " is full: map size " + std::to_string(cur) +
                                     " bytes reached the limit");
    }
    uint64_t next = std::min<uint64_t>(cur * 2, max_map);
    int rc = mdb_env_set_mapsize(env, next);
    if (rc == ENOMEM) {
      return Status(Code::kFull,
                    "store " + dir + ": cannot map " + std::to_string(next) + " bytes");
    }
    if (rc) return LmdbError(rc, "growing the map of " + dir);
    NoteMap();
    spdlog::info("store map grown dir={} from={} to={}", LogQuote(dir), cur, next);
    return Status::Ok();
  }
  // Pooled read txns hold no snapshot but belong to the old map; drop them before remapping.
  void DropPool() const {
    std::lock_guard g(pool_mu);
    for (MDB_txn* t : pool) mdb_txn_abort(t);
    pool.clear();
  }
};

std::mutex g_registry_mu;
std::map<std::pair<dev_t, ino_t>, std::weak_ptr<Env>> g_registry;  // guarded by g_registry_mu

// A read transaction: holds map_mu shared while alive. RAII.
class ReadTxn {
 public:
  explicit ReadTxn(const Env* e) : e_(e) {}
  ~ReadTxn() {
    if (!txn_) return;
    mdb_txn_reset(txn_);
    {
      std::lock_guard g(e_->pool_mu);
      e_->pool.push_back(txn_);
    }
    e_->map_mu.unlock_shared();
  }
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;

  Status Begin() {
    for (int attempt = 0; attempt < 8; ++attempt) {
      e_->map_mu.lock_shared();
      if (Status h = e_->Health(); !h.ok()) {
        e_->map_mu.unlock_shared();
        return h;
      }
      MDB_txn* t = nullptr;
      {
        std::lock_guard g(e_->pool_mu);
        if (!e_->pool.empty()) {
          t = e_->pool.back();
          e_->pool.pop_back();
        }
      }
      int rc;
      if (t) {
        rc = mdb_txn_renew(t);
        if (rc) mdb_txn_abort(t);
      } else {
        rc = mdb_txn_begin(e_->env, nullptr, MDB_RDONLY, &t);
      }
      if (rc == 0) {
        txn_ = t;
        return Status::Ok();
      }
      e_->map_mu.unlock_shared();
      if (rc != MDB_MAP_RESIZED) return LmdbError(rc, "reading store " + e_->dir);
      DFS_RETURN_IF_ERROR(e_->Remap());
    }
    return Status(Code::kUnavailable, "store " + e_->dir + " keeps being resized");
  }
  MDB_txn* get() const { return txn_; }

 private:
  const Env* e_;
  MDB_txn* txn_ = nullptr;
};

// A cursor, closed at scope end. RAII.
class Cursor {
 public:
  Cursor(MDB_txn* txn, MDB_dbi dbi) { rc_ = mdb_cursor_open(txn, dbi, &c_); }
  ~Cursor() {
    if (c_) mdb_cursor_close(c_);
  }
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  int open_rc() const { return rc_; }
  MDB_cursor* get() const { return c_; }

 private:
  MDB_cursor* c_ = nullptr;
  int rc_ = 0;
};

// Reads one value; found=false for MDB_NOTFOUND.
Status Get(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::string_view* out, bool* found) {
  MDB_val k = Val(key), v;
  int rc = mdb_get(txn, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) {
    *found = false;
    return Status::Ok();
  }
  if (rc) return LmdbError(rc, "reading the store");
  *found = true;
  *out = View(v);
  return Status::Ok();
}

// All source ids under one key of a DUPSORT|DUPFIXED index.
Status ReadIds(MDB_txn* txn, MDB_dbi dbi, std::string_view key, std::vector<uint64_t>* out) {
  out->clear();
  Cursor c(txn, dbi);
  if (c.open_rc()) return LmdbError(c.open_rc(), "opening an index cursor");
  MDB_val k = Val(key), v;
  int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_KEY);
  while (rc == 0) {
    if (v.mv_size != 8) return Status(Code::kCorrupt, "store index value has the wrong size");
    out->push_back(GetU64BE(static_cast<const uint8_t*>(v.mv_data)));
    rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT_DUP);
  }
  if (rc != MDB_NOTFOUND) return LmdbError(rc, "reading an index");
  return Status::Ok();
}

// What a transaction sees that only a write can change: the schema version and whether the deny
// list is empty. Cheap: read from meta and the deny table's root record only when the transaction
// id differs from the one cached (after a write), else one atomic load.
struct TxnFacts {
  uint32_t schema = 0;
  bool deny_empty = true;
};
Result<TxnFacts> FactsOf(MDB_txn* txn, const Env& e) {
  const uint64_t id = mdb_txn_id(txn);
  const uint64_t seen = e.facts_seen.load(std::memory_order_acquire);
  TxnFacts f;
  if (seen >> 16 == id && (seen & 0xff) != 0) {
    f.schema = static_cast<uint32_t>(seen & 0xff);
    f.deny_empty = !(seen & 0x100);
    return f;
  }
  std::string_view v;
  bool found;
  DFS_RETURN_IF_ERROR(Get(txn, e.meta, "schema", &v, &found));
  if (!found || v.size() != 4 || !Reader(v).U32LE(&f.schema) || f.schema < kOldestSchemaVersion ||
      f.schema > kSchemaVersion) {
    return Status(Code::kVersion,
                  e.dir + "/data.mdb: meta record 'schema' changed to an unreadable version");
  }
  MDB_stat ds;
  int rc = mdb_stat(txn, e.deny, &ds);
  if (rc) return LmdbError(rc, "reading the deny list");
  f.deny_empty = ds.ms_entries == 0;
  if (id < (1ull << 47)) {
    // Only ever moves forward, so a slow thread cannot put back an older transaction's facts.
    const uint64_t want = id << 16 | (f.deny_empty ? 0 : 0x100) | f.schema;
    uint64_t cur = seen;
    while (cur >> 16 < id &&
           !e.facts_seen.compare_exchange_weak(cur, want, std::memory_order_acq_rel)) {
    }
  }
  return f;
}

struct SourceRec {
  SourceInfo info;
  uint64_t file_count = 0;
};

Status GetSourceTx(MDB_txn* txn, const Env& e, uint64_t id, SourceRec* out) {
  std::string_view v;
  bool found;
  DFS_RETURN_IF_ERROR(Get(txn, e.sources, SourceKey(id), &v, &found));
  if (!found) return Status(Code::kNotFound, "no source with id " + std::to_string(id));
  Status s = DecodeSource(v, &out->info, &out->file_count);
  if (!s.ok()) return s.Prepend("source " + std::to_string(id));
  out->info.id = id;
  return Status::Ok();
}

// With offsets: also each file's entry offset in its chunk (what its digest reference holds).
Status SourceFilesTx(MDB_txn* txn, const Env& e, uint64_t id, uint64_t count,
                     std::vector<FileEntry>* out, std::vector<uint32_t>* offsets = nullptr) {
  out->clear();
  out->reserve(count);
  if (offsets) offsets->clear();
  std::vector<uint32_t> part_offsets;
  uint32_t chunks = static_cast<uint32_t>((count + kChunkEntries - 1) / kChunkEntries);
  std::vector<FileEntry> part;
  for (uint32_t c = 0; c < chunks; ++c) {
    std::string_view v;
    bool found;
    DFS_RETURN_IF_ERROR(Get(txn, e.files, ChunkKey(id, c), &v, &found));
    if (!found) {
      return Status(Code::kCorrupt, "source " + std::to_string(id) + ": file chunk " +
                                        std::to_string(c) + " is missing");
    }
    DFS_RETURN_IF_ERROR(DecodeChunk(v, &part, offsets ? &part_offsets : nullptr));
    for (auto& f : part) out->push_back(std::move(f));
    if (offsets) offsets->insert(offsets->end(), part_offsets.begin(), part_offsets.end());
  }
  if (out->size() != count) {
    return Status(Code::kCorrupt, "source " + std::to_string(id) + ": file list has " +
                                      std::to_string(out->size()) + " entries, expected " +
                                      std::to_string(count));
  }
  return Status::Ok();
}

// A write transaction and the bookkeeping RunWrite needs.
struct WriteTxn {
  const Env* e;
  MDB_txn* txn = nullptr;
  bool map_full = false;  // a put hit MDB_MAP_FULL: RunWrite grows the map and retries
  bool changed = false;   // something was written: commit (else abort)

  Status Check(int rc, std::string_view what) {
    if (rc == MDB_MAP_FULL) {
      map_full = true;
      return Status(Code::kFull, "store map full");
    }
    if (rc) return LmdbError(rc, what);
    return Status::Ok();
  }
  Status Put(MDB_dbi dbi, std::string_view key, std::string_view val, unsigned flags = 0) {
    MDB_val k = Val(key), v = Val(val);
    int rc = mdb_put(txn, dbi, &k, &v, flags);
    if (rc == MDB_KEYEXIST && (flags & MDB_NODUPDATA)) return Status::Ok();
    DFS_RETURN_IF_ERROR(Check(rc, "writing the store"));
    changed = true;
    return Status::Ok();
  }
  // Deletes a key (val == nullptr) or one duplicate; absent is not an error.
  Status Del(MDB_dbi dbi, std::string_view key, const std::string_view* val = nullptr) {
    MDB_val k = Val(key), v;
    if (val) v = Val(*val);
    int rc = mdb_del(txn, dbi, &k, val ? &v : nullptr);
    if (rc == MDB_NOTFOUND) return Status::Ok();
    DFS_RETURN_IF_ERROR(Check(rc, "deleting from the store"));
    changed = true;
    return Status::Ok();
  }
  Status PutSource(const SourceRec& r) {
    return Put(e->sources, SourceKey(r.info.id), EncodeSource(r.info, r.file_count));
  }
};

class LmdbStore final : public Store {
 public:
  explicit LmdbStore(std::shared_ptr<Env> env) : e_(std::move(env)) {}

  // Brings an older store to this build's schema in one write transaction (a crash leaves the
  // old store). 1 -> 2: each digest reference gains its entry's offset in the chunk, so the
  // digests table is rebuilt from the file lists of the active sources. Nothing is written if
  // another process upgraded the store first.
  Status Upgrade() {
    return RunWrite([&](WriteTxn& w) -> Status {
      std::string_view v;
      bool found;
      DFS_RETURN_IF_ERROR(Get(w.txn, e_->meta, "schema", &v, &found));
      uint32_t schema = 0;
      if (!found || v.size() != 4 || !Reader(v).U32LE(&schema) || schema == 0) {
        return Status(Code::kCorrupt, e_->dir + "/data.mdb: meta record 'schema' is malformed");
      }
      if (schema >= kSchemaVersion) return Status::Ok();
      DFS_RETURN_IF_ERROR(w.Check(mdb_drop(w.txn, e_->digests, 0), "emptying the digests table"));
      w.changed = true;
      std::vector<SourceRec> active;
      DFS_RETURN_IF_ERROR(ScanSources(w.txn, [&](SourceRec& r) {
        if (r.info.state == SourceState::kActive) active.push_back(r);
      }));
      Pending p;
      uint64_t refs = 0, digests = 0;
      std::vector<FileEntry> files;
      std::vector<uint32_t> offsets;
      for (const SourceRec& r : active) {
        DFS_RETURN_IF_ERROR(SourceFilesTx(w.txn, *e_, r.info.id, r.file_count, &files, &offsets));
        DFS_RETURN_IF_ERROR(QueueRefs(&p, r.info.id, files, offsets, &digests));
        refs += files.size();
      }
      DFS_RETURN_IF_ERROR(ApplyRefs(w, &p));
      std::string sv;
      PutU32LE(&sv, kSchemaVersion);
      DFS_RETURN_IF_ERROR(w.Put(e_->meta, "schema", sv));
      spdlog::info("store upgraded dir={} from_schema={} to_schema={} sources={} refs={}",
                   LogQuote(e_->dir), schema, kSchemaVersion, active.size(), refs);
      return Status::Ok();
    });
  }

  uint64_t Generation() const override {
    std::shared_lock lock(e_->map_mu);
    uint64_t txnid = 0;
    if (!e_->Health(&txnid).ok()) return kDamagedGeneration;
    return txnid;
  }

  // The hot path (every verdict): one read transaction, one search of `digests`, one of `files`
  // per reference; the key lives on the stack and nothing is allocated until a file matches.
  using Store::Lookup;
  Result<LookupResult> Lookup(const Digest& d, const LookupOptions& opts) const override {
    char kbuf[kMaxDigestKey];
    DFS_ASSIGN_OR_RETURN(size_t klen, DigestKeyInto(d, kbuf));
    const std::string_view key(kbuf, klen);
    ReadTxn rt(e_.get());
    DFS_RETURN_IF_ERROR(rt.Begin());
    LookupResult res;
    std::string_view v;
    bool found;
    // The deny list is usually empty: knowing it (cached per transaction id) saves a B-tree
    // search per lookup then.
    DFS_ASSIGN_OR_RETURN(const TxnFacts facts, FactsOf(rt.get(), *e_));
    if (!facts.deny_empty) {
      DFS_RETURN_IF_ERROR(Get(rt.get(), e_->deny, key, &v, &found));
      res.denied = found;
    }
    DFS_RETURN_IF_ERROR(Get(rt.get(), e_->digests, key.substr(0, 1 + kIndexPrefix), &v, &found));
    if (!found) return res;
    const uint32_t schema = facts.schema;
    // The references are read in place.
    Reader refs(v);
    FileRef ref;
    Status bad;
    size_t nrefs = 0;
    while (NextRef(&refs, schema, &ref, &bad)) {
      ++nrefs;
      char ck[12];
      for (int i = 0; i < 8; ++i) ck[i] = static_cast<char>(ref.source_id >> (56 - 8 * i));
      const uint32_t chunk = ref.index / kChunkEntries;
      for (int i = 0; i < 4; ++i) ck[8 + i] = static_cast<char>(chunk >> (24 - 8 * i));
      std::string_view cv;
      DFS_RETURN_IF_ERROR(Get(rt.get(), e_->files, std::string_view(ck, sizeof ck), &cv, &found));
      if (!found) {
        return Status(Code::kCorrupt, "digest " + d.ToString() +
                                          " refers to a missing file of source " +
                                          std::to_string(ref.source_id));
      }
      const uint32_t in_chunk = ref.index % kChunkEntries;
      // The index key is a prefix: only an entry with the whole digest counts.
      Provenance p;
      p.source_id = ref.source_id;
      p.file_index = ref.index;
      bool match = false;
      if (schema >= 2) {
        // The ref says where the entry starts: one touch of the chunk confirms the digest. The
        // path needs the chunk's restart table (loaded in parallel with the entry).
        if (opts.paths) __builtin_prefetch(cv.data());
        DFS_RETURN_IF_ERROR(MatchEntryAt(cv, ref.offset, key, &p.mode, &p.flags, &match));
        if (match && opts.paths) {
          DFS_RETURN_IF_ERROR(ChunkEntryPath(cv, in_chunk, ref.offset, &p.path));
        } else {
          p.has_path = false;
        }
      } else {
        // Schema 1 (a read-only open of a store not yet upgraded): find the entry from the
        // chunk's restart table. Start loading the entry's page before the header is read (the
        // position is guessed: a full chunk, entries of equal size).
        __builtin_prefetch(cv.data() +
                           cv.size() / kChunkEntries * (in_chunk - in_chunk % kRestartInterval));
        DFS_RETURN_IF_ERROR(MatchChunkEntry(cv, in_chunk, key, &p.path, &p.mode, &p.flags, &match));
      }
      if (match) res.provenance.push_back(std::move(p));
    }
    DFS_RETURN_IF_ERROR(bad);
    if (nrefs == 0)
      return Status(Code::kCorrupt, "store record is malformed: empty digest provenance list");
    return res;
  }

  Result<std::string> FilePath(uint64_t source_id, uint32_t file_index) const override {
    ReadTxn rt(e_.get());
    DFS_RETURN_IF_ERROR(rt.Begin());
    std::string_view v;
    bool found;
    DFS_RETURN_IF_ERROR(
        Get(rt.get(), e_->files, ChunkKey(source_id, file_index / kChunkEntries), &v, &found));
    if (!found) {
      return Status(Code::kNotFound, "source " + std::to_string(source_id) + " has no file " +
                                         std::to_string(file_index));
    }
    FileEntry fe;
    Status s = DecodeChunkEntry(v, file_index % kChunkEntries, &fe);
    if (s.ok()) return std::move(fe.path);
    // An index past the end of the last chunk is a caller's stale reference, not damage.
    std::vector<FileEntry> all;
    if (DecodeChunk(v, &all).ok() && file_index % kChunkEntries >= all.size()) {
      return Status(Code::kNotFound, "source " + std::to_string(source_id) + " has no file " +
                                         std::to_string(file_index));
    }
    return s.Prepend("source " + std::to_string(source_id));
  }

  Result<ImportSummary> Import(const ImportItem& item, const ImportOptions& opts) override {
    ImportSummary sum;
    DFS_RETURN_IF_ERROR(RunWrite([&](WriteTxn& w) {
      sum = ImportSummary{};
      return ImportOneTx(w, item, opts, &sum);
    }));
    return sum;
  }

  Result<std::vector<ImportSummary>> ImportAll(const std::vector<ImportItem>& items,
                                               const ImportOptions& opts, bool remove_others,
                                               SourceKind kind) override {
    std::vector<ImportSummary> sums;
    DFS_RETURN_IF_ERROR(RunWrite([&](WriteTxn& w) -> Status {
      sums.assign(items.size(), ImportSummary{});
      std::vector<uint64_t> keep;
      Pending pending;
      pending_ = &pending;
      struct Reset {
        Pending** p;
        ~Reset() { *p = nullptr; }
      } reset{&pending_};
      for (size_t i = 0; i < items.size(); ++i) {
        Status s = ImportOneTx(w, items[i], opts, &sums[i]);
        if (!s.ok())
          return s.Prepend("item " + std::to_string(i) + " (" + items[i].source.name + ")");
        keep.push_back(sums[i].source_id);
      }
      pending_ = nullptr;
      DFS_RETURN_IF_ERROR(ApplyRefs(w, &pending));
      if (!remove_others) return Status::Ok();
      std::sort(keep.begin(), keep.end());
      std::vector<SourceRec> victims;
      DFS_RETURN_IF_ERROR(ScanSources(w.txn, [&](SourceRec& r) {
        if (r.info.kind == kind && r.info.state == SourceState::kActive &&
            !std::binary_search(keep.begin(), keep.end(), r.info.id)) {
          victims.push_back(r);
        }
      }));
      for (SourceRec& r : victims) DFS_RETURN_IF_ERROR(Retire(w, &r, SourceState::kRemoved));
      return Status::Ok();
    }));
    return sums;
  }

  Status RemoveSource(uint64_t id) override {
    return RunWrite([&](WriteTxn& w) -> Status {
      SourceRec r;
      DFS_RETURN_IF_ERROR(GetSourceTx(w.txn, *e_, id, &r));
      if (r.info.state == SourceState::kRemoved) return Status::Ok();
      return Retire(w, &r, SourceState::kRemoved);
    });
  }

  Result<SourceInfo> FindSource(const std::string& id_or_name) const override {
    if (id_or_name.empty()) return Status(Code::kInvalidArgument, "empty source name");
    ReadTxn rt(e_.get());
    DFS_RETURN_IF_ERROR(rt.Begin());
    if (id_or_name.find_first_not_of("0123456789") == std::string::npos && id_or_name.size() < 20) {
      SourceRec r;
      Status s = GetSourceTx(rt.get(), *e_, std::stoull(id_or_name), &r);
      if (s.ok()) return r.info;
      if (s.code() != Code::kNotFound) return s;
    }
    SourceRec best;
    DFS_RETURN_IF_ERROR(FindByNameTx(rt.get(), id_or_name, SourceKind{}, false, &best));
    if (best.info.id == 0) {
      return Status(Code::kNotFound, "no source with id or name '" + id_or_name + "'");
    }
    return best.info;
  }

  Result<SourceInfo> GetSource(uint64_t id) const override {
    ReadTxn rt(e_.get());
    DFS_RETURN_IF_ERROR(rt.Begin());
    SourceRec r;
    DFS_RETURN_IF_ERROR(GetSourceTx(rt.get(), *e_, id, &r));
    return r.info;
  }

  Result<std::vector<SourceInfo>> ListSources() const override {
    ReadTxn rt(e_.get());
    DFS_RETURN_IF_ERROR(rt.Begin());
    std::vector<SourceInfo> out;
    DFS_RETURN_IF_ERROR(ScanSources(rt.get(), [&](SourceRec& r) { out.push_back(r.info); }));
    return out;
  }

  Result<std::vector<FileEntry>> SourceFiles(uint64_t id) const override {
    ReadTxn rt(e_.get());
    DFS_RETURN_IF_ERROR(rt.Begin());
    SourceRec r;
    DFS_RETURN_IF_ERROR(GetSourceTx(rt.get(), *e_, id, &r));
    std::vector<FileEntry> out;
    DFS_RETURN_IF_ERROR(SourceFilesTx(rt.get(), *e_, id, r.file_count, &out));
    return out;
  }

  Status TrustLocal(const std::string& path, const Digest& d, uint32_t mode) override {
    ImportItem item;
    item.source.kind = SourceKind::kLocal;
    item.source.name = path;
    item.source.origin = "local";
    item.files.push_back(FileEntry{d, path, mode, kFileMutable});
    return RunWrite([&](WriteTxn& w) -> Status {
      // Earlier local records for this path are deleted outright (not kept as removed), so
      // re-trusting a file that changes often does not grow the store.
      SourceRec old;
      for (;;) {
        old = SourceRec{};
        DFS_RETURN_IF_ERROR(FindByNameTx(w.txn, path, SourceKind::kLocal, true, &old));
        if (old.info.id == 0) break;
        DFS_RETURN_IF_ERROR(DeleteSource(w, old));
      }
      ImportSummary sum;
      return ImportOneTx(w, item, ImportOptions{}, &sum);
    });
  }

  Status DenyAdd(const Digest& d, const std::string& reason) override {
    DFS_ASSIGN_OR_RETURN(std::string key, DigestKey(d));
    return RunWrite([&](WriteTxn& w) {
      return w.Put(e_->deny, key, EncodeDeny(static_cast<int64_t>(std::time(nullptr)), reason));
    });
  }

  Status DenyRemove(const Digest& d) override {
    DFS_ASSIGN_OR_RETURN(std::string key, DigestKey(d));
    return RunWrite([&](WriteTxn& w) -> Status {
      std::string_view v;
      bool found;
      DFS_RETURN_IF_ERROR(Get(w.txn, e_->deny, key, &v, &found));
      if (!found) return Status(Code::kNotFound, d.ToString() + " is not on the deny list");
      return w.Del(e_->deny, key);
    });
  }

  Result<std::vector<std::pair<Digest, std::string>>> DenyList() const override {
    ReadTxn rt(e_.get());
    DFS_RETURN_IF_ERROR(rt.Begin());
    std::vector<std::pair<Digest, std::string>> out;
    Cursor c(rt.get(), e_->deny);
    if (c.open_rc()) return LmdbError(c.open_rc(), "reading the deny list");
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      DFS_ASSIGN_OR_RETURN(Digest d, DecodeDigestKey(View(k)));
      int64_t t;
      std::string reason;
      DFS_RETURN_IF_ERROR(DecodeDeny(View(v), &t, &reason));
      out.emplace_back(std::move(d), std::move(reason));
    }
    if (rc != MDB_NOTFOUND) return LmdbError(rc, "reading the deny list");
    return out;
  }

  Result<StoreStats> Stats() const override {
    StoreStats st;
    st.generation = Generation();
    ReadTxn rt(e_.get());
    DFS_RETURN_IF_ERROR(rt.Begin());
    std::map<std::string, uint64_t> per_algo, per_kind;
    {
      Cursor c(rt.get(), e_->digests);
      if (c.open_rc()) return LmdbError(c.open_rc(), "reading digests");
      MDB_val k, v;
      int rc;
      std::vector<FileRef> refs;
      DFS_ASSIGN_OR_RETURN(const TxnFacts facts, FactsOf(rt.get(), *e_));
      const uint32_t schema = facts.schema;
      for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
           rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
        if (k.mv_size == 0) return Status(Code::kCorrupt, "empty digest key");
        HashAlgo a = HashAlgoFromKernelId(*static_cast<const uint8_t*>(k.mv_data));
        per_algo[std::string(HashAlgoName(a))]++;
        DFS_RETURN_IF_ERROR(DecodeRefs(View(v), &refs, schema));
        st.digests++;
        st.provenance_records += refs.size();
      }
      if (rc != MDB_NOTFOUND) return LmdbError(rc, "reading digests");
    }
    DFS_RETURN_IF_ERROR(ScanSources(rt.get(), [&](SourceRec& r) {
      if (r.info.state == SourceState::kActive) per_kind[SourceKindName(r.info.kind)]++;
    }));
    MDB_stat ms;
    mdb_stat(rt.get(), e_->deny, &ms);
    st.deny_entries = ms.ms_entries;
    struct stat sb;
    if (::stat((e_->dir + "/data.mdb").c_str(), &sb) == 0) st.bytes_on_disk = sb.st_size;
    st.digests_per_algo.assign(per_algo.begin(), per_algo.end());
    st.sources_per_kind.assign(per_kind.begin(), per_kind.end());
    return st;
  }

 private:
  // Runs fn in one write transaction, growing the map and retrying on MDB_MAP_FULL, adopting a
  // map another process grew on MDB_MAP_RESIZED. Commits only if fn wrote something, and stamps
  // meta["generation"] with the transaction id (== Generation() after the commit).
  template <typename F>
  Status RunWrite(F&& fn) {
    if (e_->read_only) {
      return Status(Code::kPermissionDenied, "store " + e_->dir + " is open read-only");
    }
    std::lock_guard wl(e_->write_mu);
    // Free the reader slots of processes that died inside a read transaction; a stale slot pins
    // old pages and makes the file grow.
    int dead = 0;
    mdb_reader_check(e_->env, &dead);
    if (dead > 0)
      spdlog::info("store cleared stale readers dir={} count={}", LogQuote(e_->dir), dead);
    for (int attempt = 0; attempt < 64; ++attempt) {
      std::shared_lock ml(e_->map_mu);
      DFS_RETURN_IF_ERROR(e_->Health());
      WriteTxn w{e_.get()};
      int rc = mdb_txn_begin(e_->env, nullptr, 0, &w.txn);
      if (rc == MDB_MAP_RESIZED) {
        ml.unlock();
        DFS_RETURN_IF_ERROR(e_->Remap());
        continue;
      }
      if (rc) return LmdbError(rc, "starting a write to store " + e_->dir);
      Status s = fn(w);
      if (s.ok() && w.changed) {
        std::string g;
        PutU64LE(&g, mdb_txn_id(w.txn));
        s = w.Put(e_->meta, "generation", g);
      }
      if (w.map_full) {
        mdb_txn_abort(w.txn);
        ml.unlock();
        DFS_RETURN_IF_ERROR(e_->Grow());
        continue;
      }
      if (!s.ok() || !w.changed) {
        mdb_txn_abort(w.txn);
        return s;
      }
      rc = mdb_txn_commit(w.txn);  // frees the txn whatever the outcome
      if (rc == MDB_MAP_FULL) {
        ml.unlock();
        DFS_RETURN_IF_ERROR(e_->Grow());
        continue;
      }
      if (rc == ENOSPC || rc == EDQUOT || (rc == EIO && DiskNearlyFull(e_->dir))) {
        // LMDB reports a short write as EIO; a file system with (almost) no room left explains it.
        return Status(Code::kFull, "store " + e_->dir + ": disk full while committing", ENOSPC);
      }
      if (rc) return LmdbError(rc, "committing to store " + e_->dir);
      return Status::Ok();
    }
    return Status(Code::kFull, "store " + e_->dir + ": write did not fit after growing the map");
  }

  template <typename F>
  Status ScanSources(MDB_txn* txn, F&& fn) const {
    Cursor c(txn, e_->sources);
    if (c.open_rc()) return LmdbError(c.open_rc(), "reading sources");
    MDB_val k, v;
    int rc;
    for (rc = mdb_cursor_get(c.get(), &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c.get(), &k, &v, MDB_NEXT)) {
      if (k.mv_size != 8) return Status(Code::kCorrupt, "source key has the wrong size");
      SourceRec r;
      r.info.id = GetU64BE(static_cast<const uint8_t*>(k.mv_data));
      Status s = DecodeSource(View(v), &r.info, &r.file_count);
      if (!s.ok()) return s.Prepend("source " + std::to_string(r.info.id));
      fn(r);
    }
    if (rc != MDB_NOTFOUND) return LmdbError(rc, "reading sources");
    return Status::Ok();
  }

  // The source named `name`: the active one if any, else the newest. With only_kind, only sources
  // of `kind` (and only active ones) count. out->info.id stays 0 if there is none.
  Status FindByNameTx(MDB_txn* txn, const std::string& name, SourceKind kind, bool only_kind,
                      SourceRec* out) const {
    std::vector<uint64_t> ids;
    DFS_RETURN_IF_ERROR(ReadIds(txn, e_->names, IndexKey(name), &ids));
    for (uint64_t id : ids) {
      SourceRec r;
      DFS_RETURN_IF_ERROR(GetSourceTx(txn, *e_, id, &r));
      if (r.info.name != name) continue;
      bool active = r.info.state == SourceState::kActive;
      if (only_kind && (r.info.kind != kind || !active)) continue;
      bool best_active = out->info.id != 0 && out->info.state == SourceState::kActive;
      if (out->info.id == 0 || (active && !best_active) ||
          (active == best_active && id > out->info.id)) {
        *out = std::move(r);
      }
    }
    return Status::Ok();
  }

  Status NextSourceId(WriteTxn& w, uint64_t* id) {
    std::string_view v;
    bool found;
    DFS_RETURN_IF_ERROR(Get(w.txn, e_->meta, "next_source_id", &v, &found));
    if (!found || v.size() != 8)
      return Status(Code::kCorrupt, "meta next_source_id is missing or malformed");
    Reader r(v);
    uint64_t next;
    r.U64LE(&next);
    if (next == 0) return Status(Code::kCorrupt, "meta next_source_id is 0");
    *id = next;
    std::string nv;
    PutU64LE(&nv, next + 1);
    return w.Put(e_->meta, "next_source_id", nv);
  }

  // References waiting to be added to the digests table. ImportAll collects those of all its
  // items and adds them in one sorted pass (one cursor walking the table in key order); a single
  // Import does the same for its own files.
  struct PendingRef {
    std::string key;  // DigestIndexKey
    uint64_t sid;
    uint32_t idx;
    uint32_t off;  // the entry's offset in its chunk
  };
  struct Pending {
    std::vector<PendingRef> refs;
    std::map<uint64_t, uint64_t*> new_digests;  // source id -> its summary's counter
  };

  // offsets[i]: the byte offset of file i's entry in its chunk.
  Status QueueRefs(Pending* p, uint64_t sid, const std::vector<FileEntry>& files,
                   const std::vector<uint32_t>& offsets, uint64_t* new_digests) {
    if (offsets.size() != files.size())
      return Status(Code::kInternal, "file entry offsets missing");
    for (uint32_t i = 0; i < files.size(); ++i) {
      DFS_ASSIGN_OR_RETURN(std::string k, DigestKey(files[i].digest));
      p->refs.push_back(PendingRef{DigestIndexKey(k), sid, i, offsets[i]});
    }
    p->new_digests[sid] = new_digests;
    return Status::Ok();
  }

  Status ApplyRefs(WriteTxn& w, Pending* p) {
    std::sort(p->refs.begin(), p->refs.end(), [](const PendingRef& a, const PendingRef& b) {
      if (a.key != b.key) return a.key < b.key;
      return a.sid != b.sid ? a.sid < b.sid : a.idx < b.idx;
    });
    Cursor c(w.txn, e_->digests);
    if (c.open_rc()) return LmdbError(c.open_rc(), "writing digests");
    std::vector<FileRef> refs;
    std::string val;
    for (size_t i = 0; i < p->refs.size();) {
      const std::string& key = p->refs[i].key;
      MDB_val k = Val(key), v;
      int rc = mdb_cursor_get(c.get(), &k, &v, MDB_SET_KEY);
      refs.clear();
      if (rc == 0) {
        DFS_RETURN_IF_ERROR(DecodeRefs(View(v), &refs));
      } else if (rc == MDB_NOTFOUND) {
        auto it = p->new_digests.find(p->refs[i].sid);
        if (it != p->new_digests.end()) ++*it->second;
      } else {
        return LmdbError(rc, "reading digests");
      }
      size_t j = i;
      for (; j < p->refs.size() && p->refs[j].key == key; ++j) {
        refs.push_back(FileRef{p->refs[j].sid, p->refs[j].idx, p->refs[j].off});
      }
      EncodeRefs(refs, &val);
      MDB_val kk = Val(key), vv = Val(val);
      // Overwrite in place when found (the cursor is on the record), insert otherwise.
      rc = mdb_cursor_put(c.get(), &kk, &vv, rc == 0 ? MDB_CURRENT : 0);
      DFS_RETURN_IF_ERROR(w.Check(rc, "writing digests"));
      w.changed = true;
      i = j;
    }
    p->refs.clear();
    p->new_digests.clear();
    return Status::Ok();
  }

  // Drops the queued references of a source superseded within the same ImportAll. True if it
  // had any.
  bool UnqueueRefs(uint64_t sid) {
    if (!pending_ || !pending_->new_digests.erase(sid)) return false;
    std::erase_if(pending_->refs, [&](const PendingRef& r) { return r.sid == sid; });
    return true;
  }

  // Removes every ref of source `sid` from its digests' lists.
  Status DropRefs(WriteTxn& w, const SourceRec& r) {
    std::vector<FileEntry> files;
    DFS_RETURN_IF_ERROR(SourceFilesTx(w.txn, *e_, r.info.id, r.file_count, &files));
    std::vector<std::string> keys;
    keys.reserve(files.size());
    for (const auto& f : files) {
      DFS_ASSIGN_OR_RETURN(std::string k, DigestKey(f.digest));
      keys.push_back(DigestIndexKey(k));
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    std::vector<FileRef> refs;
    std::string val;
    for (const auto& k : keys) {
      std::string_view v;
      bool found;
      DFS_RETURN_IF_ERROR(Get(w.txn, e_->digests, k, &v, &found));
      if (!found) continue;
      DFS_RETURN_IF_ERROR(DecodeRefs(v, &refs));
      size_t before = refs.size();
      std::erase_if(refs, [&](const FileRef& x) { return x.source_id == r.info.id; });
      if (refs.size() == before) continue;
      if (refs.empty()) {
        DFS_RETURN_IF_ERROR(w.Del(e_->digests, k));
      } else {
        EncodeRefs(refs, &val);
        DFS_RETURN_IF_ERROR(w.Put(e_->digests, k, val));
      }
    }
    return Status::Ok();
  }

  // Moves an active or superseded source to `state`, dropping its digests if it was active.
  Status Retire(WriteTxn& w, SourceRec* r, SourceState state) {
    if (r->info.state == SourceState::kActive && !UnqueueRefs(r->info.id))
      DFS_RETURN_IF_ERROR(DropRefs(w, *r));
    r->info.state = state;
    spdlog::info("store source retired id={} name={} state={}", r->info.id, LogQuote(r->info.name),
                 SourceStateName(state));
    return w.PutSource(*r);
  }

  // Deletes a source and everything that points at it.
  Status DeleteSource(WriteTxn& w, const SourceRec& r) {
    if (r.info.state == SourceState::kActive && !UnqueueRefs(r.info.id))
      DFS_RETURN_IF_ERROR(DropRefs(w, r));
    uint32_t chunks = static_cast<uint32_t>((r.file_count + kChunkEntries - 1) / kChunkEntries);
    for (uint32_t c = 0; c < chunks; ++c)
      DFS_RETURN_IF_ERROR(w.Del(e_->files, ChunkKey(r.info.id, c)));
    const std::string idv = SourceKey(r.info.id);
    const std::string_view iv(idv);
    DFS_RETURN_IF_ERROR(w.Del(e_->names, IndexKey(r.info.name), &iv));
    if (IsPackageKind(r.info.kind)) {
      DFS_RETURN_IF_ERROR(
          w.Del(e_->groups, GroupKey(r.info.kind, r.info.package, r.info.arch), &iv));
    }
    if (!r.info.blob_digest.empty()) {
      auto bk = DigestKey(r.info.blob_digest);
      if (bk.ok()) DFS_RETURN_IF_ERROR(w.Del(e_->blobs, *bk, &iv));
    }
    return w.Del(e_->sources, idv);
  }

  Status ValidateItem(const ImportItem& item) {
    const SourceInfo& s = item.source;
    auto bad = [&](const std::string& why) {
      return Status(Code::kInvalidArgument, "source '" + s.name + "': " + why);
    };
    if (static_cast<uint8_t>(s.kind) < 1 || static_cast<uint8_t>(s.kind) > 5)
      return bad("unknown kind");
    if (s.name.empty()) return bad("empty name");
    for (const std::string* str :
         {&s.name, &s.package, &s.arch, &s.version, &s.signer, &s.origin}) {
      if (HasNul(*str)) return bad("a field contains a NUL byte");
    }
    if (s.state != SourceState::kActive) return bad("a new source must be active");
    if (IsPackageKind(s.kind) && s.package.empty()) {
      return bad("a package source needs its package name (rollback groups by package and arch)");
    }
    if (!s.blob_digest.empty()) {
      auto k = DigestKey(s.blob_digest);
      if (!k.ok()) return bad("blob digest: " + k.status().message());
    }
    if (item.files.size() > UINT32_MAX / 2) return bad("too many files");
    return Status::Ok();
  }

  Status ImportOneTx(WriteTxn& w, const ImportItem& item, const ImportOptions& opts,
                     ImportSummary* sum) {
    DFS_RETURN_IF_ERROR(ValidateItem(item));
    const SourceInfo& in = item.source;
    std::vector<FileEntry> files = item.files;
    std::sort(files.begin(), files.end(),
              [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
    for (size_t i = 0; i < files.size(); ++i) {
      const FileEntry& f = files[i];
      if (f.path.empty() || f.path[0] != '/' || HasNul(f.path)) {
        return Status(Code::kInvalidArgument, "source '" + in.name + "': file path '" +
                                                  LogQuote(f.path) + "' is not an absolute path");
      }
      if (i > 0 && files[i - 1].path == f.path) {
        return Status(Code::kInvalidArgument,
                      "source '" + in.name + "': path " + LogQuote(f.path) + " is listed twice");
      }
      auto k = DigestKey(f.digest);
      if (!k.ok()) {
        return Status(Code::kInvalidArgument, "source '" + in.name + "': file " + LogQuote(f.path) +
                                                  ": " + k.status().message());
      }
    }

    // The same signed blob already active: nothing to do.
    std::string blob_key;
    if (!in.blob_digest.empty()) {
      blob_key = *DigestKey(in.blob_digest);
      std::vector<uint64_t> ids;
      DFS_RETURN_IF_ERROR(ReadIds(w.txn, e_->blobs, blob_key, &ids));
      for (uint64_t id : ids) {
        SourceRec r;
        DFS_RETURN_IF_ERROR(GetSourceTx(w.txn, *e_, id, &r));
        if (r.info.kind == in.kind && r.info.state == SourceState::kActive) {
          sum->source_id = id;
          sum->files = r.file_count;
          sum->unchanged = true;
          return Status::Ok();
        }
      }
    }

    SourceRec rec;
    rec.info = in;
    rec.info.state = SourceState::kActive;
    if (rec.info.import_time == 0) rec.info.import_time = static_cast<int64_t>(std::time(nullptr));
    rec.file_count = files.size();
    DFS_RETURN_IF_ERROR(NextSourceId(w, &rec.info.id));
    const uint64_t sid = rec.info.id;

    // Rollback: the newest version of (package, arch) wins unless keep_old.
    std::vector<SourceRec> to_supersede;
    std::string group_key;
    if (IsPackageKind(in.kind)) {
      group_key = GroupKey(in.kind, in.package, in.arch);
      std::vector<uint64_t> ids;
      DFS_RETURN_IF_ERROR(ReadIds(w.txn, e_->groups, group_key, &ids));
      for (uint64_t id : ids) {
        SourceRec r;
        DFS_RETURN_IF_ERROR(GetSourceTx(w.txn, *e_, id, &r));
        if (r.info.state != SourceState::kActive || r.info.package != in.package ||
            r.info.arch != in.arch) {
          continue;
        }
        if (opts.keep_old) continue;
        if (CompareVersionsOf(in.kind, in.version, r.info.version) < 0) {
          rec.info.state = SourceState::kSuperseded;
          sum->older = true;
        } else {
          to_supersede.push_back(std::move(r));
        }
      }
      if (sum->older) to_supersede.clear();
    }

    // The file list, in chunks; each file's entry offset goes into its digest reference.
    std::vector<uint32_t> offsets, part;
    offsets.reserve(files.size());
    for (size_t off = 0, c = 0; off < files.size(); off += kChunkEntries, ++c) {
      size_t n = std::min<size_t>(kChunkEntries, files.size() - off);
      DFS_RETURN_IF_ERROR(w.Put(e_->files, ChunkKey(sid, static_cast<uint32_t>(c)),
                                EncodeChunk(&files[off], n, &part)));
      offsets.insert(offsets.end(), part.begin(), part.end());
    }
    DFS_RETURN_IF_ERROR(w.PutSource(rec));
    std::string idv = SourceKey(sid);
    DFS_RETURN_IF_ERROR(w.Put(e_->names, IndexKey(in.name), idv, MDB_NODUPDATA));
    if (!group_key.empty()) DFS_RETURN_IF_ERROR(w.Put(e_->groups, group_key, idv, MDB_NODUPDATA));
    if (!blob_key.empty()) DFS_RETURN_IF_ERROR(w.Put(e_->blobs, blob_key, idv, MDB_NODUPDATA));
    if (rec.info.state == SourceState::kActive) {
      if (pending_) {
        DFS_RETURN_IF_ERROR(QueueRefs(pending_, sid, files, offsets, &sum->new_digests));
      } else {
        Pending p;
        DFS_RETURN_IF_ERROR(QueueRefs(&p, sid, files, offsets, &sum->new_digests));
        DFS_RETURN_IF_ERROR(ApplyRefs(w, &p));
      }
    }
    for (SourceRec& r : to_supersede) {
      DFS_RETURN_IF_ERROR(Retire(w, &r, SourceState::kSuperseded));
      sum->superseded.push_back(r.info.id);
    }
    sum->source_id = sid;
    sum->files = files.size();
    spdlog::info(
        "store import id={} kind={} name={} files={} new_digests={} superseded={} older={}", sid,
        SourceKindName(in.kind), LogQuote(in.name), files.size(), sum->new_digests,
        sum->superseded.size(), sum->older);
    return Status::Ok();
  }

  std::shared_ptr<Env> e_;
  // Set only inside ImportAll's write transaction (under write_mu): references queued for one
  // sorted pass at its end.
  Pending* pending_ = nullptr;
};

// --- opening ----------------------------------------------------------------------------------

struct DbSpec {
  const char* name;
  unsigned flags;
  MDB_dbi Env::*field;
};
constexpr DbSpec kDbs[] = {
    {"meta", 0, &Env::meta},
    {"digests", 0, &Env::digests},
    {"sources", 0, &Env::sources},
    {"files", 0, &Env::files},
    {"names", MDB_DUPSORT | MDB_DUPFIXED, &Env::names},
    {"groups", MDB_DUPSORT | MDB_DUPFIXED, &Env::groups},
    {"blobs", MDB_DUPSORT | MDB_DUPFIXED, &Env::blobs},
    {"deny", 0, &Env::deny},
};

Status InitSchema(Env& e) {
  MDB_txn* txn;
  int rc = mdb_txn_begin(e.env, nullptr, 0, &txn);
  if (rc) return LmdbError(rc, "initialising store " + e.dir);
  auto fail = [&](int rc, std::string_view what) {
    mdb_txn_abort(txn);
    return LmdbError(rc, std::string(what) + " in " + e.dir);
  };
  for (const DbSpec& s : kDbs) {
    rc = mdb_dbi_open(txn, s.name, s.flags | MDB_CREATE, &(e.*s.field));
    if (rc) return fail(rc, std::string("creating table ") + s.name);
  }
  auto put = [&](std::string_view k, std::string_view v) {
    MDB_val kv = Val(k), vv = Val(v);
    return mdb_put(txn, e.meta, &kv, &vv, 0);
  };
  std::string schema, next, gen, created;
  PutU32LE(&schema, kSchemaVersion);
  PutU64LE(&next, 1);
  PutU64LE(&gen, mdb_txn_id(txn));
  PutU64LE(&created, static_cast<uint64_t>(std::time(nullptr)));
  if ((rc = put("format", kFormatMagic)) || (rc = put("schema", schema)) ||
      (rc = put("next_source_id", next)) || (rc = put("generation", gen)) ||
      (rc = put("created", created))) {
    return fail(rc, "writing meta");
  }
  rc = mdb_txn_commit(txn);
  if (rc) return LmdbError(rc, "initialising store " + e.dir);
  spdlog::info("store created dir={} schema={}", LogQuote(e.dir), kSchemaVersion);
  return Status::Ok();
}

// Opens the tables of an existing store and checks its meta record. Touches the first and last
// page of every table so a damaged root is found now, not during a lookup.
Status CheckSchema(Env& e, bool create, bool* needs_init) {
  *needs_init = false;
  MDB_txn* txn;
  int rc = mdb_txn_begin(e.env, nullptr, MDB_RDONLY, &txn);
  if (rc) return LmdbError(rc, "reading store " + e.dir);
  struct Guard {
    MDB_txn* t;
    ~Guard() {
      if (t) mdb_txn_abort(t);
    }
  } guard{txn};
  MDB_stat ms;
  MDB_dbi main_dbi;
  rc = mdb_dbi_open(txn, nullptr, 0, &main_dbi);
  if (rc == 0) rc = mdb_stat(txn, main_dbi, &ms);
  if (rc) return LmdbError(rc, "reading store " + e.dir);
  if (ms.ms_entries == 0) {
    if (create && !e.read_only) {
      *needs_init = true;
      return Status::Ok();
    }
    return Status(Code::kNotFound, "store " + e.dir + " is empty (run digestctl init)");
  }
  const std::string where = e.dir + "/data.mdb";
  rc = mdb_dbi_open(txn, "meta", 0, &e.meta);
  if (rc == MDB_NOTFOUND)
    return Status(Code::kCorrupt, where + " is not a digestfs store (no meta table)");
  if (rc) return LmdbError(rc, "opening the meta table of " + where);
  auto meta = [&](const char* key, std::string_view* v) -> Status {
    bool found;
    DFS_RETURN_IF_ERROR(Get(txn, e.meta, key, v, &found));
    if (!found) return Status(Code::kCorrupt, where + ": meta record '" + key + "' is missing");
    return Status::Ok();
  };
  std::string_view v;
  DFS_RETURN_IF_ERROR(meta("format", &v));
  if (v != kFormatMagic)
    return Status(Code::kCorrupt, where + " is not a digestfs store (bad format record)");
  DFS_RETURN_IF_ERROR(meta("schema", &v));
  if (v.size() != 4) return Status(Code::kCorrupt, where + ": meta record 'schema' is malformed");
  uint32_t schema;
  Reader(v).U32LE(&schema);
  if (schema == 0) return Status(Code::kCorrupt, where + ": schema version 0");
  if (schema < kOldestSchemaVersion) {
    return Status(Code::kVersion,
                  where + " has schema version " + std::to_string(schema) +
                      ", older than this digestfs reads (" + std::to_string(kOldestSchemaVersion) +
                      "); rebuild it: move it away, digestctl init, and import again");
  }
  e.schema_at_open = schema;
  if (schema > kSchemaVersion) {
    return Status(Code::kVersion, where + " has schema version " + std::to_string(schema) +
                                      "; this digestfs reads versions up to " +
                                      std::to_string(kSchemaVersion) + " (upgrade digestfs)");
  }
  DFS_RETURN_IF_ERROR(meta("next_source_id", &v));
  if (v.size() != 8)
    return Status(Code::kCorrupt, where + ": meta record 'next_source_id' is malformed");
  DFS_RETURN_IF_ERROR(meta("generation", &v));
  if (v.size() != 8)
    return Status(Code::kCorrupt, where + ": meta record 'generation' is malformed");
  for (const DbSpec& s : kDbs) {
    rc = mdb_dbi_open(txn, s.name, s.flags, &(e.*s.field));
    if (rc == MDB_NOTFOUND)
      return Status(Code::kCorrupt, where + ": table '" + s.name + "' is missing");
    if (rc) return LmdbError(rc, std::string("opening table ") + s.name + " of " + where);
    Cursor c(txn, e.*s.field);
    if (c.open_rc()) return LmdbError(c.open_rc(), std::string("opening table ") + s.name);
    MDB_val k, d;
    for (MDB_cursor_op op : {MDB_FIRST, MDB_LAST}) {
      rc = mdb_cursor_get(c.get(), &k, &d, op);
      if (rc && rc != MDB_NOTFOUND)
        return LmdbError(rc, std::string("reading table ") + s.name + " of " + where);
    }
  }
  // Commit (not abort) so the table handles stay valid for later transactions.
  guard.t = nullptr;
  rc = mdb_txn_commit(txn);
  if (rc) return LmdbError(rc, "opening store " + e.dir);
  return Status::Ok();
}

Result<std::shared_ptr<Env>> OpenEnv(const std::string& dir, const StoreOptions& opts) {
  namespace fs = std::filesystem;
  struct stat ds;
  if (::stat(dir.c_str(), &ds) != 0) {
    if (errno != ENOENT) return Status::FromErrno(errno, "store " + dir);
    if (!opts.create)
      return Status(Code::kNotFound, "store " + dir + " does not exist (run digestctl init)");
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return Status::FromErrno(ec.value(), "creating store directory " + dir);
    if (::stat(dir.c_str(), &ds) != 0) return Status::FromErrno(errno, "store " + dir);
  }
  if (!S_ISDIR(ds.st_mode))
    return Status(Code::kInvalidArgument, "store " + dir + " is not a directory");

  const std::string data = dir + "/data.mdb";
  struct stat fs_;
  bool exists = ::stat(data.c_str(), &fs_) == 0;
  if (!exists && errno != ENOENT) return Status::FromErrno(errno, data);
  Fd data_fd;
  if (exists) {
    if (!S_ISREG(fs_.st_mode)) return Status(Code::kCorrupt, data + " is not a regular file");
    data_fd = Fd(::open(data.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!data_fd) return Status::FromErrno(errno, "opening " + data);
    // A writer in another process may be rewriting a meta page as we read it: a failed check is
    // retried (fresh size, fresh read) before the store is called corrupt.
    uint64_t txnid;
    Status meta = CheckMetaPagesAt(data_fd.get(), data, &txnid);
    for (int i = 0; i < 3 && meta.code() == Code::kCorrupt; ++i) {
      ::usleep(20000);
      meta = CheckMetaPagesAt(data_fd.get(), data, &txnid);
    }
    DFS_RETURN_IF_ERROR(meta);
  } else if (!opts.create) {
    return Status(Code::kNotFound, "no store in " + dir + " (run digestctl init)");
  } else if (opts.read_only) {
    return Status(Code::kInvalidArgument, "cannot create store " + dir + " read-only");
  }

  // Held for the whole open: two LMDB environments on one file in one process would break
  // LMDB's locking (closing one drops the other's file locks).
  std::lock_guard registry_lock(g_registry_mu);
  {
    auto it = g_registry.find({ds.st_dev, ds.st_ino});
    if (it != g_registry.end()) {
      if (auto e = it->second.lock(); e && e->pid == ::getpid()) {
        if (e->read_only && !opts.read_only) {
          return Status(Code::kUnavailable,
                        "store " + dir + " is already open read-only in this process");
        }
        return e;
      }
    }
  }

  auto e = std::make_shared<Env>();
  e->dir = dir;
  e->dev = ds.st_dev;
  e->ino = ds.st_ino;
  e->pid = ::getpid();
  e->read_only = opts.read_only;
  e->max_map = opts.max_map_size ? opts.max_map_size : kDefaultMaxMapSize;
  int rc = mdb_env_create(&e->env);
  if (rc) return LmdbError(rc, "creating an LMDB environment");
  mdb_env_set_maxdbs(e->env, 16);
  mdb_env_set_maxreaders(e->env, kMaxReaders);
  uint64_t want = opts.initial_map_size ? opts.initial_map_size : kDefaultMapSize;
  mdb_env_set_mapsize(e->env, want);
  unsigned flags = MDB_NOTLS | (opts.read_only ? MDB_RDONLY : 0);
  rc = mdb_env_open(e->env, dir.c_str(), flags, 0644);
  if (rc) {
    Status s = LmdbError(rc, "opening store " + dir);
    if (s.code() == Code::kCorrupt)
      s = Status(Code::kCorrupt,
                 data + " is damaged or not an LMDB file (" + mdb_strerror(rc) + ")");
    return s;
  }
  if (!data_fd) {
    data_fd = Fd(::open(data.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!data_fd) return Status::FromErrno(errno, "opening " + data);
  }
  struct stat mapped;
  if (::fstat(data_fd.get(), &mapped) != 0) return Status::FromErrno(errno, "fstat " + data);
  if (::stat(data.c_str(), &fs_) != 0 || fs_.st_ino != mapped.st_ino ||
      fs_.st_dev != mapped.st_dev) {
    return Status(Code::kUnavailable, data + " was replaced while the store was opened; try again");
  }
  e->data_fd = std::move(data_fd);
  e->data_path = data;
  e->NoteMap();
  InstallSigbusGuard();
  // LMDB trusts the meta page's last page number; a shorter file would fault on access.
  MDB_envinfo info;
  mdb_env_info(e->env, &info);
  MDB_stat st;
  mdb_env_stat(e->env, &st);
  if (exists && ::stat(data.c_str(), &fs_) == 0) {
    uint64_t need = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
    if (static_cast<uint64_t>(fs_.st_size) < need) {
      return Status(Code::kCorrupt, data + " is truncated: " + std::to_string(fs_.st_size) +
                                        " bytes, its meta page says " + std::to_string(need));
    }
    if (info.me_mapsize < need) {
      return Status(Code::kCorrupt, data + ": map size in the meta page is smaller than the data");
    }
  }
  bool needs_init = false;
  DFS_RETURN_IF_ERROR(CheckSchema(*e, opts.create, &needs_init));
  if (needs_init) {
    DFS_RETURN_IF_ERROR(InitSchema(*e));
  }
  g_registry[{ds.st_dev, ds.st_ino}] = e;
  return e;
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const std::string& dir, const StoreOptions& opts) {
  if (dir.empty()) return Status(Code::kInvalidArgument, "empty store directory");
  DFS_ASSIGN_OR_RETURN(std::shared_ptr<Env> e, OpenEnv(dir, opts));
  const bool upgrade =
      !e->read_only && e->schema_at_open != 0 && e->schema_at_open < kSchemaVersion;
  auto st = std::make_unique<LmdbStore>(std::move(e));
  // A writable open upgrades an older store (read-only opens read it as it is).
  if (upgrade) {
    Status s = st->Upgrade();
    if (!s.ok())
      return s.Prepend("upgrading store " + dir + " to schema " + std::to_string(kSchemaVersion));
  }
  return std::unique_ptr<Store>(std::move(st));
}

}  // namespace dfs
