#include "policy/pipeline.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <tuple>

#include "common/byte_buffer.h"
#include "common/log.h"
#include "crypto/hash.h"

namespace dfs {

namespace {
// Set while TryCheckOpenInline runs on this thread: the pipeline must then neither hash, wait for
// another thread's hash, nor measure; where it would, it stops with kWouldBlock.
thread_local bool t_inline = false;
// HashCachedContent's read buffer (the session thread's inline hashes). Not zeroed when it grows:
// only the bytes read are used. PrepareThread() faults it in.
thread_local ByteBuffer t_inline_buf;
// What t_inline_buf holds after HashCachedContent succeeded in one read of the whole file: that
// file's identity and stat key (the same before and after the hash) and its length. Cleared when
// the next inline hash of this thread starts.
struct InlineWhole {
  bool valid = false;
  uint64_t dev = 0, ino = 0;
  StatKey key;
  size_t len = 0;
};
thread_local InlineWhole t_inline_whole;
constexpr const char* kWouldBlock = "decision needs hashing or measuring (not inline)";
Status WouldBlock() { return Status(Code::kUnavailable, kWouldBlock); }
bool IsWouldBlock(const Status& s) {
  return s.code() == Code::kUnavailable && s.message() == kWouldBlock;
}
}  // namespace

namespace {

constexpr size_t kMaxLogKeys = 1 << 16;

std::string RuleRef(const Rule* r) { return r ? std::to_string(r->line) : std::string("-"); }

// The name a request's file is shown by in log lines and measurements: its path, or, when fs/
// could not confirm any of its names (req.path empty: say one no longer leads to it beneath the
// mount), the first name the kernel may have reached it by. Never used to decide: the policy
// decides such a request as strictly as for an unknown path.
const std::string& ShownPath(const OpenRequest& req) {
  return req.path.empty() && !req.aliases.empty() ? req.aliases.front() : req.path;
}

// Tags each block as it is hashed; the first failure is kept in `error` (HashFd's observer
// cannot fail) and the caller fails the hash with it.
struct BlockSink {
  const BlockMac* mac;
  BlockDigests* out;
  Status error = Status::Ok();
  static void OnBlock(void* arg, uint64_t index, const uint8_t* data, size_t len) {
    auto* self = static_cast<BlockSink*>(arg);
    if (!self->error.ok()) return;
    auto tag = self->mac->Compute(self->out->series, index, data, len);
    if (!tag.ok()) {
      self->error = tag.status();
      return;
    }
    self->out->tags.insert(self->out->tags.end(), tag->begin(), tag->end());
  }
};

// Files from this size on are hashed with HashFdOptions::pipeline_min (enforce_open.sh, 1 GiB:
// the tags cost a fifth of the digest and the reads more, on one thread).
constexpr uint64_t kPipelineHashMin = uint64_t{16} << 20;

// What an OpenTicket carries with verify=blocks.
struct TicketBlocks {
  std::shared_ptr<const BlockDigests> digests;
  // The lower file, readable, for checking reads that cover part of a block. Opened when the
  // first such read comes (most opens are served whole blocks, or only from the page cache, and
  // never need it): `reopen` until then.
  std::function<Result<Fd>()> reopen;
  mutable std::mutex mu;
  mutable Fd fd;

  // The descriptor, opened on first use; -1 if it cannot be opened now (that read is refused,
  // and the next one tries again: EMFILE may pass).
  int Get() const {
    std::lock_guard lock(mu);
    if (!fd && reopen) {
      auto r = reopen();
      if (r.ok()) fd = std::move(r).value();
    }
    return fd.get();
  }
};

}  // namespace

std::string_view RefusalName(Refusal r) {
  switch (r) {
    case Refusal::kNone:
      return "none";
    case Refusal::kDenied:
      return "denied";
    case Refusal::kUnknown:
      return "unknown";
    case Refusal::kError:
      return "error";
  }
  return "?";
}

Result<EnforceMode> ParseEnforceMode(const std::string& mode) {
  if (mode == "enforce") return EnforceMode::kEnforce;
  if (mode == "permissive") return EnforceMode::kPermissive;
  return Status(
      Code::kInvalidArgument,
      "mode '" + mode + "' is not one of enforce, permissive (mode=off runs no enforcer)");
}

Enforcer::Enforcer(std::shared_ptr<Store> store, std::shared_ptr<Measurer> measurer, Policy policy,
                   EnforcerOptions opts)
    : store_(std::move(store)),
      measurer_(std::move(measurer)),
      policy_(std::make_shared<const Policy>(std::move(policy))),
      opts_(std::move(opts)),
      cache_(opts_.max_cache_entries) {}

Enforcer::~Enforcer() = default;

// ---- step 2: collect ------------------------------------------------------------------------

Result<std::shared_ptr<Content>> Enforcer::HashContent(int fd, uint64_t dev, uint64_t ino,
                                                       const std::function<bool()>* interrupted,
                                                       uint64_t max_bytes) {
  // Hash, then check the file did not change while it was read: (size, mtime, ctime) before and
  // after must agree, or the digest may describe bytes that were never all there at once.
  for (int attempt = 0; attempt < 3; ++attempt) {
    struct stat before, after;
    if (::fstat(fd, &before) != 0) return Status::FromErrno(errno, "fstat before hashing");
    if (max_bytes != 0 && static_cast<uint64_t>(before.st_size) > max_bytes) {
      return Status(Code::kFull, "larger than " + std::to_string(max_bytes) + " bytes (" +
                                     std::to_string(before.st_size) + ")");
    }
    auto c = std::make_shared<Content>();
    c->dev = dev;
    c->ino = ino;
    c->key = StatKey::From(before);
    std::shared_ptr<BlockDigests> blocks;
    for (size_t i = 0; i < opts_.algos.size(); ++i) {
      HashFdOptions ho;
      ho.max_bytes = max_bytes;
      // Small files get a small buffer: HashFd allocates (and zeroes) `chunk` bytes per call, which
      // would cost more than hashing a 4 KiB file.
      ho.chunk = static_cast<size_t>(
          std::clamp<uint64_t>((c->key.size + 4096) / 4096 * 4096, 64 * 1024, opts_.hash_chunk));
      if (interrupted && *interrupted) {
        ho.stop = [](void* a) { return (*static_cast<const std::function<bool()>*>(a))(); };
        ho.stop_arg = const_cast<std::function<bool()>*>(interrupted);
      }
      std::optional<BlockSink> sink;
      if (i == 0 && opts_.verify_blocks) {
        blocks = std::make_shared<BlockDigests>();
        blocks->block_size = opts_.block_size;
        DFS_ASSIGN_OR_RETURN(blocks->series, block_mac_.NewSeries());
        sink.emplace(BlockSink{&block_mac_, blocks.get()});
        ho.block_size = opts_.block_size;
        ho.on_block = &BlockSink::OnBlock;
        ho.arg = &*sink;
        // Large files: the block tags and the reads on a second thread, beside the digest.
        ho.pipeline_min = kPipelineHashMin;
      }
      uint64_t n = 0;
      auto d = HashFd(fd, opts_.algos[i], &n, ho);
      if (!d.ok()) return d.status();
      if (sink && !sink->error.ok()) return sink->error;
      stats_.hashes++;
      stats_.bytes_hashed += n;
      if (blocks && i == 0) blocks->file_size = n;
      if (n != c->key.size) c->key.size = UINT64_MAX;  // changed under us; forces a retry below
      c->digests.push_back(std::move(d).value());
    }
    if (::fstat(fd, &after) != 0) return Status::FromErrno(errno, "fstat after hashing");
    if (StatKey::From(after) == c->key) {
      c->blocks = std::move(blocks);
      return c;
    }
  }
  return Status(Code::kUnavailable, "the file kept changing while it was hashed");
}

// The inline hash's chunk: whole blocks, about 1 MiB.
size_t Enforcer::InlineChunk() const {
  const size_t bs = opts_.block_size > 0 ? opts_.block_size : kVerifyBlockSize;
  return std::max<size_t>(bs, (size_t{1} << 20) / bs * bs);
}

void Enforcer::PrepareThread(bool session) {
  if (session) {
    Prefault(&t_inline_buf, InlineChunk());
  } else {
    PrepareHashFd(opts_.hash_chunk);
  }
}

Result<std::shared_ptr<Content>> Enforcer::HashCachedContent(int fd, uint64_t dev, uint64_t ino,
                                                             uint64_t max) {
  const Status would_block(Code::kUnavailable, "not hashable inline", EAGAIN);
  t_inline_whole.valid = false;  // t_inline_buf is about to be overwritten
  struct stat before, after;
  if (::fstat(fd, &before) != 0) return Status::FromErrno(errno, "fstat before hashing");
  const uint64_t size = static_cast<uint64_t>(before.st_size);
  if (!S_ISREG(before.st_mode) || size > max) return would_block;
  std::vector<Hasher> hashers;
  for (HashAlgo algo : opts_.algos) {
    DFS_ASSIGN_OR_RETURN(Hasher h, Hasher::Create(algo));
    hashers.push_back(std::move(h));
  }
  std::shared_ptr<BlockDigests> blocks;
  std::optional<BlockSink> sink;
  if (opts_.verify_blocks) {
    blocks = std::make_shared<BlockDigests>();
    blocks->block_size = opts_.block_size > 0 ? opts_.block_size : kVerifyBlockSize;
    DFS_ASSIGN_OR_RETURN(blocks->series, block_mac_.NewSeries());
    sink.emplace(BlockSink{&block_mac_, blocks.get()});
  }
  // Chunks of whole blocks, read to their end (or EOF) before they are hashed, so that block i
  // is always bytes [i * block_size, (i + 1) * block_size). Read until EOF: a file that grew
  // since the fstat is seen as changing.
  const size_t bs = opts_.block_size > 0 ? opts_.block_size : kVerifyBlockSize;
  const size_t chunk = InlineChunk();
  ByteBuffer& buf = t_inline_buf;
  buf.resize(static_cast<size_t>(std::min<uint64_t>(chunk, size + 1)));
  uint64_t pos = 0, index = 0;
  int chunks = 0;
  for (bool eof = false; !eof; ++chunks) {
    size_t n = 0;
    while (n < buf.size()) {
      struct iovec iov = {buf.data() + n, buf.size() - n};
      ssize_t r = ::preadv2(fd, &iov, 1, static_cast<off_t>(pos + n), RWF_NOWAIT);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return would_block;  // EAGAIN: not all cached; any real error: the worker reports it
      if (r == 0) {
        eof = true;
        break;
      }
      n += static_cast<size_t>(r);
    }
    if (pos + n > size) return would_block;  // grew
    for (Hasher& h : hashers) h.Update(buf.data(), n);
    if (sink) {
      for (size_t off = 0; off < n; off += bs, ++index) {
        BlockSink::OnBlock(&*sink, index, buf.data() + off, std::min(bs, n - off));
      }
      if (!sink->error.ok()) return sink->error;
    }
    pos += n;
  }
  if (pos != size || ::fstat(fd, &after) != 0 || !(StatKey::From(after) == StatKey::From(before))) {
    return would_block;
  }
  auto c = std::make_shared<Content>();
  c->dev = dev;
  c->ino = ino;
  c->key = StatKey::From(before);
  for (Hasher& h : hashers) {
    c->digests.push_back(h.Finish());
    stats_.hashes++;
    stats_.bytes_hashed += pos;
  }
  if (blocks) {
    blocks->file_size = pos;
    c->blocks = std::move(blocks);
  }
  // One chunk: the first read reached EOF, so the buffer holds bytes [0, pos) of the file.
  if (chunks == 1) t_inline_whole = InlineWhole{true, dev, ino, c->key, static_cast<size_t>(pos)};
  return c;
}

OpenTicket Enforcer::ShareTicket(const OpenTicket& ticket,
                                 std::function<Result<Fd>()> reopen_readonly) {
  if (!ticket.blocks) return {};
  const auto* from = static_cast<const TicketBlocks*>(ticket.blocks.get());
  auto tb = std::make_shared<TicketBlocks>();
  tb->digests = from->digests;
  tb->reopen = std::move(reopen_readonly);
  return OpenTicket{std::move(tb)};
}

const void* Enforcer::TicketDigests(const OpenTicket& ticket) const {
  if (!ticket.blocks) return nullptr;
  return static_cast<const TicketBlocks*>(ticket.blocks.get())->digests.get();
}

std::span<const uint8_t> Enforcer::InlineHashedBytes(const struct stat& st) {
  const InlineWhole& w = t_inline_whole;
  if (!w.valid || w.len == 0 || static_cast<uint64_t>(st.st_dev) != w.dev ||
      static_cast<uint64_t>(st.st_ino) != w.ino || !(StatKey::From(st) == w.key) ||
      t_inline_buf.size() < w.len) {
    return {};
  }
  stats_.hashed_bytes_reused.fetch_add(1, std::memory_order_relaxed);
  return {t_inline_buf.data(), w.len};
}

uint64_t Enforcer::HashCap(const Decision& d, const Rule** cap_rule) const {
  uint64_t cap = opts_.max_hash_size;
  *cap_rule = nullptr;
  for (int f = 0; f < kNumFamilies; ++f) {
    const Rule* r = d.on(static_cast<Family>(f)) ? d.rule[f] : nullptr;
    if (r != nullptr && r->max_size && (cap == 0 || *r->max_size < cap)) {
      cap = *r->max_size;
      *cap_rule = r;
    }
  }
  return cap;
}

Status Enforcer::LookUp(Content* c) {
  c->generation = store_->Generation();
  LookupResult merged;
  for (const Digest& d : c->digests) {
    // Without paths: a path is needed only for a record bound to it (Vouches loads it then).
    auto r = store_->Lookup(d, LookupOptions{.paths = false});
    if (!r.ok()) {
      if (r.status().code() == Code::kNotFound) continue;
      Status s = r.status();
      return s.Prepend("store lookup");
    }
    merged.denied = merged.denied || r->denied;
    for (Provenance& p : r->provenance) merged.provenance.push_back(std::move(p));
  }
  c->lookup = std::move(merged);
  return Status::Ok();
}

Result<std::shared_ptr<const Content>> Enforcer::Collect(const OpenRequest& req, bool* hit) {
  const uint64_t dev = req.st.st_dev, ino = req.st.st_ino;
  auto compute = [&]() -> Result<std::shared_ptr<const Content>> {
    int fd = req.fd;
    Fd owned;
    const int acc = req.flags & O_ACCMODE;
    if (fd < 0 || acc == O_WRONLY || (req.flags & O_DIRECT)) {
      if (!req.reopen_readonly) {
        return Status(Code::kIo, "the file is not open for reading and cannot be reopened");
      }
      DFS_ASSIGN_OR_RETURN(owned, req.reopen_readonly());
      fd = owned.get();
    }
    auto hashed = HashContent(fd, dev, ino, &req.interrupted);
    if (!hashed.ok()) {
      if (hashed.status().sys_errno() == EINTR) {
        spdlog::info("hash_interrupted path={} inode={}:{} size={} reason={}", LogQuote(ShownPath(req)),
                     dev, ino, req.st.st_size, LogQuote(hashed.status().message()));
      }
      return hashed.status();
    }
    std::shared_ptr<Content> c = std::move(hashed).value();
    DFS_RETURN_IF_ERROR(LookUp(c.get()));
    return std::shared_ptr<const Content>(std::move(c));
  };
  Result<std::shared_ptr<const Content>> r = WouldBlock();
  if (t_inline) {
    std::shared_ptr<const Content> peeked = cache_.Peek(dev, ino, req.st, opts_.verify_blocks);
    if (peeked) {
      if (hit) *hit = true;
      r = std::move(peeked);
    } else {
      // A small file whose bytes are all cached is hashed here: cheaper than a hand-off. So is a
      // larger one when nothing else waits for this thread.
      const uint64_t size = static_cast<uint64_t>(req.st.st_size);
      const uint64_t max = opts_.inline_hash_max != 0 && size > opts_.inline_hash_max &&
                                   req.idle && req.idle()
                               ? std::max(opts_.inline_hash_max, opts_.inline_hash_idle_max)
                               : opts_.inline_hash_max;
      if (!S_ISREG(req.st.st_mode) || size > max) {
        return WouldBlock();
      }
      auto compute_cached = [&]() -> Result<std::shared_ptr<const Content>> {
        int fd = req.fd;
        Fd owned;
        const int acc = req.flags & O_ACCMODE;
        if (fd < 0 || acc == O_WRONLY || (req.flags & O_DIRECT)) {
          if (!req.reopen_readonly) return Status(Code::kUnavailable, "no reader", EAGAIN);
          auto o = req.reopen_readonly();
          if (!o.ok()) return Status(Code::kUnavailable, "reopen failed", EAGAIN);
          owned = std::move(o).value();
          fd = owned.get();
        }
        DFS_ASSIGN_OR_RETURN(std::shared_ptr<Content> c, HashCachedContent(fd, dev, ino, max));
        DFS_RETURN_IF_ERROR(LookUp(c.get()));
        return std::shared_ptr<const Content>(std::move(c));
      };
      r = cache_.Get(dev, ino, req.st, opts_.verify_blocks, compute_cached, hit, /*wait=*/false);
      if (!r.ok() && r.status().sys_errno() == EAGAIN) return WouldBlock();
      if (r.ok()) stats_.inline_hashes++;
    }
  } else {
    r = cache_.Get(dev, ino, req.st, opts_.verify_blocks, compute, hit);
    // The hash this open waited for was stopped because its own opener gave up: hash again,
    // unless this opener has given up too.
    for (int i = 0; i < 8 && !r.ok() && r.status().sys_errno() == EINTR &&
                    !(req.interrupted && req.interrupted());
         ++i) {
      r = cache_.Get(dev, ino, req.st, opts_.verify_blocks, compute, hit);
    }
  }
  if (!r.ok()) return r;
  if (hit && *hit) stats_.cache_hits++;
  std::shared_ptr<const Content> c = *r;
  if (c->generation != store_->Generation()) {
    // The store changed since the lookup: the digest still holds, the answer may not.
    auto fresh = std::make_shared<Content>(*c);
    DFS_RETURN_IF_ERROR(LookUp(fresh.get()));
    stats_.relookups++;
    cache_.Replace(c, fresh);
    c = std::move(fresh);
  }
  return c;
}

// ---- step 4: look up ------------------------------------------------------------------------

Result<SourceInfo> Enforcer::Source(uint64_t id) {
  const uint64_t gen = store_->Generation();
  {
    std::lock_guard lock(mu_);
    if (sources_generation_ != gen) {
      sources_.clear();
      sources_generation_ = gen;
    }
    auto it = sources_.find(id);
    if (it != sources_.end()) return it->second;
  }
  auto s = store_->GetSource(id);
  if (!s.ok()) {
    Status st = s.status();
    return st.Prepend("store: source " + std::to_string(id));
  }
  std::lock_guard lock(mu_);
  if (sources_generation_ == gen) sources_.emplace(id, *s);
  return s;
}

Result<bool> Enforcer::Vouches(const Content& c, const std::string& path, AccessOp op, bool bind,
                               uint64_t* source_id, std::string* why_not) {
  const auto& prov = c.lookup.provenance;
  if (prov.empty()) {
    *why_not = "unknown content: no source lists this digest";
    return false;
  }
  std::string elsewhere;  // a path some bound record names, for the message
  bool local_for_exec = false;
  for (const Provenance& p : prov) {
    DFS_ASSIGN_OR_RETURN(SourceInfo src, Source(p.source_id));
    if (src.state != SourceState::kActive) continue;
    const bool local = src.kind == SourceKind::kLocal;
    // A record binds its digest to its path when the rule says bind=path, when it is a mutable
    // (config) file, or when it is a local re-trust: none of those vouch for content elsewhere.
    const bool bound = bind || (p.flags & kFileMutable) || local;
    if (bound) {
      std::string loaded;
      if (!p.has_path) {
        auto fp = store_->FilePath(p.source_id, p.file_index);
        if (!fp.ok()) {
          Status st = fp.status();
          return st.Prepend("store: path of file " + std::to_string(p.file_index) + " of source " +
                            std::to_string(p.source_id));
        }
        loaded = std::move(fp).value();
      }
      const std::string& rec_path = p.has_path ? p.path : loaded;
      if (rec_path != path) {
        if (elsewhere.empty()) elsewhere = rec_path;
        continue;
      }
    }
    if (local && op == AccessOp::kExec) {
      local_for_exec = true;  // mutable re-trust covers data, never code
      continue;
    }
    *source_id = p.source_id;
    return true;
  }
  if (local_for_exec) {
    *why_not = "content is trusted only by a local re-trust, which never counts for exec";
  } else if (!elsewhere.empty()) {
    *why_not = std::string("content is listed only at another path (") + elsewhere + ")" +
               (bind ? "; the rule binds paths" : "; the record binds its path");
  } else {
    *why_not = "unknown content: no active source lists this digest";
  }
  return false;
}

// ---- steps 1-4 and the verdict, without side effects -----------------------------------------

bool ReadSideAppraised(const OpenRequest& req) {
  // A write-only open reads nothing. An open that truncates the file, or finds it empty (a file
  // it has just created), has nothing to read yet: what it reads later was written after the
  // open, through the mount (each such write drops the file's verdict for later opens).
  return req.op == AccessOp::kWrite && (req.flags & O_ACCMODE) == O_RDWR &&
         (req.flags & O_TRUNC) == 0 && req.st.st_size > 0;
}

Assessment Enforcer::Assess(const OpenRequest& req) {
  Assessment a;
  Subject s{req.path, req.op, req.uid, static_cast<uint32_t>(req.st.st_uid), req.st.st_mode};
  // A FUSE open does not say which name was used: decide for the strictest of the file's names.
  a.policy = policy_.load();
  a.decision = a.policy->DecideStrictest(s, req.aliases);
  if (ReadSideAppraised(req)) {
    // An O_RDWR open reads too: its read side is decided like a read (G1), and per family the
    // stricter of the two decisions holds.
    Subject r = s;
    r.op = AccessOp::kRead;
    Decision read = a.policy->DecideStrictest(r, req.aliases);
    for (int f = 0; f < kNumFamilies; ++f) {
      const Family fam = static_cast<Family>(f);
      if (!a.decision.on(fam) && read.on(fam)) a.decision.rule[f] = read.rule[f];
    }
  }
  if (!a.decision.any()) return a;

  bool too_large = false;
  const Rule* cap_rule = nullptr;
  const uint64_t cap = HashCap(a.decision, &cap_rule);
  const uint64_t size = static_cast<uint64_t>(req.st.st_size);
  if (!S_ISREG(req.st.st_mode)) {
    // Only regular files have content to hash; nothing vouches for anything else.
    a.unknown_reason = "not a regular file";
  } else if (cap != 0 && size > cap) {
    // Not hashed: a huge (or huge sparse) file would keep a worker busy for minutes.
    too_large = true;
    a.unknown_reason = (cap_rule != nullptr ? "larger than max_size=" + std::to_string(cap) +
                                                  " of rule " + std::to_string(cap_rule->line)
                                            : "larger than max_hash_size=" + std::to_string(cap)) +
                       " (" + std::to_string(size) + " bytes; not hashed)";
  } else {
    auto c = Collect(req, &a.cache_hit);
    if (!c.ok()) {
      a.error = c.status();
      a.refusal = Refusal::kError;
      a.reason = "fail closed: " + a.error.ToString();
      return a;
    }
    a.content = *c;
    if (a.content->lookup.denied) {
      a.refusal = Refusal::kDenied;
      a.reason = "digest is on the deny list";
      return a;
    }
  }
  for (int f = 0; f < kNumFamilies; ++f) {
    const Family fam = static_cast<Family>(f);
    if (!a.decision.on(fam) || !a.content) continue;
    std::string why;
    auto k = Vouches(*a.content, req.path, req.op, a.decision.of(fam)->bind_path,
                     &a.vouching_source[f], &why);
    // Path-bound records must vouch at every name of a hard-linked file, not just one.
    for (size_t i = 0; i < req.aliases.size() && k.ok() && *k; ++i) {
      uint64_t ignored = 0;
      k = Vouches(*a.content, req.aliases[i], req.op, a.decision.of(fam)->bind_path, &ignored,
                  &why);
    }
    if (!k.ok()) {
      a.error = k.status();
      a.refusal = Refusal::kError;
      a.reason = "fail closed: " + a.error.ToString();
      return a;
    }
    a.known[f] = *k;
    if (!*k && (a.unknown_reason.empty() || fam == Family::kAppraise)) a.unknown_reason = why;
  }
  if (a.decision.on(Family::kAppraise) && !a.known[static_cast<int>(Family::kAppraise)]) {
    a.refusal = Refusal::kUnknown;
    a.refusal_rule = a.decision.of(Family::kAppraise);
    a.reason = a.unknown_reason;
  } else if (too_large && a.decision.on(Family::kMeasure)) {
    // Measurement needs a digest: an unhashed file cannot be let through unmeasured.
    a.refusal = Refusal::kUnknown;
    a.refusal_rule = a.decision.of(Family::kMeasure);
    a.reason = "cannot be measured: " + a.unknown_reason;
  }
  return a;
}

// ---- step 5: measure --------------------------------------------------------------------------

void Enforcer::CountMeasurementError(const Status& s) {
  stats_.measurement_errors.fetch_add(1, std::memory_order_relaxed);
  if (s.code() == Code::kUnavailable) stats_.tpm_errors.fetch_add(1, std::memory_order_relaxed);
}

void Enforcer::Counters(std::vector<std::pair<std::string, uint64_t>>* out) const {
  auto get = [](const std::atomic<uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  out->emplace_back("opens", get(stats_.opens));
  out->emplace_back("inline_opens", get(stats_.inline_opens));
  out->emplace_back("unchecked_opens", get(stats_.unchecked));
  out->emplace_back("cache_hits", get(stats_.cache_hits));
  out->emplace_back("files_hashed", get(stats_.hashes));
  out->emplace_back("bytes_hashed", get(stats_.bytes_hashed));
  out->emplace_back("hashed_bytes_reused", get(stats_.hashed_bytes_reused));
  out->emplace_back("relookups", get(stats_.relookups));
  out->emplace_back("refusals", get(stats_.refusals));
  out->emplace_back("refusals_logged", get(stats_.refusals_logged));
  out->emplace_back("audits_logged", get(stats_.audits_logged));
  out->emplace_back("measurements", get(stats_.measurements));
  out->emplace_back("measurement_errors", get(stats_.measurement_errors));
  out->emplace_back("tpm_errors", get(stats_.tpm_errors));
  out->emplace_back("retrusted", get(stats_.retrusted));
  out->emplace_back("read_mismatches", get(stats_.read_mismatches));
  out->emplace_back("log_suppressed", get(stats_.log_suppressed));
  out->emplace_back("reloads", get(stats_.reloads));
  out->emplace_back("reloads_refused", get(stats_.reloads_refused));
  out->emplace_back("cache_entries", cache_.size());
  out->emplace_back("cache_evictions", cache_.evictions());
}

Status Enforcer::Measure(const Assessment& a, const OpenRequest& req) {
  constexpr int kM = static_cast<int>(Family::kMeasure);
  if (!a.decision.on(Family::kMeasure) || !a.content || !measurer_) return Status::Ok();
  if (a.known[kM]) {
    const uint64_t id = a.vouching_source[kM];
    {
      std::lock_guard lock(mu_);
      if (measured_sources_.count(id)) return Status::Ok();
    }
    if (t_inline) return WouldBlock();
    DFS_ASSIGN_OR_RETURN(SourceInfo src, Source(id));
    Status s = measurer_->MeasureSource(src);
    if (!s.ok()) {
      CountMeasurementError(s);
      return s.Prepend("measuring source " + src.name);
    }
    std::lock_guard lock(mu_);
    measured_sources_.insert(id);
    stats_.measurements++;
    return Status::Ok();
  }
  std::string key = a.content->primary().ToString();
  key += '\0';
  key += ShownPath(req);
  {
    std::lock_guard lock(mu_);
    if (measured_files_.count(key)) return Status::Ok();
  }
  if (t_inline) return WouldBlock();
  Status s = measurer_->MeasureFile(a.content->primary(), ShownPath(req));
  if (!s.ok()) {
    CountMeasurementError(s);
    return s.Prepend("measuring " + ShownPath(req));
  }
  std::lock_guard lock(mu_);
  measured_files_.insert(std::move(key));
  stats_.measurements++;
  return Status::Ok();
}

// ---- steps 7-8: audit and verdict -------------------------------------------------------------

namespace {
// What names one file in the log keys: inode number and ctime. A new file that reuses an old
// inode number (unlink + create) has a new ctime, so its lines are written again even when its
// content is the same.
std::string FileKey(const struct stat& st) {
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" +
         std::to_string(st.st_ctim.tv_sec) + "." + std::to_string(st.st_ctim.tv_nsec);
}
}  // namespace

bool Enforcer::FirstTime(const std::string& key) {
  std::lock_guard lock(mu_);
  if (logged_.size() >= kMaxLogKeys) logged_.clear();  // bounded; a flood is still rate-limited
  return logged_.insert(key).second;
}

void Enforcer::LogRefusal(const Assessment& a, const OpenRequest& req) {
  const std::string digest = a.content ? a.content->primary().ToString() : std::string("-");
  std::string key = FileKey(req.st) + ":" + digest + ":" + std::string(RefusalName(a.refusal)) +
                    ":" + RuleRef(a.refusal_rule) + ":" + std::string(AccessOpName(req.op));
  if (a.refusal == Refusal::kError) key += ":" + std::string(CodeName(a.error.code()));
  if (!FirstTime(key)) return;
  if (!RefusalLineAllowed()) return;
  stats_.refusals_logged++;
  spdlog::warn("{} path={} op={} inode={}:{} uid={} digest={} rule={} verdict={} reason={}",
               opts_.mode == EnforceMode::kPermissive ? "would_refuse" : "refused",
               LogQuote(ShownPath(req)), AccessOpName(req.op), req.st.st_dev, req.st.st_ino, req.uid,
               digest, RuleRef(a.refusal_rule), RefusalName(a.refusal), LogQuote(a.reason));
}

namespace {
constexpr double kRefusalLinesPerSecond = 10;
constexpr double kRefusalLineBurst = 50;
}  // namespace

void Enforcer::ReportSuppressed(uint64_t n) {
  spdlog::warn("event=refusals_suppressed count={} limit={}/s burst={} (see the refusals counter)",
               n, kRefusalLinesPerSecond, kRefusalLineBurst);
}

bool Enforcer::RefusalLineAllowed() {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  const int64_t ns = static_cast<int64_t>(now.tv_sec) * 1000000000 + now.tv_nsec;
  uint64_t report = 0;
  {
    std::lock_guard lock(mu_);
    if (refusal_tokens_at_ns_ == 0) {
      refusal_tokens_ = kRefusalLineBurst;
    } else {
      refusal_tokens_ = std::min(kRefusalLineBurst,
                                 refusal_tokens_ + static_cast<double>(ns - refusal_tokens_at_ns_) *
                                                       kRefusalLinesPerSecond / 1e9);
    }
    refusal_tokens_at_ns_ = ns;
    if (refusal_tokens_ < 1) {
      suppressed_unreported_++;
      stats_.log_suppressed.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    refusal_tokens_ -= 1;
    report = std::exchange(suppressed_unreported_, 0);
  }
  if (report != 0) ReportSuppressed(report);
  return true;
}

void Enforcer::Tick() {
  uint64_t report;
  {
    std::lock_guard lock(mu_);
    report = std::exchange(suppressed_unreported_, 0);
  }
  if (report != 0) ReportSuppressed(report);
}

bool Enforcer::TryCheckOpenInline(const OpenRequest& req, OpenTicket* ticket, Status* result) {
  t_inline = true;
  Status s = CheckOpen(req, ticket);
  t_inline = false;
  if (IsWouldBlock(s)) return false;
  stats_.inline_opens++;
  *result = std::move(s);
  return true;
}

namespace {
std::string_view NodeTypeName(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFIFO:
      return "fifo";
    case S_IFSOCK:
      return "socket";
    case S_IFCHR:
      return "character device";
    case S_IFBLK:
      return "block device";
  }
  return "non-regular file";
}
}  // namespace

Status Enforcer::CheckNode(const OpenRequest& req) {
  Subject s{req.path, AccessOp::kRead, req.uid, static_cast<uint32_t>(req.st.st_uid),
            req.st.st_mode};
  std::shared_ptr<const Policy> policy = policy_.load();  // keeps d's rules alive
  Decision d = policy->DecideStrictest(s, req.aliases);
  if (!d.on(Family::kAppraise)) return Status::Ok();
  Assessment a;
  a.decision = d;
  a.refusal = Refusal::kUnknown;
  a.refusal_rule = d.of(Family::kAppraise);
  a.reason =
      "a " + std::string(NodeTypeName(req.st.st_mode)) + " has no content the store can vouch for";
  stats_.refusals++;
  // Keyed by name as well: a node about to be made has no inode yet.
  std::string key = "node:" + FileKey(req.st) + ":" + req.path + ":" + RuleRef(a.refusal_rule);
  if (FirstTime(key) && RefusalLineAllowed()) {
    stats_.refusals_logged++;
    spdlog::warn("{} path={} op=read inode={}:{} uid={} digest=- rule={} verdict=unknown reason={}",
                 opts_.mode == EnforceMode::kPermissive ? "would_refuse" : "refused",
                 LogQuote(ShownPath(req)), req.st.st_dev, req.st.st_ino, req.uid,
                 RuleRef(a.refusal_rule), LogQuote(a.reason));
  }
  if (opts_.mode == EnforceMode::kPermissive) return Status::Ok();
  return Status(Code::kPermissionDenied, a.reason);
}

Status Enforcer::CheckOpen(const OpenRequest& req, OpenTicket* ticket) {
  Assessment a = Assess(req);
  if (t_inline && IsWouldBlock(a.error)) return WouldBlock();
  stats_.opens++;
  if (!a.decision.any()) {
    stats_.unchecked++;
    return Status::Ok();
  }
  // IMA measures before it appraises: an unknown file is measured even if appraisal refuses it.
  if (a.refusal == Refusal::kNone || a.refusal == Refusal::kUnknown) {
    Status m = Measure(a, req);
    if (t_inline && IsWouldBlock(m)) {
      stats_.opens--;  // decided again off the session thread, and counted there
      return WouldBlock();
    }
    if (!m.ok()) {
      a.error = m;
      a.refusal = Refusal::kError;
      a.refusal_rule = a.decision.of(Family::kMeasure);
      a.reason = "fail closed: " + m.ToString();
    }
  }
  constexpr int kA = static_cast<int>(Family::kAudit);
  if (!a.refused() && a.decision.on(Family::kAudit) && !a.known[kA]) {
    const std::string digest = a.content ? a.content->primary().ToString() : std::string("-");
    std::string key =
        FileKey(req.st) + ":" + digest + ":audit:" + RuleRef(a.decision.of(Family::kAudit));
    if (FirstTime(key)) {
      stats_.audits_logged++;
      spdlog::info("audit path={} op={} inode={}:{} uid={} digest={} rule={} reason={}",
                   LogQuote(ShownPath(req)), AccessOpName(req.op), req.st.st_dev, req.st.st_ino,
                   req.uid, digest, RuleRef(a.decision.of(Family::kAudit)),
                   LogQuote(a.unknown_reason));
    }
  }
  bool retrust_pending = false;
  if (a.refusal == Refusal::kUnknown && req.op != AccessOp::kExec &&
      PendingRetrust(req.st.st_dev, req.st.st_ino) &&
      a.policy->IsMutable(Subject{req.path, req.op, req.uid, static_cast<uint32_t>(req.st.st_uid),
                                  req.st.st_mode})) {
    // A mutable file being written through the mount: its content is the writer's, and is
    // re-trusted when the last writer closes (FUSE sends that release after close(2) returns,
    // so a reader may get here first). Not for exec: re-trust never covers code.
    spdlog::debug("allowed_pending_retrust path={} inode={}:{}", LogQuote(ShownPath(req)), req.st.st_dev,
                  req.st.st_ino);
    a.refusal = Refusal::kNone;
    retrust_pending = true;
  }
  if (a.refused()) {
    stats_.refusals++;
    LogRefusal(a, req);
    if (opts_.mode == EnforceMode::kEnforce) {
      if (a.refusal == Refusal::kError) {
        if (a.error.code() == Code::kPermissionDenied) return a.error;
        return Status(a.error.code() == Code::kOk ? Code::kInternal : a.error.code(), a.reason);
      }
      return Status(Code::kPermissionDenied, ShownPath(req) + ": " + a.reason);
    }
  }
  // A handle with write access reads what it (or another writer through the mount) wrote, which
  // no verified block digest can vouch for: such handles are not block-checked (docs/policy.md).
  // Only appraised content is block-checked: audit and measure rules vouch for nothing a reader
  // relies on (a mutable log appended beneath the mount stays readable), and a mutable file
  // allowed while its re-trust is pending holds a writer's bytes, not verified ones.
  const bool writer = (req.flags & O_ACCMODE) != O_RDONLY;
  if (ticket && opts_.verify_blocks && !writer && !retrust_pending &&
      a.decision.on(Family::kAppraise) && a.content && a.content->blocks) {
    // The ticket keeps the block digests and its own descriptor of the lower file, so that a read
    // of part of a block can be checked against the whole block (see CheckRead).
    auto tb = std::make_shared<TicketBlocks>();
    tb->digests = a.content->blocks;
    if (req.fd >= 0 && (req.flags & O_ACCMODE) != O_WRONLY && !(req.flags & O_DIRECT)) {
      tb->fd = Fd(::fcntl(req.fd, F_DUPFD_CLOEXEC, 0));
    } else {
      tb->reopen = req.reopen_readonly;  // a reader: opened by the first partial-block read
    }
    ticket->blocks = std::move(tb);
  }
  return Status::Ok();
}

// ---- verify=blocks ----------------------------------------------------------------------------

Status Enforcer::CheckRead(const OpenTicket& ticket, uint64_t offset,
                           std::span<const uint8_t> data) {
  if (!ticket.blocks) return Status::Ok();
  const auto* tb = static_cast<const TicketBlocks*>(ticket.blocks.get());
  const BlockDigests& b = *tb->digests;
  const uint64_t bs = b.block_size;
  const bool permissive = opts_.mode == EnforceMode::kPermissive;
  auto bad = [&](const std::string& why) {
    stats_.read_mismatches++;
    if (FirstTime("read:" + std::to_string(reinterpret_cast<uintptr_t>(tb)) + ":" + why)) {
      if (permissive) {
        spdlog::warn("would_refuse_read offset={} len={} reason={}", offset, data.size(),
                     LogQuote(why));
      } else {
        spdlog::error("read_refused offset={} len={} reason={}", offset, data.size(),
                      LogQuote(why));
      }
    }
    // Permissive mode logs what it would refuse and serves the read, as it does for opens.
    return permissive ? Status::Ok() : Status(Code::kCorrupt, why);
  };
  if (data.empty()) {
    if (offset >= b.file_size) return Status::Ok();
    return bad("short read: the file is smaller than when it was verified");
  }
  const uint64_t end = offset + data.size();
  if (bs == 0 || end > b.file_size) return bad("read past the verified size of the file");
  // A tag that cannot be computed (an OpenSSL failure) counts as a mismatch: fail closed.
  auto check_block = [&](uint64_t index, const uint8_t* p, size_t len) {
    return index < b.count() &&
           block_mac_.Verify(b.series, index, p, len, &b.tags[index * BlockMac::kTagSize]);
  };
  // Whole blocks in `data` are checked as they are. A block only partly covered by `data` is
  // read whole from the ticket's descriptor, checked, and `data` must equal its verified bytes.
  uint64_t pos = offset;
  std::vector<uint8_t> whole;
  while (pos < end) {
    const uint64_t index = pos / bs;
    const uint64_t bstart = index * bs;
    const uint64_t bend = std::min(bstart + bs, b.file_size);
    const uint8_t* p = data.data() + (pos - offset);
    if (pos == bstart && end >= bend) {
      if (!check_block(index, p, static_cast<size_t>(bend - bstart))) {
        return bad("block " + std::to_string(index) + " does not match its verified digest");
      }
    } else {
      const int fd = tb->Get();
      if (fd < 0) return bad("partial-block read and no descriptor to read the whole block");
      whole.resize(static_cast<size_t>(bend - bstart));
      size_t n = 0;
      while (n < whole.size()) {
        ssize_t r = ::pread(fd, whole.data() + n, whole.size() - n,
                            static_cast<off_t>(bstart + n));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += static_cast<size_t>(r);
      }
      if (n != whole.size() || !check_block(index, whole.data(), whole.size())) {
        return bad("block " + std::to_string(index) + " does not match its verified digest");
      }
      const uint64_t upto = std::min(end, bend);
      if (std::memcmp(p, whole.data() + (pos - bstart), static_cast<size_t>(upto - pos)) != 0) {
        return bad("bytes read in block " + std::to_string(index) +
                   " differ from the verified block");
      }
    }
    pos = std::min(end, bend);
  }
  return Status::Ok();
}

// ---- G2 and mutable files ---------------------------------------------------------------------

void Enforcer::Changed(uint64_t dev, uint64_t ino) {
  cache_.Drop(dev, ino);
  if (!policy_.load()->has_mutable()) return;
  std::lock_guard lock(mu_);
  if (pending_retrust_.size() >= kMaxLogKeys) pending_retrust_.clear();
  pending_retrust_.insert(InodeKey(dev, ino));
}

bool Enforcer::PendingRetrust(uint64_t dev, uint64_t ino) {
  std::lock_guard lock(mu_);
  return pending_retrust_.count(InodeKey(dev, ino)) > 0;
}

void Enforcer::WriterClosed(uint64_t dev, uint64_t ino, const std::string& path,
                            const std::function<Result<Fd>()>& reopen_readonly,
                            const std::function<bool()>& still_named) {
  cache_.Drop(dev, ino);
  // Whatever happens below, the file is no longer being written through the mount: from now on
  // only its recorded (re-)trust counts.
  struct ClearPending {
    Enforcer* e;
    uint64_t dev, ino;
    ~ClearPending() {
      std::lock_guard lock(e->mu_);
      e->pending_retrust_.erase(InodeKey(dev, ino));
    }
  } clear_pending{this, dev, ino};
  std::shared_ptr<const Policy> policy = policy_.load();
  if (!policy->has_mutable() || !reopen_readonly) return;
  auto fd = reopen_readonly();
  if (!fd.ok()) {
    spdlog::warn("retrust_failed path={} inode={}:{} reason={}", LogQuote(path), dev, ino,
                 LogQuote(fd.status().ToString()));
    return;
  }
  struct stat st;
  if (::fstat(fd->get(), &st) != 0 || st.st_dev != dev || st.st_ino != ino ||
      !S_ISREG(st.st_mode)) {
    return;  // replaced or gone: the next open decides afresh
  }
  Subject s{path, AccessOp::kRead, static_cast<uint32_t>(st.st_uid),
            static_cast<uint32_t>(st.st_uid), st.st_mode};
  if (!policy->IsMutable(s)) return;
  // The size cap an open of it is decided under (Assess): a re-trust hashes the whole file on a
  // release thread (fs/: at most two per user), opens of it wait, and a huge sparse file costs
  // its writer nothing to make. Above it (now, or grown past it while it is hashed: a truncate
  // through the mount does not wait for this release) the file stays unknown content, as an
  // open would find it.
  const Rule* cap_rule = nullptr;
  const uint64_t cap = HashCap(policy->DecideStrictest(s, {}), &cap_rule);
  auto skipped = [&](uint64_t size) {
    spdlog::warn("retrust_skipped path={} inode={}:{} size={} reason={}", LogQuote(path), dev,
                 ino, size,
                 LogQuote(cap_rule != nullptr
                              ? "larger than max_size=" + std::to_string(cap) + " of rule " +
                                    std::to_string(cap_rule->line)
                              : "larger than max_hash_size=" + std::to_string(cap)));
  };
  if (cap != 0 && static_cast<uint64_t>(st.st_size) > cap) {
    skipped(static_cast<uint64_t>(st.st_size));
    return;
  }
  if (!opts_.store_writable) {
    std::lock_guard lock(mu_);
    if (!warned_readonly_) {
      warned_readonly_ = true;
      spdlog::warn("retrust_disabled reason=\"the store is open read-only\" path={}",
                   LogQuote(path));
    }
    return;
  }
  {
    // Each new path is a store record and a generation: bounded per mount.
    std::lock_guard lock(mu_);
    if (!retrusted_paths_.count(path)) {
      if (retrusted_paths_.size() >= opts_.max_retrust_paths) {
        if (!warned_retrust_limit_) {
          warned_retrust_limit_ = true;
          spdlog::warn(
              "retrust_limit_reached limit={} path={} (files at new mutable paths are "
              "not re-trusted until remount; raise retrust_max= or drop mutable there)",
              opts_.max_retrust_paths, LogQuote(path));
        }
        return;
      }
      retrusted_paths_.insert(path);
    }
  }
  spdlog::debug("retrust_start path={} inode={}:{} size={}", LogQuote(path), dev, ino, st.st_size);
  auto c = HashContent(fd->get(), dev, ino, nullptr, cap);
  if (!c.ok() && c.status().code() == Code::kFull) {
    struct stat now;
    skipped(::fstat(fd->get(), &now) == 0 ? static_cast<uint64_t>(now.st_size) : cap + 1);
    return;
  }
  if (!c.ok()) {
    spdlog::warn("retrust_failed path={} inode={}:{} reason={}", LogQuote(path), dev, ino,
                 LogQuote(c.status().ToString()));
    return;
  }
  std::unique_lock record(retrust_record_mu_);
  if (still_named && !still_named()) {
    // Renamed away or replaced while hashed: a record here would describe another file (and
    // might replace the record of the file written there since).
    spdlog::info("retrust_stale path={} inode={}:{}", LogQuote(path), dev, ino);
    return;
  }
  Status t = store_->TrustLocal(path, (*c)->primary(), st.st_mode);
  record.unlock();
  if (!t.ok()) {
    spdlog::warn("retrust_failed path={} digest={} reason={}", LogQuote(path),
                 (*c)->primary().ToString(), LogQuote(t.ToString()));
    return;
  }
  stats_.retrusted++;
  spdlog::info("retrusted path={} inode={}:{} digest={}", LogQuote(path), dev, ino,
               (*c)->primary().ToString());
  if (LookUp(c->get()).ok()) cache_.Replace(nullptr, std::move(c).value());
}

Status Enforcer::MeasureAllSources() {
  if (!measurer_) return Status::Ok();
  DFS_ASSIGN_OR_RETURN(std::vector<SourceInfo> all, store_->ListSources());
  // The measurement component's fixed order (kind, name, blob digest), so that two fresh mounts
  // over the same store replay to the same PCR.
  std::sort(all.begin(), all.end(), [](const SourceInfo& x, const SourceInfo& y) {
    return std::tie(x.kind, x.name, x.blob_digest) < std::tie(y.kind, y.name, y.blob_digest);
  });
  for (const SourceInfo& s : all) {
    if (s.state != SourceState::kActive) continue;
    Status m = measurer_->MeasureSource(s);
    if (!m.ok()) {
      CountMeasurementError(m);
      return m.Prepend("measuring source " + s.name);
    }
    std::lock_guard lock(mu_);
    measured_sources_.insert(s.id);
    stats_.measurements++;
  }
  return Status::Ok();
}

// ---- reload (SIGHUP) ---------------------------------------------------------------------------

Status Enforcer::Reload() {
  EnforcerConfig cfg;
  cfg.policy_file = opts_.policy_file;
  const std::string name = cfg.policy_file.empty() ? "<default policy>" : cfg.policy_file;
  Result<Policy> p = LoadPolicyFor(cfg);
  Status refused;
  if (!p.ok()) {
    refused = p.status();
  } else if (p->has_family(Family::kMeasure) && !measurer_) {
    refused = Status(Code::kInvalidArgument,
                     name +
                         ": the new policy has measure rules but this mount was started "
                         "without a measurement log (remount to measure)");
  }
  if (!refused.ok()) {
    stats_.reloads_refused.fetch_add(1, std::memory_order_relaxed);
    spdlog::error(
        "event=policy_reload_refused policy={} reason={} (the previous policy stays in "
        "force)",
        LogQuote(name), LogQuote(refused.ToString()));
    return refused;
  }
  if (p->has_mutable() && !opts_.store_writable) {
    spdlog::warn(
        "event=policy_reload_store_readonly policy={} (mutable rules: files are not "
        "re-trusted until a remount opens the store read-write)",
        LogQuote(name));
  }
  // Every open decides from the policy it loads (Assess); content digests and store lookups in the
  // cache do not depend on the policy, but the refusal and audit lines were keyed by the old
  // rules' lines: forget them so the new policy's verdicts are logged.
  policy_.store(std::make_shared<const Policy>(std::move(p).value()));
  {
    std::lock_guard lock(mu_);
    logged_.clear();
  }
  stats_.reloads.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("event=policy_reloaded policy={}", LogQuote(name));
  return Status::Ok();
}

// ---- construction -----------------------------------------------------------------------------

Result<Policy> LoadPolicyFor(const EnforcerConfig& cfg) {
  if (cfg.policy_file.empty()) return Policy::Parse(Policy::DefaultText(), "<default policy>");
  return Policy::Load(cfg.policy_file);
}

Result<std::unique_ptr<Enforcer>> CreateEnforcerWith(const EnforcerConfig& cfg, Policy policy,
                                                     std::shared_ptr<Store> store,
                                                     bool store_writable,
                                                     std::shared_ptr<Measurer> measurer) {
  DFS_ASSIGN_OR_RETURN(EnforceMode mode, ParseEnforceMode(cfg.mode));
  EnforcerOptions o;
  o.mode = mode;
  o.verify_blocks = cfg.verify_blocks;
  o.store_writable = store_writable;
  o.max_retrust_paths = cfg.retrust_max;
  o.max_hash_size = cfg.max_hash_size;
  o.policy_file = cfg.policy_file;
  // Hash with every strong algorithm the store holds digests of; SHA-256 first when present.
  auto stats = store->Stats();
  if (!stats.ok()) {
    Status s = stats.status();
    return s.Prepend("reading the store's statistics");
  }
  std::vector<HashAlgo> algos;
  for (const auto& [name, n] : stats->digests_per_algo) {
    HashAlgo a = HashAlgoFromName(name);
    if (n == 0 || a == HashAlgo::kUnknown || HashAlgoIsWeak(a)) continue;
    if (std::find(algos.begin(), algos.end(), a) == algos.end()) algos.push_back(a);
  }
  auto sha = std::find(algos.begin(), algos.end(), HashAlgo::kSha256);
  if (sha == algos.end()) {
    algos.insert(algos.begin(), HashAlgo::kSha256);
  } else {
    std::rotate(algos.begin(), sha, sha + 1);
  }
  o.algos = std::move(algos);
  auto e = std::make_unique<Enforcer>(std::move(store), std::move(measurer), std::move(policy),
                                      std::move(o));
  if (cfg.measure_all_sources) DFS_RETURN_IF_ERROR(e->MeasureAllSources());
  return e;
}

}  // namespace dfs
