#include "apt/openpgp.h"

#include <dirent.h>
#include <fcntl.h>
#include <gpgme.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <clocale>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>

#include "common/fd.h"

namespace dfs::apt {
namespace {

struct CtxFree {
  void operator()(gpgme_context* c) const { gpgme_release(c); }
};
using CtxPtr = std::unique_ptr<gpgme_context, CtxFree>;
struct DataFree {
  void operator()(gpgme_data* d) const { gpgme_data_release(d); }
};
using DataPtr = std::unique_ptr<gpgme_data, DataFree>;
struct KeyFree {
  void operator()(_gpgme_key* k) const { gpgme_key_unref(k); }
};
using KeyPtr = std::unique_ptr<_gpgme_key, KeyFree>;

std::string GpgError(gpgme_error_t e) {
  char buf[256];
  gpgme_strerror_r(e, buf, sizeof buf);
  return buf;
}

Status InitGpgme() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] {
    std::setlocale(LC_CTYPE, "");
    ok = gpgme_check_version(nullptr) != nullptr;
  });
  if (!ok) return Status(Code::kUnavailable, "GPGME cannot be initialised");
  gpgme_error_t e = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP);
  if (e != 0) {
    return Status(Code::kUnavailable, "GnuPG is not usable (is gnupg installed?): " + GpgError(e));
  }
  return Status::Ok();
}

// Removes everything under the directory `dirfd` (no symlink followed), then nothing else.
void RemoveTreeAt(int dirfd) {
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return;
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    ::close(dup);
    return;
  }
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      names.push_back(e->d_name);
    }
  }
  ::closedir(d);
  for (const std::string& n : names) {
    struct stat st;
    if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      Fd sub(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) RemoveTreeAt(sub.get());
      ::unlinkat(dirfd, n.c_str(), AT_REMOVEDIR);
    } else {
      ::unlinkat(dirfd, n.c_str(), 0);
    }
  }
}

std::string KeyIdOf(const char* fpr) {
  std::string s = fpr ? fpr : "";
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s.size() > 16 ? s.substr(s.size() - 16) : s;
}

std::string DateOf(unsigned long t) {
  if (t == 0) return "?";
  time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

bool LineIs(std::string_view line, std::string_view want) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
    line.remove_suffix(1);
  }
  return line == want;
}

}  // namespace

Status CheckClearsignedFrame(std::string_view text) {
  constexpr std::string_view kBegin = "-----BEGIN PGP SIGNED MESSAGE-----";
  constexpr std::string_view kSig = "-----BEGIN PGP SIGNATURE-----";
  constexpr std::string_view kEnd = "-----END PGP SIGNATURE-----";
  size_t pos = 0, lineno = 0;
  enum { kStart, kBody, kSignature, kAfter } state = kStart;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, (eol == std::string_view::npos ? text.size() : eol) - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    ++lineno;
    switch (state) {
      case kStart:
        if (!LineIs(line, kBegin)) {
          if (text.find(kBegin) == std::string_view::npos) {
            return Status(Code::kUnsigned, "not clearsigned (no signed message)");
          }
          return Status(Code::kCorrupt,
                        "line " + std::to_string(lineno) + ": text before the signed message");
        }
        state = kBody;
        break;
      case kBody:
        if (line.starts_with("-----")) {
          if (!LineIs(line, kSig)) {
            return Status(Code::kCorrupt, "line " + std::to_string(lineno) +
                                              ": unexpected armour line inside the signed message");
          }
          state = kSignature;
        }
        break;
      case kSignature:
        if (line.starts_with("-----")) {
          if (!LineIs(line, kEnd)) {
            return Status(Code::kCorrupt, "line " + std::to_string(lineno) +
                                              ": unexpected armour line in the signature block");
          }
          state = kAfter;
        }
        break;
      case kAfter:
        for (char c : line) {
          if (c != ' ' && c != '\t' && c != '\r') {
            return Status(Code::kCorrupt,
                          "line " + std::to_string(lineno) + ": text after the signature block");
          }
        }
        break;
    }
  }
  if (state == kStart) return Status(Code::kUnsigned, "not clearsigned (empty)");
  if (state == kBody) return Status(Code::kUnsigned, "clearsigned message without a signature");
  if (state == kSignature) return Status(Code::kCorrupt, "unterminated signature block");
  return Status::Ok();
}

struct PgpVerifier::Impl {
  std::string home;
  Fd home_fd;
  CtxPtr ctx;
  size_t keys = 0;

  ~Impl() {
    ctx.reset();
    if (home_fd) {
      RemoveTreeAt(home_fd.get());
      ::rmdir(home.c_str());
    }
  }

  // Interprets a verify result: see the header.
  Result<VerifiedText> Judge(gpgme_error_t op_err, std::string text) {
    gpgme_verify_result_t r = gpgme_op_verify_result(ctx.get());
    if (r == nullptr || r->signatures == nullptr) {
      if (op_err != 0 && gpgme_err_code(op_err) != GPG_ERR_NO_DATA) {
        return Status(Code::kBadSignature, "signature cannot be read: " + GpgError(op_err));
      }
      return Status(Code::kUnsigned, "no signature");
    }
    std::string good, nokey, expired, bad;
    for (gpgme_signature_t s = r->signatures; s != nullptr; s = s->next) {
      std::string id = KeyIdOf(s->fpr);
      switch (gpgme_err_code(s->status)) {
        case GPG_ERR_NO_ERROR:
          if ((s->summary & (GPGME_SIGSUM_KEY_EXPIRED | GPGME_SIGSUM_KEY_REVOKED |
                             GPGME_SIGSUM_SIG_EXPIRED | GPGME_SIGSUM_RED)) != 0) {
            expired += (expired.empty() ? "" : ", ") + id + " (not valid now)";
          } else if (good.empty()) {
            good = PrimaryKeyId(s->fpr);
          }
          break;
        case GPG_ERR_NO_PUBKEY:
          nokey += (nokey.empty() ? "" : ", ") + id;
          break;
        case GPG_ERR_KEY_EXPIRED: {
          std::string when;
          if (KeyPtr k = GetKey(s->fpr); k && k->subkeys) {
            for (gpgme_subkey_t sk = k->subkeys; sk; sk = sk->next) {
              if (sk->fpr && s->fpr && ::strcasecmp(sk->fpr, s->fpr) == 0 && sk->expires) {
                when = " on " + DateOf(static_cast<unsigned long>(sk->expires));
              }
            }
          }
          expired += (expired.empty() ? "" : ", ") + id + " (key expired" + when + ")";
          break;
        }
        case GPG_ERR_SIG_EXPIRED:
          expired += (expired.empty() ? "" : ", ") + id + " (signature expired)";
          break;
        case GPG_ERR_CERT_REVOKED:
          expired += (expired.empty() ? "" : ", ") + id + " (key revoked)";
          break;
        default:
          bad += (bad.empty() ? "" : ", ") + id + " (" + GpgError(s->status) + ")";
          break;
      }
    }
    if (!bad.empty()) {
      return Status(Code::kBadSignature, "signature by key " + bad + " does not verify (BAD)");
    }
    if (!good.empty()) return VerifiedText{std::move(text), good};
    if (!expired.empty()) {
      return Status(Code::kBadSignature, "signed only by keys not valid now: " + expired);
    }
    if (!nokey.empty()) {
      return Status(Code::kNoKey,
                    "signed by key " + nokey + ", which is not in the store's keyring");
    }
    return Status(Code::kBadSignature, "no valid signature");
  }

  KeyPtr GetKey(const char* fpr) {
    if (fpr == nullptr) return nullptr;
    gpgme_key_t k = nullptr;
    if (gpgme_get_key(ctx.get(), fpr, &k, 0) != 0) return nullptr;
    return KeyPtr(k);
  }

  std::string PrimaryKeyId(const char* fpr) {
    KeyPtr k = GetKey(fpr);
    if (k && k->subkeys && k->subkeys->keyid) return KeyIdOf(k->subkeys->keyid);
    return KeyIdOf(fpr);
  }
};

PgpVerifier::PgpVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgpVerifier::~PgpVerifier() = default;
size_t PgpVerifier::key_count() const { return impl_->keys; }

Result<std::unique_ptr<PgpVerifier>> PgpVerifier::Create(
    const std::vector<std::vector<uint8_t>>& keys) {
  DFS_RETURN_IF_ERROR(InitGpgme());
  auto impl = std::make_unique<Impl>();
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp && *tmp ? tmp : "/tmp") + "/digestctl-gnupg-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    return Status::FromErrno(errno, "mkdtemp " + tmpl);
  }
  impl->home = buf.data();
  impl->home_fd.reset(::open(impl->home.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!impl->home_fd) return Status::FromErrno(errno, "open " + impl->home);
  {
    Fd conf(::openat(impl->home_fd.get(), "gpg.conf",
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!conf) return Status::FromErrno(errno, "create " + impl->home + "/gpg.conf");
    static constexpr std::string_view kConf = "trust-model always\nno-autostart\n";
    if (::write(conf.get(), kConf.data(), kConf.size()) != static_cast<ssize_t>(kConf.size())) {
      return Status::FromErrno(errno, "write " + impl->home + "/gpg.conf");
    }
  }
  gpgme_ctx_t c = nullptr;
  gpgme_error_t e = gpgme_new(&c);
  if (e != 0) return Status(Code::kUnavailable, "gpgme_new: " + GpgError(e));
  impl->ctx.reset(c);
  e = gpgme_set_protocol(c, GPGME_PROTOCOL_OpenPGP);
  if (e == 0) e = gpgme_ctx_set_engine_info(c, GPGME_PROTOCOL_OpenPGP, nullptr, impl->home.c_str());
  if (e != 0) return Status(Code::kUnavailable, "GnuPG engine: " + GpgError(e));
  gpgme_set_offline(c, 1);
  for (size_t i = 0; i < keys.size(); ++i) {
    gpgme_data_t d = nullptr;
    e = gpgme_data_new_from_mem(&d, reinterpret_cast<const char*>(keys[i].data()), keys[i].size(),
                                1);
    if (e != 0) return Status(Code::kInternal, "gpgme_data_new_from_mem: " + GpgError(e));
    DataPtr data(d);
    e = gpgme_op_import(c, d);
    gpgme_import_result_t r = gpgme_op_import_result(c);
    if (e != 0 || r == nullptr || r->considered == 0 || r->not_imported != 0) {
      return Status(Code::kInvalidArgument, "OpenPGP key #" + std::to_string(i) +
                                                " cannot be imported by GnuPG" +
                                                (e ? ": " + GpgError(e) : std::string()));
    }
    impl->keys += static_cast<size_t>(r->considered);
  }
  return std::unique_ptr<PgpVerifier>(new PgpVerifier(std::move(impl)));
}

Result<VerifiedText> PgpVerifier::VerifyClearsigned(std::span<const uint8_t> data) {
  std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  DFS_RETURN_IF_ERROR(CheckClearsignedFrame(text));
  gpgme_data_t in = nullptr, out = nullptr;
  if (gpgme_data_new_from_mem(&in, text.data(), text.size(), 0) != 0 || gpgme_data_new(&out) != 0) {
    if (in) gpgme_data_release(in);
    return Status(Code::kInternal, "gpgme data");
  }
  DataPtr inp(in);
  gpgme_error_t e = gpgme_op_verify(impl_->ctx.get(), in, nullptr, out);
  size_t len = 0;
  char* plain = gpgme_data_release_and_get_mem(out, &len);
  std::string signed_text(plain ? plain : "", plain ? len : 0);
  gpgme_free(plain);
  return impl_->Judge(e, std::move(signed_text));
}

Result<VerifiedText> PgpVerifier::VerifyDetached(std::span<const uint8_t> data,
                                                 std::span<const uint8_t> sig) {
  if (sig.empty()) return Status(Code::kUnsigned, "empty detached signature");
  gpgme_data_t s = nullptr, d = nullptr;
  if (gpgme_data_new_from_mem(&s, reinterpret_cast<const char*>(sig.data()), sig.size(), 0) != 0) {
    return Status(Code::kInternal, "gpgme data");
  }
  DataPtr sp(s);
  if (gpgme_data_new_from_mem(&d, reinterpret_cast<const char*>(data.data()), data.size(), 0) !=
      0) {
    return Status(Code::kInternal, "gpgme data");
  }
  DataPtr dp(d);
  gpgme_error_t e = gpgme_op_verify(impl_->ctx.get(), s, d, nullptr);
  return impl_->Judge(e, std::string(reinterpret_cast<const char*>(data.data()), data.size()));
}

}  // namespace dfs::apt
