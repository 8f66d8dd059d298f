#include "crypto/hash.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <span>
#include <vector>

namespace dfs {

namespace {
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

Result<Digest> HashFd(int fd, HashAlgo algo, uint64_t* size_out, const HashFdOptions& opts) {
  auto h = Hasher::Create(algo);
  if (!h.ok()) return h.status();
  size_t chunk = opts.chunk ? opts.chunk : (1 << 20);
  if (opts.block_size && chunk % opts.block_size)
    chunk = opts.block_size * (chunk / opts.block_size + 1);
  // One buffer per thread, reused and never zeroed: a fresh, zero-filled `chunk` per file (with
  // its page faults) cost a first pass over a rootfs more than hashing did (perf of the daemon
  // during a cold `python3 -c 1`: memset and its faults 28% of its CPU time, SHA-256 under 5%).
  thread_local std::unique_ptr<uint8_t[]> tbuf;
  thread_local size_t tcap = 0;
  if (tcap < chunk) {
    tbuf.reset(new uint8_t[chunk]);
    tcap = chunk;
  }
  std::span<uint8_t> buf(tbuf.get(), chunk);
  uint64_t off = 0;
  uint64_t block_index = 0;
  for (;;) {
    if (opts.stop && opts.stop(opts.stop_arg)) {
      return Status(Code::kUnavailable,
                    "hashing stopped after " + std::to_string(off) + " bytes: the opener gave up",
                    EINTR);
    }
    // Fill the whole buffer (or reach EOF) so that blocks stay aligned to the file start.
    size_t n = 0;
    bool eof = false;
    while (n < buf.size()) {
      ssize_t r = ::pread(fd, buf.data() + n, buf.size() - n, static_cast<off_t>(off + n));
      if (r < 0) {
        if (errno == EINTR) continue;
        return Status::FromErrno(errno, "reading file to hash it");
      }
      if (r == 0) {
        eof = true;
        break;
      }
      n += static_cast<size_t>(r);
    }
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

}  // namespace dfs
