#include "packaging/tlv.h"

#include <cstring>
#include <ctime>

#include "crypto/hash.h"
#include "crypto/sign.h"
#include "packaging/file_util.h"

namespace dfs {

namespace {

enum : uint16_t { kFieldAlgo = 0, kFieldNumEntries = 1, kFieldEntry = 2 };
enum : uint16_t { kEntryDigest = 0, kEntryPath = 1 };
constexpr size_t kHdr = 6;
constexpr char kModMagic[] = "~Module signature appended~\n";
constexpr size_t kModMagicLen = sizeof(kModMagic) - 1;
constexpr size_t kModSigLen = 12;

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
uint32_t Be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void Put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x >> 8));
  v.push_back(static_cast<uint8_t>(x));
}
void Put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
}

Status Bad(size_t off, const std::string& why) {
  return Status(Code::kInvalidArgument,
                "invalid TLV digest list at byte " + std::to_string(off) + ": " + why);
}

// Walks one level of TLV records in data[0, len), calling fn(field, value, length, offset).
template <typename Fn>
Status Walk(const uint8_t* data, size_t len, size_t base, Fn&& fn) {
  size_t off = 0;
  while (off < len) {
    if (len - off < kHdr) return Bad(base + off, "truncated field header");
    uint16_t field = Be16(data + off);
    uint32_t flen = Be32(data + off + 2);
    if (flen > len - off - kHdr) {
      return Bad(base + off, "field " + std::to_string(field) + " length " + std::to_string(flen) +
                                 " exceeds the remaining " + std::to_string(len - off - kHdr) +
                                 " bytes");
    }
    DFS_RETURN_IF_ERROR(fn(field, data + off + kHdr, flen, base + off));
    off += kHdr + flen;
  }
  return Status::Ok();
}

}  // namespace

Result<TlvList> ParseTlv(std::span<const uint8_t> data) {
  if (data.size() > kTlvMaxListSize) return Bad(0, "list larger than 16 MiB");
  TlvList list;
  bool have_algo = false;
  std::optional<uint32_t> num_entries;
  Status s = Walk(
      data.data(), data.size(), 0,
      [&](uint16_t field, const uint8_t* v, uint32_t n, size_t off) -> Status {
        switch (field) {
          case kFieldAlgo: {
            if (have_algo) return Bad(off, "ALGO appears twice");
            if (n != 2) return Bad(off, "ALGO length " + std::to_string(n) + ", expected 2");
            uint16_t id = Be16(v);
            list.algo = HashAlgoFromKernelId(id);
            if (list.algo == HashAlgo::kUnknown) {
              return Bad(off, "unknown hash algorithm id " + std::to_string(id));
            }
            have_algo = true;
            return Status::Ok();
          }
          case kFieldNumEntries:
            if (!have_algo) return Bad(off, "NUM_ENTRIES before ALGO");
            if (num_entries) return Bad(off, "NUM_ENTRIES appears twice");
            if (!list.entries.empty()) return Bad(off, "NUM_ENTRIES after an entry");
            if (n != 4) return Bad(off, "NUM_ENTRIES length " + std::to_string(n) + ", expected 4");
            num_entries = Be32(v);
            return Status::Ok();
          case kFieldEntry: {
            if (!have_algo) return Bad(off, "entry before ALGO");
            if (!num_entries) return Bad(off, "entry before NUM_ENTRIES");
            if (list.entries.size() >= *num_entries) {
              return Bad(off,
                         "more entries than NUM_ENTRIES (" + std::to_string(*num_entries) + ")");
            }
            TlvEntry e;
            bool have_digest = false;
            DFS_RETURN_IF_ERROR(Walk(
                v, n, off + kHdr,
                [&](uint16_t f, const uint8_t* ev, uint32_t en, size_t eoff) -> Status {
                  if (f == kEntryDigest) {
                    if (have_digest) return Bad(eoff, "entry has two digests");
                    if (en != HashAlgoSize(list.algo)) {
                      return Bad(eoff, "digest length " + std::to_string(en) + " does not match " +
                                           std::string(HashAlgoName(list.algo)) + " (" +
                                           std::to_string(HashAlgoSize(list.algo)) + ")");
                    }
                    e.digest.algo = list.algo;
                    e.digest.bytes.assign(ev, ev + en);
                    have_digest = true;
                    return Status::Ok();
                  }
                  if (f == kEntryPath) {
                    if (e.path) return Bad(eoff, "entry has two paths");
                    if (en < 2 || ev[en - 1] != '\0')
                      return Bad(eoff, "path is empty or not NUL-terminated");
                    if (std::memchr(ev, '\0', en - 1) != nullptr)
                      return Bad(eoff, "path holds a NUL");
                    e.path.emplace(reinterpret_cast<const char*>(ev), en - 1);
                    return Status::Ok();
                  }
                  return Bad(eoff, "unknown entry field id " + std::to_string(f));
                }));
            if (!have_digest) return Bad(off, "entry without a digest");
            list.entries.push_back(std::move(e));
            return Status::Ok();
          }
          default:
            return Bad(off, "unknown field id " + std::to_string(field));
        }
      });
  DFS_RETURN_IF_ERROR(s);
  if (!have_algo) return Bad(data.size(), "no ALGO field");
  if (!num_entries) return Bad(data.size(), "no NUM_ENTRIES field");
  if (list.entries.size() != *num_entries) {
    return Bad(data.size(), "NUM_ENTRIES says " + std::to_string(*num_entries) + ", list has " +
                                std::to_string(list.entries.size()));
  }
  return list;
}

Result<std::vector<uint8_t>> WriteTlv(const TlvList& list) {
  uint16_t id = HashAlgoToKernelId(list.algo);
  if (id == 0) return Status(Code::kInvalidArgument, "algorithm has no kernel id");
  std::vector<uint8_t> out;
  Put16(out, kFieldAlgo);
  Put32(out, 2);
  Put16(out, id);
  Put16(out, kFieldNumEntries);
  Put32(out, 4);
  Put32(out, static_cast<uint32_t>(list.entries.size()));
  for (const auto& e : list.entries) {
    if (e.digest.algo != list.algo || e.digest.bytes.size() != HashAlgoSize(list.algo)) {
      return Status(Code::kInvalidArgument,
                    "entry digest " + e.digest.ToString() + " does not match the list algorithm");
    }
    std::vector<uint8_t> inner;
    Put16(inner, kEntryDigest);
    Put32(inner, static_cast<uint32_t>(e.digest.bytes.size()));
    inner.insert(inner.end(), e.digest.bytes.begin(), e.digest.bytes.end());
    if (e.path && !e.path->empty()) {
      if (e.path->find('\0') != std::string::npos) {
        return Status(Code::kInvalidArgument, "path holds a NUL");
      }
      Put16(inner, kEntryPath);
      Put32(inner, static_cast<uint32_t>(e.path->size() + 1));
      inner.insert(inner.end(), e.path->begin(), e.path->end());
      inner.push_back(0);
    }
    Put16(out, kFieldEntry);
    Put32(out, static_cast<uint32_t>(inner.size()));
    out.insert(out.end(), inner.begin(), inner.end());
  }
  if (out.size() > kTlvMaxListSize) return Status(Code::kInvalidArgument, "list exceeds 16 MiB");
  return out;
}

Result<SignedBlob> SplitModuleSignature(std::span<const uint8_t> file) {
  SignedBlob b{file, {}};
  if (file.size() < kModMagicLen ||
      std::memcmp(file.data() + file.size() - kModMagicLen, kModMagic, kModMagicLen) != 0) {
    return b;
  }
  size_t rest = file.size() - kModMagicLen;
  if (rest < kModSigLen) {
    return Status(Code::kInvalidArgument, "signature trailer without a module_signature block");
  }
  const uint8_t* ms = file.data() + rest - kModSigLen;
  uint8_t algo = ms[0], hash = ms[1], id_type = ms[2], signer_len = ms[3], key_id_len = ms[4];
  uint32_t sig_len = Be32(ms + 8);
  if (id_type != 2) {
    return Status(Code::kInvalidArgument,
                  "module_signature id_type " + std::to_string(id_type) + " is not PKCS#7 (2)");
  }
  if (algo != 0 || hash != 0 || signer_len != 0 || key_id_len != 0 || ms[5] || ms[6] || ms[7]) {
    return Status(Code::kInvalidArgument, "module_signature has non-zero fields for PKCS#7");
  }
  rest -= kModSigLen;
  if (sig_len == 0 || sig_len > rest) {
    return Status(Code::kInvalidArgument,
                  "module_signature sig_len " + std::to_string(sig_len) + " exceeds the file");
  }
  b.content = file.subspan(0, rest - sig_len);
  b.signature = file.subspan(rest - sig_len, sig_len);
  return b;
}

std::vector<uint8_t> AppendModuleSignature(std::span<const uint8_t> content,
                                           std::span<const uint8_t> pkcs7_der) {
  std::vector<uint8_t> out(content.begin(), content.end());
  out.insert(out.end(), pkcs7_der.begin(), pkcs7_der.end());
  uint8_t ms[kModSigLen] = {0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  uint32_t n = static_cast<uint32_t>(pkcs7_der.size());
  ms[8] = static_cast<uint8_t>(n >> 24);
  ms[9] = static_cast<uint8_t>(n >> 16);
  ms[10] = static_cast<uint8_t>(n >> 8);
  ms[11] = static_cast<uint8_t>(n);
  out.insert(out.end(), ms, ms + kModSigLen);
  out.insert(out.end(), kModMagic, kModMagic + kModMagicLen);
  return out;
}

Result<ImportItem> ReadTlvFile(const std::string& path,
                               const std::vector<std::vector<uint8_t>>& trusted_certs,
                               const std::vector<std::string>& trusted_ids,
                               const TlvImportOptions& opts, size_t* pathless) {
  auto fail = [&](Status s) { return s.Prepend(path); };
  auto data = ReadFileLimited(path, kTlvMaxListSize + (1u << 20));
  if (!data.ok()) return data.status();
  auto split = SplitModuleSignature(*data);
  if (!split.ok()) return fail(split.status());
  std::string signer;
  if (split->signature.empty()) {
    if (!opts.allow_unsigned) {
      return fail(Status(Code::kUnsigned, "digest list has no appended signature"));
    }
  } else {
    auto idx = VerifyDetached(split->signature, split->content, trusted_certs);
    if (!idx.ok()) return fail(idx.status());
    signer = *idx < trusted_ids.size() ? trusted_ids[*idx] : "";
  }
  auto list = ParseTlv(split->content);
  if (!list.ok()) return fail(list.status());
  ImportItem item;
  SourceInfo& s = item.source;
  s.kind = SourceKind::kTlv;
  size_t slash = path.find_last_of('/');
  s.name = slash == std::string::npos ? path : path.substr(slash + 1);
  s.signer = signer;
  if (signer.empty()) s.flags |= kSourceUnsigned;
  if (HashAlgoIsWeak(list->algo)) {
    if (!opts.allow_weak) {
      return fail(Status(Code::kUnsupported, "list uses " + std::string(HashAlgoName(list->algo)) +
                                                 ", which is too weak (--allow-weak)"));
    }
    s.flags |= kSourceWeakAlgo;
  }
  auto bd = HashBytes(HashAlgo::kSha256, split->content.data(), split->content.size());
  if (!bd.ok()) return fail(bd.status());
  s.blob_digest = *bd;
  s.import_time = static_cast<int64_t>(time(nullptr));
  s.origin = path;
  if (pathless) *pathless = 0;
  for (auto& e : list->entries) {
    if (!e.path || e.path->empty() || (*e.path)[0] != '/') {
      if (pathless) ++*pathless;
      continue;
    }
    FileEntry fe;
    fe.digest = std::move(e.digest);
    fe.path = *e.path;
    fe.mode = 0;  // TLV lists carry no mode
    item.files.push_back(std::move(fe));
  }
  return item;
}

}  // namespace dfs
