#include "crypto/hash.h"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <system_error>
#include <thread>
#include <vector>

#include "common/byte_buffer.h"

namespace dfs {

namespace {
// HashFd's buffer (serial path): one per thread, reused and never zeroed. A fresh, zero-filled
// `chunk` per file (with its page faults) cost a first pass over a rootfs more than hashing did
// (perf of the daemon during a cold `python3 -c 1`: memset and its faults 28% of its CPU time,
// SHA-256 under 5%); PrepareHashFd() faults it in before the thread's first hash.
thread_local ByteBuffer t_hash_buf;

// The chunk HashFd reads: opts.chunk rounded up to whole blocks.
size_t HashChunk(const HashFdOptions& opts) {
  size_t chunk = opts.chunk ? opts.chunk : (1 << 20);
  if (opts.block_size && chunk % opts.block_size)
    chunk = opts.block_size * (chunk / opts.block_size + 1);
  return chunk;
}
const EVP_MD* MdFor(HashAlgo a) {
  switch (a) {
    case HashAlgo::kMd5:
      return EVP_md5();
    case HashAlgo::kSha1:
      return EVP_sha1();
    case HashAlgo::kSha224:
      return EVP_sha224();
    case HashAlgo::kSha256:
      return EVP_sha256();
    case HashAlgo::kSha384:
      return EVP_sha384();
    case HashAlgo::kSha512:
      return EVP_sha512();
    case HashAlgo::kSm3:
      return EVP_get_digestbyname("SM3");
    case HashAlgo::kUnknown:
      break;
  }
  return nullptr;
}
}  // namespace

struct Hasher::Ctx {
  struct Free {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> md;
  const EVP_MD* type = nullptr;
};

Hasher::Hasher(HashAlgo algo, std::unique_ptr<Ctx> ctx) : algo_(algo), ctx_(std::move(ctx)) {}
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

Result<Hasher> Hasher::Create(HashAlgo algo) {
  const EVP_MD* md = MdFor(algo);
  if (md == nullptr) {
    return Status(Code::kUnsupported,
                  "hash algorithm " + std::string(HashAlgoName(algo)) + " is not available");
  }
  auto ctx = std::make_unique<Ctx>();
  ctx->md.reset(EVP_MD_CTX_new());
  ctx->type = md;
  if (!ctx->md || EVP_DigestInit_ex(ctx->md.get(), md, nullptr) != 1) {
    return Status(Code::kInternal, "EVP_DigestInit_ex failed");
  }
  return Hasher(algo, std::move(ctx));
}

void Hasher::Update(const void* data, size_t len) {
  if (len) EVP_DigestUpdate(ctx_->md.get(), data, len);
}

Digest Hasher::Finish() {
  Digest d;
  d.algo = algo_;
  d.bytes.resize(EVP_MAX_MD_SIZE);
  unsigned int n = 0;
  EVP_DigestFinal_ex(ctx_->md.get(), d.bytes.data(), &n);
  d.bytes.resize(n);
  EVP_DigestInit_ex(ctx_->md.get(), ctx_->type, nullptr);
  return d;
}

Result<Digest> HashBytes(HashAlgo algo, const void* data, size_t len) {
  auto h = Hasher::Create(algo);
  if (!h.ok()) return h.status();
  h->Update(data, len);
  return h->Finish();
}

namespace {

Status TooLong(uint64_t max) {
  return Status(Code::kFull, "the file grew past " + std::to_string(max) + " bytes while it was hashed");
}

Status Stopped(uint64_t off) {
  return Status(Code::kUnavailable,
                "hashing stopped after " + std::to_string(off) + " bytes: the opener gave up",
                EINTR);
}

// Fills buf from offset `off` until it is full or EOF; false with errno set on a read error.
bool FillChunk(int fd, uint8_t* buf, size_t size, uint64_t off, size_t* n_out, bool* eof) {
  size_t n = 0;
  *eof = false;
  while (n < size) {
    ssize_t r = ::pread(fd, buf + n, size - n, static_cast<off_t>(off + n));
    if (r < 0) {
      if (errno == EINTR) continue;
      *n_out = n;
      return false;
    }
    if (r == 0) {
      *eof = true;
      break;
    }
    n += static_cast<size_t>(r);
  }
  *n_out = n;
  return true;
}

// HashFdOptions::pipeline_min: a reader thread fills two buffers in turn and calls on_block for
// each chunk after handing it over; this thread digests the chunks in order. A buffer is filled
// again only after this thread has digested it (and the reader has observed it: it is sequential).
// Returns nullopt if the reader thread cannot be started (the caller hashes serially).
std::optional<Result<Digest>> HashFdPipelined(int fd, Hasher& h, uint64_t* size_out,
                                              const HashFdOptions& opts, size_t chunk) {
  thread_local std::unique_ptr<uint8_t[]> tbufs[2];
  thread_local size_t tcap = 0;
  if (tcap < chunk) {
    tbufs[0].reset(new uint8_t[chunk]);
    tbufs[1].reset(new uint8_t[chunk]);
    tcap = chunk;
  }
  uint8_t* const bufs[2] = {tbufs[0].get(), tbufs[1].get()};  // this thread's; the reader's differ
  struct Slot {
    bool ready = false;  // filled, not yet digested
    bool free = true;    // may be filled
    size_t n = 0;
    bool eof = false;
    int err = 0;
  };
  std::mutex mu;
  std::condition_variable cv;
  Slot slots[2];
  bool cancel = false;
  auto reader = [&, bufs] {
    uint64_t off = 0, block_index = 0;
    for (uint64_t k = 0;; ++k) {
      Slot& slot = slots[k % 2];
      uint8_t* buf = bufs[k % 2];
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return slot.free || cancel; });
        if (cancel) return;
        slot.free = false;
      }
      size_t n = 0;
      bool eof = false;
      const int err = FillChunk(fd, buf, chunk, off, &n, &eof) ? 0 : errno;
      {
        std::lock_guard lock(mu);
        slot.n = n;
        slot.eof = eof;
        slot.err = err;
        slot.ready = true;
      }
      cv.notify_all();
      if (err != 0) return;
      for (size_t pos = 0; pos < n; pos += opts.block_size) {
        opts.on_block(opts.arg, block_index++, buf + pos, std::min(opts.block_size, n - pos));
      }
      off += n;
      if (eof) return;
    }
  };
  std::thread thread;
  try {
    thread = std::thread(reader);
  } catch (const std::system_error&) {
    return std::nullopt;
  }
  Status status = Status::Ok();
  uint64_t off = 0;
  for (uint64_t k = 0;; ++k) {
    if (opts.stop && opts.stop(opts.stop_arg)) {
      status = Stopped(off);
      break;
    }
    Slot& slot = slots[k % 2];
    Slot got;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return slot.ready; });
      got = slot;
    }
    if (got.err != 0) {
      status = Status::FromErrno(got.err, "reading file to hash it");
      break;
    }
    if (opts.max_bytes != 0 && off + got.n > opts.max_bytes) {
      status = TooLong(opts.max_bytes);
      break;
    }
    if (got.n > 0) h.Update(bufs[k % 2], got.n);
    off += got.n;
    {
      std::lock_guard lock(mu);
      slot.ready = false;
      slot.free = true;
    }
    cv.notify_all();
    if (got.eof) break;
  }
  {
    std::lock_guard lock(mu);
    cancel = true;
  }
  cv.notify_all();
  thread.join();  // the reader is done with both buffers and every on_block call
  if (!status.ok()) return Result<Digest>(status);
  if (size_out) *size_out = off;
  return Result<Digest>(h.Finish());
}

}  // namespace

Result<Digest> HashFd(int fd, HashAlgo algo, uint64_t* size_out, const HashFdOptions& opts) {
  auto h = Hasher::Create(algo);
  if (!h.ok()) return h.status();
  const size_t chunk = HashChunk(opts);
  struct stat st;
  if (opts.pipeline_min != 0 && opts.on_block != nullptr && opts.block_size != 0 &&
      ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
      static_cast<uint64_t>(st.st_size) >= opts.pipeline_min) {
    const size_t pchunk = std::max<size_t>(chunk, (size_t{4} << 20) / opts.block_size * opts.block_size);
    if (auto r = HashFdPipelined(fd, *h, size_out, opts, pchunk)) return std::move(*r);
  }
  if (t_hash_buf.size() < chunk) t_hash_buf.resize(chunk);
  std::span<uint8_t> buf(t_hash_buf.data(), chunk);
  uint64_t off = 0;
  uint64_t block_index = 0;
  for (;;) {
    if (opts.stop && opts.stop(opts.stop_arg)) return Stopped(off);
    // Fill the whole buffer (or reach EOF) so that blocks stay aligned to the file start.
    size_t n = 0;
    bool eof = false;
    if (!FillChunk(fd, buf.data(), buf.size(), off, &n, &eof)) {
      return Status::FromErrno(errno, "reading file to hash it");
    }
    if (opts.max_bytes != 0 && off + n > opts.max_bytes) return TooLong(opts.max_bytes);
    if (n > 0) {
      h->Update(buf.data(), n);
      if (opts.block_size && opts.on_block) {
        for (size_t pos = 0; pos < n; pos += opts.block_size) {
          opts.on_block(opts.arg, block_index++, buf.data() + pos,
                        std::min(opts.block_size, n - pos));
        }
      }
      off += n;
    }
    if (eof) break;
  }
  if (size_out) *size_out = off;
  return h->Finish();
}

void PrepareHashFd(size_t chunk) {
  HashFdOptions opts;
  opts.chunk = chunk;
  Prefault(&t_hash_buf, HashChunk(opts));
}

}  // namespace dfs
