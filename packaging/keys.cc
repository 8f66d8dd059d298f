#include "packaging/keys.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "common/digest.h"
#include "common/fd.h"
#include "crypto/sign.h"
#include "packaging/file_util.h"
#include "packaging/rpm_util.h"

namespace dfs {

using rpmutil::DigParamsPtr;
using rpmutil::MallocPtr;
using rpmutil::PubkeyPtr;

const char* KeyTypeName(KeyType t) { return t == KeyType::kOpenPgp ? "openpgp" : "x509"; }

namespace {

bool StartsWithText(std::span<const uint8_t> d, std::string_view needle) {
  std::string_view s(reinterpret_cast<const char*>(d.data()), std::min<size_t>(d.size(), 4096));
  size_t i = s.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && s.substr(i).starts_with(needle);
}

// The OpenPGP packet tag of the first packet, or -1.
int FirstPacketTag(std::span<const uint8_t> d) {
  if (d.empty() || !(d[0] & 0x80)) return -1;
  return (d[0] & 0x40) ? (d[0] & 0x3f) : ((d[0] >> 2) & 0x0f);
}

Result<KeyInfo> ParsePgp(std::vector<uint8_t> pkts) {
  DFS_RETURN_IF_ERROR(rpmutil::Init());
  int tag = FirstPacketTag(pkts);
  if (tag == 5 || tag == 7) {
    return Status(Code::kInvalidArgument, "this is an OpenPGP secret key; add the public key");
  }
  if (tag != 6) {
    return Status(
        Code::kInvalidArgument,
        "OpenPGP data does not start with a public key packet (tag " + std::to_string(tag) + ")");
  }
  rpmutil::LogCapture cap;
  size_t certlen = 0;
  if (pgpPubKeyCertLen(pkts.data(), pkts.size(), &certlen) != 0 || certlen == 0) {
    return Status(Code::kInvalidArgument, "malformed OpenPGP packets" +
                                              (cap.Text().empty() ? "" : " (" + cap.Text() + ")"));
  }
  if (certlen != pkts.size()) {
    return Status(Code::kInvalidArgument,
                  "the file holds more than one OpenPGP certificate; add them one at a time");
  }
  PubkeyPtr key(rpmPubkeyNew(pkts.data(), pkts.size()));
  if (!key) {
    std::string why = cap.Text();
    if (why.empty()) why = "malformed, unsupported version or unsupported algorithm";
    return Status(Code::kInvalidArgument, "librpm 4.18 cannot use this OpenPGP key: " + why);
  }
  // Subkeys must parse too: a key whose subkey binding is broken is refused as a whole
  // (CVE-2021-3521 keys carry unbound or wrongly bound subkeys).
  int nsub = 0;
  rpmPubkey* subs = rpmGetSubkeys(key.get(), &nsub);
  for (int i = 0; i < nsub; ++i) rpmPubkeyFree(subs[i]);
  free(subs);
  if (!cap.Text().empty()) {
    return Status(Code::kInvalidArgument, "librpm rejects part of this OpenPGP key: " + cap.Text());
  }
  KeyInfo k;
  k.type = KeyType::kOpenPgp;
  pgpKeyID_t keyid;
  if (pgpPubkeyKeyID(pkts.data(), pkts.size(), keyid) != 0) {
    return Status(Code::kInvalidArgument, "cannot compute the OpenPGP key id");
  }
  k.id = ToHex(keyid, sizeof keyid);
  uint8_t* fp = nullptr;
  size_t fplen = 0;
  if (pgpPubkeyFingerprint(pkts.data(), pkts.size(), &fp, &fplen) == 0) {
    MallocPtr<uint8_t> owner(fp);
    k.fingerprint = ToHex(fp, fplen);
  }
  pgpDigParams dig = nullptr;
  if (pgpPrtParams(pkts.data(), pkts.size(), PGPTAG_PUBLIC_KEY, &dig) == 0) {
    DigParamsPtr owner(dig);
    const char* algo = pgpValString(PGPVAL_PUBKEYALGO, pgpDigParamsAlgo(dig, PGPVAL_PUBKEYALGO));
    k.description = std::string(algo ? algo : "?") + " subkeys=" + std::to_string(nsub);
  }
  k.file = "pgp-" + k.id + ".pgp";
  k.data = std::move(pkts);
  return k;
}

}  // namespace

Result<KeyInfo> ParseKey(std::span<const uint8_t> data) {
  if (data.empty()) return Status(Code::kInvalidArgument, "empty key file");
  if (data.size() > (4u << 20)) return Status(Code::kInvalidArgument, "key file larger than 4 MiB");
  if (StartsWithText(data, "-----BEGIN PGP PRIVATE KEY")) {
    return Status(Code::kInvalidArgument, "this is an OpenPGP secret key; add the public key");
  }
  if (StartsWithText(data, "-----BEGIN PGP")) {
    DFS_RETURN_IF_ERROR(rpmutil::Init());
    std::string text(reinterpret_cast<const char*>(data.data()), data.size());
    uint8_t* pkt = nullptr;
    size_t len = 0;
    rpmutil::LogCapture cap;
    pgpArmor a = pgpParsePkts(text.c_str(), &pkt, &len);
    MallocPtr<uint8_t> owner(pkt);
    if (a != PGPARMOR_PUBKEY || pkt == nullptr) {
      return Status(Code::kInvalidArgument,
                    "not a valid ASCII-armoured OpenPGP public key block (armor result " +
                        std::to_string(static_cast<int>(a)) + ")");
    }
    return ParsePgp(std::vector<uint8_t>(pkt, pkt + len));
  }
  if (StartsWithText(data, "-----BEGIN CERTIFICATE") || (data[0] == 0x30 && LooksLikeX509(data))) {
    DFS_ASSIGN_OR_RETURN(X509Cert c, ParseX509(data));
    KeyInfo k;
    k.type = KeyType::kX509;
    k.fingerprint = c.fingerprint;
    k.id = c.fingerprint.substr(0, 16);
    k.description = c.subject;
    k.file = "x509-" + k.id + ".der";
    k.data = std::move(c.der);
    return k;
  }
  if (StartsWithText(data, "-----BEGIN")) {
    return Status(Code::kInvalidArgument,
                  "unsupported PEM block (expected a CERTIFICATE or a PGP PUBLIC KEY BLOCK)");
  }
  if (data[0] & 0x80) return ParsePgp(std::vector<uint8_t>(data.begin(), data.end()));
  return Status(Code::kInvalidArgument,
                "not an OpenPGP public key nor an X.509 certificate (PEM or DER)");
}

Result<std::vector<std::vector<uint8_t>>> SplitKeys(std::span<const uint8_t> data) {
  std::vector<std::vector<uint8_t>> out;
  if (data.empty()) return Status(Code::kInvalidArgument, "empty key file");
  if (data.size() > (4u << 20)) return Status(Code::kInvalidArgument, "key file larger than 4 MiB");
  std::vector<uint8_t> pkts;
  if (StartsWithText(data, "-----BEGIN PGP PUBLIC KEY BLOCK")) {
    DFS_RETURN_IF_ERROR(rpmutil::Init());
    std::string text(reinterpret_cast<const char*>(data.data()), data.size());
    uint8_t* pkt = nullptr;
    size_t len = 0;
    rpmutil::LogCapture cap;
    pgpArmor a = pgpParsePkts(text.c_str(), &pkt, &len);
    MallocPtr<uint8_t> owner(pkt);
    if (a != PGPARMOR_PUBKEY || pkt == nullptr) {
      return Status(Code::kInvalidArgument,
                    "not a valid ASCII-armoured OpenPGP public key block (armor result " +
                        std::to_string(static_cast<int>(a)) + ")");
    }
    pkts.assign(pkt, pkt + len);
  } else if (!StartsWithText(data, "-----BEGIN") && FirstPacketTag(data) == 6) {
    pkts.assign(data.begin(), data.end());
  } else {
    out.emplace_back(data.begin(), data.end());  // X.509, a secret key, or junk: ParseKey says
    return out;
  }
  DFS_RETURN_IF_ERROR(rpmutil::Init());
  size_t off = 0;
  while (off < pkts.size()) {
    std::span<const uint8_t> rest(pkts.data() + off, pkts.size() - off);
    int tag = FirstPacketTag(rest);
    if (tag != 6) {
      return Status(Code::kInvalidArgument,
                    "OpenPGP key #" + std::to_string(out.size() + 1) +
                        " does not start with a public key packet (tag " + std::to_string(tag) +
                        ")");
    }
    size_t certlen = 0;
    rpmutil::LogCapture cap;
    if (pgpPubKeyCertLen(rest.data(), rest.size(), &certlen) != 0 || certlen == 0 ||
        certlen > rest.size()) {
      return Status(Code::kInvalidArgument, "malformed OpenPGP packets in key #" +
                                                std::to_string(out.size() + 1));
    }
    out.emplace_back(rest.begin(), rest.begin() + static_cast<ptrdiff_t>(certlen));
    off += certlen;
  }
  return out;
}

KeyStore::KeyStore(std::string store_dir) : dir_(std::move(store_dir) + "/keys") {}

Status KeyStore::AppendLog(const std::string& action, const KeyInfo& k, const std::string& origin) {
  Fd fd(::open((dir_ + "/keys.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd) return Status::FromErrno(errno, "open " + dir_ + "/keys.log");
  char tbuf[32];
  time_t now = time(nullptr);
  struct tm tm {};
  gmtime_r(&now, &tm);
  strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::string line = std::string(tbuf) + " " + action + " " + KeyTypeName(k.type) + " " + k.id +
                     " " + k.fingerprint + " " + EscapeField(origin) + "\n";
  return WriteAll(fd.get(), line.data(), line.size(), dir_ + "/keys.log");
}

Result<KeyInfo> KeyStore::Add(std::span<const uint8_t> data, const std::string& origin) {
  DFS_ASSIGN_OR_RETURN(KeyInfo k, ParseKey(data));
  if (::mkdir(dir_.c_str(), 0755) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "mkdir " + dir_);
  }
  Fd lock(::open((dir_ + "/keys.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!lock) return Status::FromErrno(errno, "open " + dir_ + "/keys.log");
  ::flock(lock.get(), LOCK_EX);
  std::string path = dir_ + "/" + k.file;
  if (::access(path.c_str(), F_OK) == 0) {
    auto old = ReadFileLimited(path, 4u << 20);
    auto old_key = old.ok() ? ParseKey(*old) : Result<KeyInfo>(old.status());
    if (old_key.ok() && old_key->fingerprint != k.fingerprint) {
      return Status(Code::kExists, "key id collision: key " + k.id + " (fingerprint " +
                                       k.fingerprint + ") has the same id as the configured key " +
                                       old_key->fingerprint + "; refused");
    }
    return Status(Code::kExists, "key " + k.id + " is already configured (" + path + ")");
  }
  DFS_RETURN_IF_ERROR(WriteFileAtomic(path, k.data));
  DFS_RETURN_IF_ERROR(AppendLog("add", k, origin));
  return k;
}

Result<std::vector<KeyInfo>> KeyStore::List() const {
  std::vector<KeyInfo> out;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    return Status::FromErrno(errno, "opendir " + dir_);
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if ((n.starts_with("pgp-") && n.ends_with(".pgp")) ||
        (n.starts_with("x509-") && n.ends_with(".der"))) {
      names.push_back(n);
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    DFS_ASSIGN_OR_RETURN(std::vector<uint8_t> data, ReadFileLimited(dir_ + "/" + n, 4u << 20));
    auto k = ParseKey(data);
    if (!k.ok()) {
      return Status(Code::kCorrupt,
                    "stored key " + dir_ + "/" + n + " is damaged: " + k.status().message());
    }
    k->file = n;
    out.push_back(std::move(*k));
  }
  return out;
}

Result<std::vector<KeyInfo>> KeyStore::ListType(KeyType t) const {
  DFS_ASSIGN_OR_RETURN(std::vector<KeyInfo> all, List());
  std::vector<KeyInfo> out;
  for (auto& k : all) {
    if (k.type == t) out.push_back(std::move(k));
  }
  return out;
}

Result<KeyInfo> KeyStore::Remove(const std::string& id) {
  std::string want = id;
  std::transform(want.begin(), want.end(), want.begin(), ::tolower);
  if (want.size() < 8) return Status(Code::kInvalidArgument, "key id '" + id + "' is too short");
  DFS_ASSIGN_OR_RETURN(std::vector<KeyInfo> all, List());
  const KeyInfo* hit = nullptr;
  for (const auto& k : all) {
    if (k.id == want || k.fingerprint.starts_with(want) || k.id.starts_with(want)) {
      if (hit != nullptr) {
        return Status(Code::kInvalidArgument, "key id '" + id + "' matches more than one key");
      }
      hit = &k;
    }
  }
  if (hit == nullptr) return Status(Code::kNotFound, "no configured key matches '" + id + "'");
  Fd lock(::open((dir_ + "/keys.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!lock) return Status::FromErrno(errno, "open " + dir_ + "/keys.log");
  ::flock(lock.get(), LOCK_EX);
  if (::unlink((dir_ + "/" + hit->file).c_str()) != 0) {
    return Status::FromErrno(errno, "unlink " + dir_ + "/" + hit->file);
  }
  DFS_RETURN_IF_ERROR(AppendLog("remove", *hit, ""));
  return *hit;
}

}  // namespace dfs
