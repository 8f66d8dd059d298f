#include "measurement/ima_log.h"

#include <cstring>

#include "crypto/hash.h"

namespace dfs::ima {

namespace {

void PutU32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

uint32_t GetU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

bool AllZero(const std::vector<uint8_t>& v) {
  for (uint8_t b : v) {
    if (b != 0) return false;
  }
  return true;
}

Status Corrupt(std::string msg) { return Status(Code::kCorrupt, std::move(msg)); }

}  // namespace

std::string MeasuredPath(std::string_view path) {
  if (path.size() <= kMaxPathLen) return std::string(path);
  std::string out(path.substr(0, kMaxPathLen - kTruncatedMarker.size()));
  out += kTruncatedMarker;
  return out;
}

Result<std::vector<uint8_t>> ImaNgTemplateData(const Digest& digest, std::string_view path) {
  if (digest.algo == HashAlgo::kUnknown || digest.bytes.size() != HashAlgoSize(digest.algo)) {
    return Status(Code::kInvalidArgument, "measurement digest has no valid algorithm");
  }
  if (path.find('\0') != std::string_view::npos) {
    return Status(Code::kInvalidArgument, "measurement path contains a NUL byte");
  }
  if (path.size() > kMaxPathLen) {
    return Status(Code::kInvalidArgument,
                  "measurement path longer than " + std::to_string(kMaxPathLen) + " bytes");
  }
  std::string_view algo = HashAlgoName(digest.algo);
  std::vector<uint8_t> out;
  out.reserve(8 + algo.size() + 2 + digest.bytes.size() + path.size() + 1);
  PutU32(out, static_cast<uint32_t>(algo.size() + 2 + digest.bytes.size()));
  out.insert(out.end(), algo.begin(), algo.end());
  out.push_back(':');
  out.push_back('\0');
  out.insert(out.end(), digest.bytes.begin(), digest.bytes.end());
  PutU32(out, static_cast<uint32_t>(path.size() + 1));
  out.insert(out.end(), path.begin(), path.end());
  out.push_back('\0');
  return out;
}

Result<Entry> MakeImaNgEntry(uint32_t pcr, const Digest& digest, std::string_view path) {
  Entry e;
  e.pcr = pcr;
  e.template_name = std::string(kTemplateImaNg);
  DFS_ASSIGN_OR_RETURN(e.template_data, ImaNgTemplateData(digest, path));
  DFS_ASSIGN_OR_RETURN(Digest th,
                       HashBytes(HashAlgo::kSha1, e.template_data.data(), e.template_data.size()));
  e.template_hash = std::move(th.bytes);
  e.digest = digest;
  e.path = std::string(path);
  return e;
}

Status DecodeImaNg(const std::vector<uint8_t>& data, Digest* digest, std::string* path) {
  const uint8_t* p = data.data();
  size_t n = data.size();
  if (n < 4) return Corrupt("ima-ng data shorter than a field header");
  uint32_t dlen = GetU32(p);
  if (dlen > n - 4) return Corrupt("ima-ng digest field overruns the template data");
  const uint8_t* d = p + 4;
  // "<algo>:\0<digest>"
  const void* colon = std::memchr(d, ':', dlen);
  if (colon == nullptr) return Corrupt("ima-ng digest field has no algorithm prefix");
  size_t alen = static_cast<const uint8_t*>(colon) - d;
  if (alen + 2 > dlen || d[alen + 1] != '\0') {
    return Corrupt("ima-ng digest field: algorithm prefix not followed by \":\\0\"");
  }
  std::string algo_name(reinterpret_cast<const char*>(d), alen);
  HashAlgo algo = HashAlgoFromName(algo_name);
  if (algo == HashAlgo::kUnknown) return Corrupt("ima-ng digest field: unknown algorithm");
  size_t dig_len = dlen - alen - 2;
  if (dig_len != HashAlgoSize(algo)) {
    return Corrupt("ima-ng digest field: " + algo_name + " digest of " + std::to_string(dig_len) +
                   " bytes");
  }
  size_t off = 4 + dlen;
  if (n - off < 4) return Corrupt("ima-ng data ends before the name field");
  uint32_t nlen = GetU32(p + off);
  off += 4;
  if (nlen != n - off) return Corrupt("ima-ng name field length does not match the template data");
  if (nlen == 0 || p[off + nlen - 1] != '\0') {
    return Corrupt("ima-ng name field is not NUL-terminated");
  }
  std::string name(reinterpret_cast<const char*>(p + off), nlen - 1);
  if (name.find('\0') != std::string::npos) return Corrupt("ima-ng name field has an inner NUL");
  digest->algo = algo;
  digest->bytes.assign(d + alen + 2, d + dlen);
  *path = std::move(name);
  return Status::Ok();
}

std::vector<uint8_t> EncodeBinary(const Entry& e) {
  std::vector<uint8_t> out;
  out.reserve(4 + 20 + 4 + e.template_name.size() + 4 + e.template_data.size());
  PutU32(out, e.pcr);
  out.insert(out.end(), e.template_hash.begin(), e.template_hash.end());
  PutU32(out, static_cast<uint32_t>(e.template_name.size()));
  out.insert(out.end(), e.template_name.begin(), e.template_name.end());
  PutU32(out, static_cast<uint32_t>(e.template_data.size()));
  out.insert(out.end(), e.template_data.begin(), e.template_data.end());
  return out;
}

std::string EncodeAscii(const Entry& e) {
  std::string line = std::to_string(e.pcr);
  line += ' ';
  line += ToHex(e.template_hash);
  line += ' ';
  line += e.template_name;
  line += ' ';
  line += e.digest.ToString();
  line += ' ';
  static const char kHex[] = "0123456789abcdef";
  for (unsigned char c : e.path) {
    if (c < 0x20 || c == 0x7f || c == '\\') {
      line += "\\x";
      line += kHex[c >> 4];
      line += kHex[c & 15];
    } else {
      line += static_cast<char>(c);
    }
  }
  line += '\n';
  return line;
}

Result<ParsedLog> ParseBinary(const uint8_t* data, size_t len) {
  ParsedLog out;
  size_t off = 0;
  while (off < len) {
    size_t start = off;
    std::string where =
        "entry " + std::to_string(out.entries.size()) + " at byte " + std::to_string(start);
    auto need = [&](size_t n) { return len - off >= n; };
    if (!need(4 + 20 + 4)) {
      out.truncated_tail = true;
      break;
    }
    Entry e;
    e.pcr = GetU32(data + off);
    off += 4;
    e.template_hash.assign(data + off, data + off + 20);
    off += 20;
    uint32_t name_len = GetU32(data + off);
    off += 4;
    if (name_len == 0 || name_len > kMaxTemplateNameLen) {
      return Corrupt(where + ": template name length " + std::to_string(name_len) +
                     " out of range");
    }
    if (e.pcr > 31)
      return Corrupt(where + ": PCR index " + std::to_string(e.pcr) + " out of range");
    if (!need(name_len + 4)) {
      out.truncated_tail = true;
      break;
    }
    e.template_name.assign(reinterpret_cast<const char*>(data + off), name_len);
    off += name_len;
    uint32_t data_len = GetU32(data + off);
    off += 4;
    if (data_len > kMaxTemplateDataLen) {
      return Corrupt(where + ": template data length " + std::to_string(data_len) +
                     " out of range");
    }
    if (!need(data_len)) {
      out.truncated_tail = true;
      break;
    }
    e.template_data.assign(data + off, data + off + data_len);
    off += data_len;
    if (e.template_name == kTemplateImaNg) {
      Status s = DecodeImaNg(e.template_data, &e.digest, &e.path);
      if (!s.ok()) return Corrupt(where + ": " + s.message());
    }
    out.entries.push_back(std::move(e));
    out.offsets.push_back(start);
    out.complete_bytes = off;
  }
  return out;
}

Result<std::vector<Entry>> ParseAscii(std::string_view text) {
  std::vector<Entry> out;
  size_t lineno = 0;
  while (!text.empty()) {
    ++lineno;
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.empty()) continue;
    std::string where = "line " + std::to_string(lineno);
    // pcr, template hash, template name, digest, path (the rest of the line).
    std::string_view f[4];
    for (auto& field : f) {
      size_t sp = line.find(' ');
      if (sp == std::string_view::npos) return Corrupt(where + ": fewer than 5 fields");
      field = line.substr(0, sp);
      line = line.substr(sp + 1);
    }
    std::string_view path_esc = line;
    if (f[2] != kTemplateImaNg) {
      return Corrupt(where + ": template " + std::string(f[2]) + " is not supported (ima-ng only)");
    }
    uint32_t pcr = 0;
    if (f[0].empty() || f[0].size() > 2) return Corrupt(where + ": bad PCR index");
    for (char c : f[0]) {
      if (c < '0' || c > '9') return Corrupt(where + ": bad PCR index");
      pcr = pcr * 10 + (c - '0');
    }
    auto th = FromHex(f[1]);
    if (!th.ok() || th->size() != 20) return Corrupt(where + ": bad template hash");
    auto dg = Digest::Parse(f[3]);
    if (!dg.ok()) return Corrupt(where + ": bad digest: " + dg.status().message());
    std::string path;
    for (size_t i = 0; i < path_esc.size(); ++i) {
      if (path_esc[i] == '\\' && i + 3 < path_esc.size() && path_esc[i + 1] == 'x') {
        auto b = FromHex(path_esc.substr(i + 2, 2));
        if (!b.ok()) return Corrupt(where + ": bad \\x escape in path");
        path += static_cast<char>((*b)[0]);
        i += 3;
      } else {
        path += path_esc[i];
      }
    }
    auto e = MakeImaNgEntry(pcr, *dg, path);
    if (!e.ok()) return Corrupt(where + ": " + e.status().message());
    e->template_hash = std::move(*th);  // keep what the line claims; TemplateHashValid checks it
    out.push_back(std::move(*e));
  }
  return out;
}

Result<Digest> BankTemplateHash(const Entry& e, HashAlgo bank) {
  if (AllZero(e.template_hash)) {
    Digest d;
    d.algo = bank;
    d.bytes.assign(HashAlgoSize(bank), 0xff);
    return d;
  }
  return HashBytes(bank, e.template_data.data(), e.template_data.size());
}

bool TemplateHashValid(const Entry& e) {
  if (e.template_hash.size() != 20) return false;
  if (AllZero(e.template_hash)) return true;
  auto d = HashBytes(HashAlgo::kSha1, e.template_data.data(), e.template_data.size());
  return d.ok() && d->bytes == e.template_hash;
}

PcrReplay::PcrReplay(std::vector<HashAlgo> banks) : banks_(std::move(banks)) {
  for (HashAlgo a : banks_) {
    Digest d;
    d.algo = a;
    d.bytes.assign(HashAlgoSize(a), 0);
    values_.push_back(std::move(d));
  }
}

Status PcrReplay::ExtendWith(const std::vector<Digest>& hashes) {
  if (hashes.size() != banks_.size()) return Status(Code::kInternal, "bank count mismatch");
  for (size_t i = 0; i < banks_.size(); ++i) {
    DFS_ASSIGN_OR_RETURN(Hasher h, Hasher::Create(banks_[i]));
    h.Update(values_[i].bytes.data(), values_[i].bytes.size());
    h.Update(hashes[i].bytes.data(), hashes[i].bytes.size());
    values_[i] = h.Finish();
  }
  return Status::Ok();
}

Status PcrReplay::Extend(const Entry& e) {
  std::vector<Digest> hashes;
  for (HashAlgo a : banks_) {
    DFS_ASSIGN_OR_RETURN(Digest d, BankTemplateHash(e, a));
    hashes.push_back(std::move(d));
  }
  return ExtendWith(hashes);
}

Result<std::map<uint32_t, std::vector<Digest>>> ReplayAll(const std::vector<Entry>& entries,
                                                          const std::vector<HashAlgo>& banks) {
  std::map<uint32_t, PcrReplay> pcrs;
  for (const Entry& e : entries) {
    auto it = pcrs.try_emplace(e.pcr, banks).first;
    DFS_RETURN_IF_ERROR(it->second.Extend(e));
  }
  std::map<uint32_t, std::vector<Digest>> out;
  for (auto& [pcr, r] : pcrs) out[pcr] = r.values();
  return out;
}

}  // namespace dfs::ima
