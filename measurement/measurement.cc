// The Measurer built by CreateMeasurer: IMA-format logs plus (optionally) a TPM PCR.
// Order and recovery rules are in measurement.h and docs/measurement.md.
#include "measurement/measurement.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <deque>
#include <mutex>
#include <set>
#include <thread>
#include <tuple>

#include "common/fd.h"
#include "common/log.h"
#include "crypto/hash.h"
#include "measurement/ima_log.h"
#include "measurement/tpm.h"

namespace dfs {

namespace {

constexpr const char* kLockName = ".lock";
// How many recent entries the measurer remembers the PCR state before, to recognize a pending tail.
constexpr size_t kHistory = 256;

Status Errno(const std::string& what) { return Status::FromErrno(errno, what); }

Status WriteAll(int fd, const void* data, size_t len, const std::string& what) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = ::write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("writing " + what);
    }
    p += n;
    len -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<std::vector<uint8_t>> ReadRange(int fd, uint64_t from, uint64_t to,
                                       const std::string& what) {
  std::vector<uint8_t> buf(to - from);
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = ::pread(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(from + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("reading " + what);
    }
    if (n == 0) return Status(Code::kCorrupt, what + " shrank while being read");
    done += static_cast<size_t>(n);
  }
  return buf;
}

// mkdir -p; the last component gets `mode`.
Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return Status(Code::kInvalidArgument, "empty measurement log directory");
  std::string cur;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    cur = path.substr(0, next);
    pos = next + 1;
    if (cur.empty()) continue;
    bool last = next == path.size();
    if (::mkdir(cur.c_str(), last ? mode : 0755) != 0 && errno != EEXIST) {
      return Errno("creating measurement log directory " + cur);
    }
  }
  return Status::Ok();
}

std::string EscapeValue(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else {
      out += c;
    }
  }
  return out;
}

bool IsInitial(const std::vector<Digest>& values) {
  for (const Digest& d : values) {
    for (uint8_t b : d.bytes) {
      if (b != 0) return false;
    }
  }
  return true;
}

// Reads a whole file whose size stat cannot tell (securityfs files report 0). ENOENT is kNotFound.
Result<std::vector<uint8_t>> ReadWhole(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return Status(Code::kNotFound, path + " does not exist");
    return Errno("opening " + path);
  }
  std::vector<uint8_t> buf;
  uint8_t chunk[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("reading " + path);
    }
    if (n == 0) break;
    buf.insert(buf.end(), chunk, chunk + n);
  }
  return buf;
}

// The same record: what a copied kernel entry is recognized by.
bool SameRecord(const ima::Entry& a, const ima::Entry& b) {
  return a.pcr == b.pcr && a.template_hash == b.template_hash &&
         a.template_name == b.template_name && a.template_data == b.template_data;
}

std::string Describe(const std::vector<Digest>& v) {
  std::string s;
  for (const Digest& d : v) {
    if (!s.empty()) s += ' ';
    s += d.ToString();
  }
  return s;
}

// One ImaMeasurer per mount. Lock order: mu_, then the directory flock (lock_).
class ImaMeasurer : public Measurer {
 public:
  ImaMeasurer(MeasurerConfig cfg, std::unique_ptr<PcrBackend> backend)
      : cfg_(std::move(cfg)), backend_(std::move(backend)) {}

  Status Open();

  Status MeasureSource(const SourceInfo& source) override {
    return Measure("s" + source.blob_digest.ToString(), source.blob_digest, SourceEntryName(source),
                   "source");
  }
  Status MeasureFile(const Digest& content, const std::string& path) override {
    std::string key = "f" + content.ToString();
    key += '\0';
    key += path;
    // IMA's template holds at most kMaxPathLen bytes of path: a longer one is cut and marked.
    return Measure(key, content, ima::MeasuredPath(path), "file");
  }
  // Writes the aggregate entry (no idempotence: one per Measurer).
  Status MeasureAggregate(const AggregateInfo& info) {
    DFS_ASSIGN_OR_RETURN(Digest d, AggregateDigest(info));
    return Measure("", d, kAggregateName, "aggregate");
  }

 private:
  // State before one of the recent entries, with that entry's per-bank template hashes.
  struct Step {
    std::vector<Digest> before;
    std::vector<Digest> hashes;
    bool ours = true;  // false: copied from the kernel's log (the kernel extends it, never we)
  };
  // Where a replayed entry comes from: written by a Measurer, copied from the kernel's log, or read
  // back from the file (a kernel copy if it is the next kernel entry not yet accounted for).
  enum class Origin { kOurs, kKernel, kFile };

  class DirLock {
   public:
    explicit DirLock(int fd) : fd_(fd) {}
    Status Acquire() {
      while (::flock(fd_, LOCK_EX) != 0) {
        if (errno != EINTR) return Errno("locking the measurement log directory");
      }
      held_ = true;
      return Status::Ok();
    }
    ~DirLock() {
      if (held_) ::flock(fd_, LOCK_UN);
    }

   private:
    int fd_;
    bool held_ = false;
  };

  Status Measure(const std::string& key, const Digest& digest, const std::string& name,
                 const char* kind);
  Status OpenFiles();
  Status CatchUpLocked(bool startup);
  Status ReconcileLocked(bool startup);
  Status RotateLocked();
  Status RebuildAsciiLocked();
  Status ReplayEntry(const ima::Entry& e, Origin origin);
  Status ReadKernelLocked();
  Status AdoptKernelLocked();
  std::vector<Digest> KernelReplay() const;

  const MeasurerConfig cfg_;
  std::mutex mu_;  // guards everything below; held across the TPM calls of one measurement
  std::unique_ptr<PcrBackend> backend_;  // null: log only
  Fd dir_, lock_, bin_, ascii_;
  ino_t bin_ino_ = 0;
  std::vector<HashAlgo> banks_;  // empty without a TPM
  std::vector<Digest> pcr_;      // replayed value of the PCR after the whole log
  std::deque<Step> history_;     // the last kHistory entries
  uint64_t log_bytes_ = 0;       // binary log bytes replayed so far
  uint64_t entries_ = 0;
  uint64_t steps_ = 0;          // entries of this PCR replayed (history_.back() is steps_-1)
  uint64_t confirmed_ = 0;      // the first `confirmed_` steps are known to be in the PCR
  bool need_check_ = true;      // compare with the TPM before the next append
  bool ascii_dirty_ = false;    // rebuild the ASCII log before the next append
  std::set<std::string> done_;  // idempotence keys measured (and extended)
  std::vector<std::string> pending_keys_;  // appended, extend not yet confirmed
  std::string kernel_log_;                 // the kernel IMA's binary log; empty: none
  std::vector<ima::Entry> kernel_;         // its entries for cfg_.pcr, as last read
  uint64_t kernel_copied_ = 0;             // how many of them our log holds (a prefix of kernel_)
};

Status ImaMeasurer::OpenFiles() {
  DFS_RETURN_IF_ERROR(MakeDirs(cfg_.log_dir, 0750));
  dir_.reset(::open(cfg_.log_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir_) return Errno("opening measurement log directory " + cfg_.log_dir);
  auto open_file = [&](const char* name, int flags, Fd* out) -> Status {
    out->reset(::openat(dir_.get(), name, flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640));
    if (!*out) return Errno("opening " + cfg_.log_dir + "/" + name);
    struct stat st;
    if (::fstat(out->get(), &st) != 0) return Errno("stat " + cfg_.log_dir + "/" + name);
    if (!S_ISREG(st.st_mode)) {
      return Status(Code::kInvalidArgument, cfg_.log_dir + "/" + name + " is not a regular file");
    }
    return Status::Ok();
  };
  DFS_RETURN_IF_ERROR(open_file(kLockName, O_RDWR, &lock_));
  DFS_RETURN_IF_ERROR(open_file(kBinaryLogName, O_RDWR | O_APPEND, &bin_));
  DFS_RETURN_IF_ERROR(open_file(kAsciiLogName, O_RDWR | O_APPEND, &ascii_));
  struct stat st;
  if (::fstat(bin_.get(), &st) != 0) return Errno("stat binary log");
  bin_ino_ = st.st_ino;
  if (::fsync(dir_.get()) != 0) return Errno("syncing " + cfg_.log_dir);
  return Status::Ok();
}

Status ImaMeasurer::Open() {
  if (cfg_.pcr > 23) {
    return Status(Code::kInvalidArgument, "pcr=" + std::to_string(cfg_.pcr) + ": must be 0..23");
  }
  if (cfg_.pcr >= 17 && cfg_.pcr <= 22) {
    return Status(Code::kInvalidArgument,
                  "pcr=" + std::to_string(cfg_.pcr) +
                      ": PCRs 17-22 belong to dynamic launch and do not start at zero");
  }
  std::lock_guard<std::mutex> g(mu_);
  if (cfg_.kernel_log) {
    kernel_log_ = *cfg_.kernel_log;
  } else if (cfg_.pcr == kImaPcr) {
    struct stat st;
    if (::stat(kKernelImaLog, &st) == 0) {
      kernel_log_ = kKernelImaLog;
    } else {
      spdlog::info(
          "measurement pcr={}: no kernel IMA log at {}; assuming the kernel's IMA does not "
          "extend this PCR (a reconcile with the TPM will tell)",
          cfg_.pcr, kKernelImaLog);
    }
  }
  DFS_RETURN_IF_ERROR(OpenFiles());
  if (backend_) {
    DFS_ASSIGN_OR_RETURN(banks_, backend_->Banks(cfg_.pcr));
    for (HashAlgo a : banks_) {
      Digest z;
      z.algo = a;
      z.bytes.assign(HashAlgoSize(a), 0);
      pcr_.push_back(std::move(z));
    }
  }
  DirLock lock(lock_.get());
  DFS_RETURN_IF_ERROR(lock.Acquire());
  DFS_RETURN_IF_ERROR(ReadKernelLocked());
  DFS_RETURN_IF_ERROR(CatchUpLocked(/*startup=*/true));
  DFS_RETURN_IF_ERROR(RebuildAsciiLocked());
  DFS_RETURN_IF_ERROR(AdoptKernelLocked());
  if (backend_) DFS_RETURN_IF_ERROR(ReconcileLocked(/*startup=*/true));
  spdlog::info(
      "measurement log opened dir={} pcr={} tpm={} banks={} entries={} kernel_log={} "
      "kernel_entries={}",
      LogQuote(cfg_.log_dir), cfg_.pcr, backend_ ? backend_->Describe() : "none", banks_.size(),
      entries_, LogQuote(kernel_log_.empty() ? "none" : kernel_log_), kernel_copied_);
  return Status::Ok();
}

Status ImaMeasurer::ReplayEntry(const ima::Entry& e, Origin origin) {
  ++entries_;
  bool ours = true;
  if (origin == Origin::kKernel || (origin == Origin::kFile && kernel_copied_ < kernel_.size() &&
                                    SameRecord(e, kernel_[kernel_copied_]))) {
    ++kernel_copied_;
    ours = false;
  }
  if (!backend_ || e.pcr != cfg_.pcr) return Status::Ok();
  Step step;
  step.ours = ours;
  step.before = pcr_;
  for (HashAlgo a : banks_) {
    DFS_ASSIGN_OR_RETURN(Digest h, ima::BankTemplateHash(e, a));
    step.hashes.push_back(std::move(h));
  }
  for (size_t i = 0; i < banks_.size(); ++i) {
    DFS_ASSIGN_OR_RETURN(Hasher h, Hasher::Create(banks_[i]));
    h.Update(pcr_[i].bytes.data(), pcr_[i].bytes.size());
    h.Update(step.hashes[i].bytes.data(), step.hashes[i].bytes.size());
    pcr_[i] = h.Finish();
  }
  history_.push_back(std::move(step));
  ++steps_;
  if (history_.size() > kHistory) history_.pop_front();
  return Status::Ok();
}

// Reads what was appended to the binary log since we last looked (by us or another process).
Status ImaMeasurer::CatchUpLocked(bool startup) {
  struct stat st;
  if (::fstatat(dir_.get(), kBinaryLogName, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
      st.st_ino != bin_ino_) {
    return Status(Code::kCorrupt, "measurement log " + cfg_.log_dir + "/" + kBinaryLogName +
                                      " was replaced or removed under this mount; remount");
  }
  if (static_cast<uint64_t>(st.st_size) == log_bytes_) return Status::Ok();
  if (static_cast<uint64_t>(st.st_size) < log_bytes_) {
    return Status(Code::kCorrupt, "measurement log " + cfg_.log_dir + "/" + kBinaryLogName +
                                      " shrank under this mount; remount");
  }
  std::string what = cfg_.log_dir + "/" + kBinaryLogName;
  DFS_ASSIGN_OR_RETURN(auto bytes, ReadRange(bin_.get(), log_bytes_, st.st_size, what));
  auto parsed = ima::ParseBinary(bytes.data(), bytes.size());
  if (!parsed.ok()) {
    return Status(Code::kCorrupt, what + ": " + parsed.status().message() + " (after byte " +
                                      std::to_string(log_bytes_) + ")");
  }
  for (const ima::Entry& e : parsed->entries) DFS_RETURN_IF_ERROR(ReplayEntry(e, Origin::kFile));
  if (parsed->truncated_tail) {
    // A torn append (the writer died inside write()); we hold the lock, so nobody is writing.
    uint64_t keep = log_bytes_ + parsed->complete_bytes;
    spdlog::warn("measurement log torn tail truncated file={} from={} to={}", LogQuote(what),
                 st.st_size, keep);
    if (::ftruncate(bin_.get(), static_cast<off_t>(keep)) != 0 || ::fdatasync(bin_.get()) != 0) {
      return Errno("truncating torn tail of " + what);
    }
    ascii_dirty_ = true;
    log_bytes_ = keep;
  } else {
    log_bytes_ = st.st_size;
  }
  if (!startup) {
    need_check_ = true;  // another writer may have died before its extend
    ascii_dirty_ = ascii_dirty_ || parsed->truncated_tail;
  }
  return Status::Ok();
}

// Reads the kernel's log again: its entries for our PCR, of which the first kernel_copied_ must be
// the ones read before.
Status ImaMeasurer::ReadKernelLocked() {
  if (kernel_log_.empty()) return Status::Ok();
  auto bytes = ReadWhole(kernel_log_);
  if (!bytes.ok()) {
    Status s = bytes.status();
    return s.Prepend("reading the kernel IMA log");
  }
  auto parsed = ima::ParseBinary(bytes->data(), bytes->size());
  if (!parsed.ok() || parsed->truncated_tail) {
    return Status(Code::kCorrupt, "kernel IMA log " + kernel_log_ + ": " +
                                      (parsed.ok() ? std::string("ends inside a record")
                                                   : parsed.status().message()));
  }
  std::vector<ima::Entry> mine;
  for (size_t i = 0; i < parsed->entries.size(); ++i) {
    ima::Entry& e = parsed->entries[i];
    if (e.pcr != cfg_.pcr) continue;
    if (e.template_name != ima::kTemplateImaNg) {
      return Status(Code::kUnsupported,
                    "kernel IMA log " + kernel_log_ + " entry " + std::to_string(i) +
                        " uses template '" + e.template_name +
                        "'; digestfs carries only ima-ng entries (boot with ima_template=ima-ng)");
    }
    mine.push_back(std::move(e));
  }
  if (mine.size() < kernel_copied_) {
    return Status(Code::kCorrupt, "kernel IMA log " + kernel_log_ + " has " +
                                      std::to_string(mine.size()) + " entries for PCR " +
                                      std::to_string(cfg_.pcr) + ", fewer than the " +
                                      std::to_string(kernel_copied_) + " this log holds");
  }
  for (size_t i = 0; i < kernel_copied_ && i < kernel_.size(); ++i) {
    if (!SameRecord(mine[i], kernel_[i])) {
      return Status(Code::kCorrupt, "kernel IMA log " + kernel_log_ + " entry " +
                                        std::to_string(i) + " changed under this mount");
    }
  }
  kernel_ = std::move(mine);
  return Status::Ok();
}

// Appends the kernel entries our log does not hold yet, in the kernel's order, without extending
// (the kernel extended them).
Status ImaMeasurer::AdoptKernelLocked() {
  if (kernel_copied_ >= kernel_.size()) return Status::Ok();
  size_t from = kernel_copied_;
  std::vector<uint8_t> bytes;
  std::string text;
  for (size_t i = from; i < kernel_.size(); ++i) {
    std::vector<uint8_t> rec = ima::EncodeBinary(kernel_[i]);
    bytes.insert(bytes.end(), rec.begin(), rec.end());
    text += ima::EncodeAscii(kernel_[i]);
  }
  std::string bin_name = cfg_.log_dir + "/" + kBinaryLogName;
  Status s = WriteAll(bin_.get(), bytes.data(), bytes.size(), bin_name);
  if (s.ok() && ::fdatasync(bin_.get()) != 0) s = Errno("syncing " + bin_name);
  if (!s.ok()) {
    if (::ftruncate(bin_.get(), static_cast<off_t>(log_bytes_)) != 0 ||
        ::fdatasync(bin_.get()) != 0) {
      spdlog::error("measurement log could not be truncated back file={} size={}",
                    LogQuote(bin_name), log_bytes_);
    }
    return s.Prepend("copying kernel IMA entries");
  }
  log_bytes_ += bytes.size();
  for (size_t i = from; i < kernel_.size(); ++i) {
    DFS_RETURN_IF_ERROR(ReplayEntry(kernel_[i], Origin::kKernel));
  }
  if (!WriteAll(ascii_.get(), text.data(), text.size(), "ascii log").ok()) ascii_dirty_ = true;
  need_check_ = true;
  spdlog::info("measurement log: copied kernel IMA entries count={} from={} pcr={}",
               kernel_.size() - from, LogQuote(kernel_log_), cfg_.pcr);
  return Status::Ok();
}

// The PCR after the kernel's entries alone (what it holds after a boot with no digestfs entry).
std::vector<Digest> ImaMeasurer::KernelReplay() const {
  ima::PcrReplay r(banks_);
  for (const ima::Entry& e : kernel_) {
    if (!r.Extend(e).ok()) return {};
  }
  return r.values();
}

Status ImaMeasurer::RebuildAsciiLocked() {
  std::string what = cfg_.log_dir + "/" + kBinaryLogName;
  DFS_ASSIGN_OR_RETURN(auto bytes, ReadRange(bin_.get(), 0, log_bytes_, what));
  auto parsed = ima::ParseBinary(bytes.data(), bytes.size());
  if (!parsed.ok()) return Status(Code::kCorrupt, what + ": " + parsed.status().message());
  std::string text;
  for (const ima::Entry& e : parsed->entries) text += ima::EncodeAscii(e);
  struct stat st;
  if (::fstat(ascii_.get(), &st) != 0) return Errno("stat ascii log");
  if (static_cast<size_t>(st.st_size) == text.size()) {
    DFS_ASSIGN_OR_RETURN(auto cur, ReadRange(ascii_.get(), 0, st.st_size, "ascii log"));
    if (std::equal(cur.begin(), cur.end(), text.begin())) {
      ascii_dirty_ = false;
      return Status::Ok();
    }
  }
  spdlog::warn("measurement ascii log rebuilt from binary log dir={} entries={}",
               LogQuote(cfg_.log_dir), parsed->entries.size());
  if (::ftruncate(ascii_.get(), 0) != 0) return Errno("truncating ascii log");
  DFS_RETURN_IF_ERROR(WriteAll(ascii_.get(), text.data(), text.size(), "ascii log"));
  if (::fdatasync(ascii_.get()) != 0) return Errno("syncing ascii log");
  ascii_dirty_ = false;
  return Status::Ok();
}

Status ImaMeasurer::RotateLocked() {
  std::string suffix = "." + std::to_string(::time(nullptr));
  for (const char* name : {kBinaryLogName, kAsciiLogName}) {
    std::string to = std::string(name) + suffix;
    if (::renameat(dir_.get(), name, dir_.get(), to.c_str()) != 0) {
      return Errno("rotating " + cfg_.log_dir + "/" + name);
    }
  }
  spdlog::warn(
      "measurement log rotated: PCR is at its initial value (TPM reset or reboot) dir={} "
      "old_suffix={} old_entries={}",
      LogQuote(cfg_.log_dir), suffix, entries_);
  bin_.reset();
  ascii_.reset();
  log_bytes_ = 0;
  entries_ = 0;
  history_.clear();
  steps_ = 0;
  confirmed_ = 0;
  kernel_copied_ = 0;
  for (Digest& d : pcr_) std::fill(d.bytes.begin(), d.bytes.end(), 0);
  auto open_file = [&](const char* name, Fd* out) -> Status {
    out->reset(::openat(dir_.get(), name,
                        O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640));
    if (!*out) return Errno("creating " + cfg_.log_dir + "/" + name);
    return Status::Ok();
  };
  DFS_RETURN_IF_ERROR(open_file(kBinaryLogName, &bin_));
  DFS_RETURN_IF_ERROR(open_file(kAsciiLogName, &ascii_));
  struct stat st;
  if (::fstat(bin_.get(), &st) != 0) return Errno("stat binary log");
  bin_ino_ = st.st_ino;
  if (::fsync(dir_.get()) != 0) return Errno("syncing " + cfg_.log_dir);
  return Status::Ok();
}

// Compares the TPM's PCR with the replayed log; rolls a pending tail forward.
Status ImaMeasurer::ReconcileLocked(bool startup) {
  DFS_ASSIGN_OR_RETURN(std::vector<Digest> tpm, backend_->Read(cfg_.pcr, banks_));
  if (tpm == pcr_) {
    need_check_ = false;
    confirmed_ = steps_;
    done_.insert(pending_keys_.begin(), pending_keys_.end());
    pending_keys_.clear();
    return Status::Ok();
  }
  if (startup && !history_.empty() &&
      (IsInitial(tpm) || (!kernel_log_.empty() && tpm == KernelReplay()))) {
    // A reboot (or TPM reset): the PCR holds nothing, or only what the kernel measured since.
    DFS_RETURN_IF_ERROR(RotateLocked());
    if (kernel_log_.empty()) return Status::Ok();
    DFS_RETURN_IF_ERROR(AdoptKernelLocked());
    return ReconcileLocked(/*startup=*/false);
  }
  // Find the newest entry k whose "before" state is what the TPM holds: entries k.. are pending.
  // Only entries not yet confirmed in the PCR can be pending: a PCR that went back behind a state
  // this process saw in it (a reset under a running mount) is divergence, not a pending tail.
  // Only our own entries are extended again: a pending kernel entry is one the kernel has listed
  // but not yet extended, so we read the PCR again for a while, and then give up.
  size_t n = history_.size();
  uint64_t first_step = steps_ - n;  // global index of history_[0]
  for (int wait = 0; wait < 50; ++wait) {
    bool kernel_pending = false;
    for (size_t k = n; k-- > 0;) {
      if (first_step + k < confirmed_) break;
      if (history_[k].before != tpm) continue;
      for (size_t j = k; j < n; ++j) kernel_pending = kernel_pending || !history_[j].ours;
      break;
    }
    if (!kernel_pending) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    DFS_ASSIGN_OR_RETURN(tpm, backend_->Read(cfg_.pcr, banks_));
    if (tpm == pcr_) {
      need_check_ = false;
      confirmed_ = steps_;
      done_.insert(pending_keys_.begin(), pending_keys_.end());
      pending_keys_.clear();
      return Status::Ok();
    }
  }
  for (size_t k = n; k-- > 0;) {
    if (first_step + k < confirmed_) break;
    if (history_[k].before != tpm) continue;
    bool all_ours = true;
    for (size_t j = k; j < n; ++j) all_ours = all_ours && history_[j].ours;
    if (!all_ours) break;
    size_t pending = n - k;
    spdlog::warn("measurement roll-forward pcr={} pending_entries={} reason=log-ahead-of-tpm",
                 cfg_.pcr, pending);
    for (size_t j = k; j < n; ++j)
      DFS_RETURN_IF_ERROR(backend_->Extend(cfg_.pcr, history_[j].hashes));
    DFS_ASSIGN_OR_RETURN(tpm, backend_->Read(cfg_.pcr, banks_));
    if (tpm != pcr_) break;
    need_check_ = false;
    confirmed_ = steps_;
    done_.insert(pending_keys_.begin(), pending_keys_.end());
    pending_keys_.clear();
    return Status::Ok();
  }
  if (IsInitial(tpm)) {
    // Not a pending tail (that would start at a state of the log): the TPM was reset under a
    // running mount. Every measurement fails until a remount starts a new log (startup above).
    spdlog::error(
        "event=tpm_reset pcr={} tpm={} log_entries={} action=\"measured opens fail until "
        "remount\"",
        cfg_.pcr, LogQuote(backend_->Describe()), history_.size());
    return Status(Code::kCorrupt, "PCR " + std::to_string(cfg_.pcr) + " of TPM " +
                                      backend_->Describe() +
                                      " holds its reset value under a running mount (the TPM was "
                                      "reset); remount to start a new measurement log");
  }
  return Status(Code::kCorrupt,
                "measurement log " + cfg_.log_dir + "/" + kBinaryLogName + " and PCR " +
                    std::to_string(cfg_.pcr) + " of TPM " + backend_->Describe() +
                    " diverge (log replays to " + Describe(pcr_) + ", TPM has " + Describe(tpm) +
                    "); something else extended the PCR, the TPM was reset, or the log was edited");
}

Status ImaMeasurer::Measure(const std::string& key, const Digest& digest, const std::string& name,
                            const char* kind) {
  std::lock_guard<std::mutex> g(mu_);
  if (!key.empty() && done_.count(key)) return Status::Ok();
  DFS_ASSIGN_OR_RETURN(ima::Entry e, ima::MakeImaNgEntry(cfg_.pcr, digest, name));
  DirLock lock(lock_.get());
  DFS_RETURN_IF_ERROR(lock.Acquire());
  DFS_RETURN_IF_ERROR(ReadKernelLocked());
  DFS_RETURN_IF_ERROR(CatchUpLocked(/*startup=*/false));
  DFS_RETURN_IF_ERROR(AdoptKernelLocked());
  // The PCR is compared with the replayed log before every entry, not only after a failed call: a
  // TPM reset (power cycle, swtpm re-initialized) can leave the connection working, and an entry
  // extended into the reset PCR would make the log attest nothing. One PCR read per measurement;
  // measurements are once per source or file, so this is not on any hot path.
  if (backend_) {
    Status rs = ReconcileLocked(/*startup=*/false);
    // A TPM that does not answer a check with nothing pending: the entry is still written ahead
    // (below); its extend fails too and is rolled forward once the TPM is back.
    if (!rs.ok() && !(rs.code() == Code::kUnavailable && !need_check_ && kernel_log_.empty())) {
      return rs;
    }
  }
  if (ascii_dirty_) DFS_RETURN_IF_ERROR(RebuildAsciiLocked());
  if (!key.empty() && done_.count(key)) return Status::Ok();  // rolled forward just now

  // 1. The binary record, synced: the write-ahead record of the extend.
  std::vector<uint8_t> rec = ima::EncodeBinary(e);
  std::string bin_name = cfg_.log_dir + "/" + kBinaryLogName;
  Status s = WriteAll(bin_.get(), rec.data(), rec.size(), bin_name);
  if (s.ok() && ::fdatasync(bin_.get()) != 0) s = Errno("syncing " + bin_name);
  if (!s.ok()) {
    // Undo a partial record so the log stays parseable; the PCR was not touched.
    if (::ftruncate(bin_.get(), static_cast<off_t>(log_bytes_)) != 0 ||
        ::fdatasync(bin_.get()) != 0) {
      spdlog::error("measurement log could not be truncated back file={} size={}",
                    LogQuote(bin_name), log_bytes_);
    }
    spdlog::error("measurement append failed kind={} name={} error={}", kind, LogQuote(name),
                  LogQuote(s.ToString()));
    return s;
  }
  log_bytes_ += rec.size();
  DFS_RETURN_IF_ERROR(ReplayEntry(e, Origin::kOurs));

  // 2. The ASCII line. Derived from the binary log and rebuilt from it at start if they differ, so
  //    it is written but not synced (one fdatasync per measurement, not two).
  std::string line = ima::EncodeAscii(e);
  s = WriteAll(ascii_.get(), line.data(), line.size(), cfg_.log_dir + "/" + kAsciiLogName);
  if (!s.ok()) {
    ascii_dirty_ = true;
    if (backend_) {
      need_check_ = true;  // the entry is logged but not extended: roll forward next time
      if (!key.empty()) pending_keys_.push_back(key);
    } else if (!key.empty()) {
      done_.insert(key);  // log only: the binary entry is the whole measurement
    }
    spdlog::error("measurement ascii append failed name={} error={}", LogQuote(name),
                  LogQuote(s.ToString()));
    return s;
  }

  // 3. The extend.
  if (backend_) {
    s = backend_->Extend(cfg_.pcr, history_.back().hashes);
    if (!s.ok()) {
      need_check_ = true;
      if (!key.empty()) pending_keys_.push_back(key);
      spdlog::error("measurement extend failed kind={} name={} digest={} pcr={} error={}", kind,
                    LogQuote(name), digest.ToString(), cfg_.pcr, LogQuote(s.ToString()));
      return s;
    }
  }
  if (backend_ && !need_check_) confirmed_ = steps_;
  if (!key.empty()) done_.insert(key);
  spdlog::info("measured kind={} name={} digest={} pcr={} entry={} tpm={}", kind, LogQuote(name),
               digest.ToString(), cfg_.pcr, entries_ - 1, backend_ ? "extended" : "none");
  return Status::Ok();
}

}  // namespace

std::string AggregateText(const AggregateInfo& info) {
  std::string t = "digestfs-aggregate v1\n";
  t += "source=" + EscapeValue(info.source) + "\n";
  t += "mountpoint=" + EscapeValue(info.mountpoint) + "\n";
  t += "store=" + EscapeValue(info.store_dir) + "\n";
  t += "store_generation=" + std::to_string(info.store_generation) + "\n";
  t += "policy=" +
       (info.policy_digest.empty() ? std::string("none") : info.policy_digest.ToString()) + "\n";
  t += "mode=" + EscapeValue(info.mode) + "\n";
  return t;
}

Result<Digest> AggregateDigest(const AggregateInfo& info) {
  return HashBytes(HashAlgo::kSha256, AggregateText(info));
}

std::string SourceEntryName(const SourceInfo& source) {
  std::string prefix = std::string(SourceKindName(source.kind)) + "-";
  if (source.name.compare(0, prefix.size(), prefix) == 0) return source.name;
  return prefix + source.name;
}

Result<std::unique_ptr<Measurer>> CreateMeasurerWithBackend(const MeasurerConfig& config,
                                                            std::unique_ptr<PcrBackend> backend) {
  auto m = std::make_unique<ImaMeasurer>(config, std::move(backend));
  DFS_RETURN_IF_ERROR(m->Open());
  if (config.aggregate) DFS_RETURN_IF_ERROR(m->MeasureAggregate(*config.aggregate));
  return std::unique_ptr<Measurer>(std::move(m));
}

Result<std::unique_ptr<Measurer>> CreateMeasurer(const MeasurerConfig& config) {
  std::unique_ptr<PcrBackend> backend;
  if (!config.tcti.empty()) {
    DFS_ASSIGN_OR_RETURN(auto tpm, Tpm::Connect(config.tcti));
    backend = std::move(tpm);
  }
  return CreateMeasurerWithBackend(config, std::move(backend));
}

Result<size_t> MeasureAllSources(Measurer& measurer, std::vector<SourceInfo> sources) {
  std::erase_if(sources, [](const SourceInfo& s) { return s.state != SourceState::kActive; });
  std::sort(sources.begin(), sources.end(), [](const SourceInfo& a, const SourceInfo& b) {
    return std::tie(a.kind, a.name, a.blob_digest) < std::tie(b.kind, b.name, b.blob_digest);
  });
  for (const SourceInfo& s : sources) {
    Status st = measurer.MeasureSource(s);
    if (!st.ok()) return st.Prepend("measuring source " + s.name);
  }
  return sources.size();
}

}  // namespace dfs
