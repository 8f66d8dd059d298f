#include "crypto/sign.h"

// pem.h first: cms.h declares its PEM functions only when pem.h's macros are defined.
#include <openssl/pem.h>
//
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <memory>

#include "common/digest.h"

namespace dfs {

namespace {

template <auto F>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    F(p);
  }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, Deleter<CMS_ContentInfo_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
struct X509StackFree {
  void operator()(STACK_OF(X509) * s) const { sk_X509_free(s); }  // certs owned elsewhere
};
using X509StackPtr = std::unique_ptr<STACK_OF(X509), X509StackFree>;

// The most recent OpenSSL error as text, and clears the queue.
std::string SslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

BioPtr MemBio(std::span<const uint8_t> data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

bool HasPemHeader(std::span<const uint8_t> data, const char* label) {
  std::string_view s(reinterpret_cast<const char*>(data.data()), data.size());
  return s.find(std::string("-----BEGIN ") + label + "-----") != std::string_view::npos;
}

X509Ptr LoadCert(std::span<const uint8_t> data) {
  if (HasPemHeader(data, "CERTIFICATE")) {
    BioPtr bio = MemBio(data);
    return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  }
  const unsigned char* p = data.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(data.size())));
  if (x && p != data.data() + data.size()) return nullptr;  // trailing bytes: not one DER cert
  return x;
}

Result<std::vector<uint8_t>> ToDer(X509* x) {
  int n = i2d_X509(x, nullptr);
  if (n <= 0) return Status(Code::kInternal, "i2d_X509: " + SslError());
  std::vector<uint8_t> der(static_cast<size_t>(n));
  unsigned char* p = der.data();
  i2d_X509(x, &p);
  return der;
}

int64_t AsnTimeToEpoch(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

bool LooksLikeX509(std::span<const uint8_t> data) {
  if (HasPemHeader(data, "CERTIFICATE")) return true;
  if (data.empty() || data[0] != 0x30) return false;
  X509Ptr x = LoadCert(data);
  ERR_clear_error();
  return x != nullptr;
}

Result<X509Cert> ParseX509(std::span<const uint8_t> data) {
  X509Ptr x = LoadCert(data);
  if (!x) {
    return Status(Code::kInvalidArgument, "not an X.509 certificate (PEM or DER): " + SslError());
  }
  X509Cert c;
  DFS_ASSIGN_OR_RETURN(c.der, ToDer(x.get()));
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (X509_digest(x.get(), EVP_sha256(), md, &mdlen) != 1) {
    return Status(Code::kInternal, "X509_digest: " + SslError());
  }
  c.fingerprint = ToHex(md, mdlen);
  BioPtr out(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(out.get(), X509_get_subject_name(x.get()), 0, XN_FLAG_RFC2253);
  char* p = nullptr;
  long n = BIO_get_mem_data(out.get(), &p);
  c.subject.assign(p, static_cast<size_t>(n));
  const ASN1_OCTET_STRING* skid = X509_get0_subject_key_id(x.get());
  if (skid) c.key_id = ToHex(ASN1_STRING_get0_data(skid), ASN1_STRING_length(skid));
  c.not_after = AsnTimeToEpoch(X509_get0_notAfter(x.get()));
  ERR_clear_error();
  return c;
}

Result<size_t> VerifyDetached(std::span<const uint8_t> sig_der, std::span<const uint8_t> content,
                              const std::vector<std::vector<uint8_t>>& trusted) {
  BioPtr sbio = MemBio(sig_der);
  CmsPtr cms(d2i_CMS_bio(sbio.get(), nullptr));
  if (!cms || OBJ_obj2nid(CMS_get0_type(cms.get())) != NID_pkcs7_signed) {
    return Status(Code::kInvalidArgument,
                  "signature is not a PKCS#7/CMS SignedData: " + SslError());
  }
  STACK_OF(CMS_SignerInfo)* sis = CMS_get0_SignerInfos(cms.get());
  if (sis == nullptr || sk_CMS_SignerInfo_num(sis) == 0) {
    return Status(Code::kInvalidArgument, "signature has no signer");
  }
  std::vector<X509Ptr> certs;
  for (const auto& der : trusted) certs.push_back(LoadCert(der));
  // Every signer must be one of the trusted certificates; remember which.
  X509StackPtr signers(sk_X509_new_null());
  size_t first_match = trusted.size();
  for (int i = 0; i < sk_CMS_SignerInfo_num(sis); ++i) {
    CMS_SignerInfo* si = sk_CMS_SignerInfo_value(sis, i);
    bool found = false;
    for (size_t k = 0; k < certs.size(); ++k) {
      if (certs[k] && CMS_SignerInfo_cert_cmp(si, certs[k].get()) == 0) {
        sk_X509_push(signers.get(), certs[k].get());
        if (first_match == trusted.size()) first_match = k;
        found = true;
        break;
      }
    }
    if (!found) {
      ERR_clear_error();
      return Status(Code::kNoKey, "signer is not among the configured X.509 certificates");
    }
  }
  BioPtr cbio = MemBio(content);
  int ok = CMS_verify(cms.get(), signers.get(), nullptr, cbio.get(), nullptr,
                      CMS_BINARY | CMS_NOINTERN | CMS_NO_SIGNER_CERT_VERIFY);
  if (ok != 1) return Status(Code::kBadSignature, "signature does not verify: " + SslError());
  ERR_clear_error();
  return first_match;
}

Result<std::vector<uint8_t>> SignDetached(std::span<const uint8_t> content,
                                          std::span<const uint8_t> key_pem,
                                          std::span<const uint8_t> cert, bool module_style) {
  BioPtr kbio = MemBio(key_pem);
  PkeyPtr key(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
  if (!key) return Status(Code::kInvalidArgument, "cannot read private key (PEM): " + SslError());
  X509Ptr x = LoadCert(cert);
  if (!x) return Status(Code::kInvalidArgument, "cannot read certificate: " + SslError());
  if (X509_check_private_key(x.get(), key.get()) != 1) {
    return Status(Code::kInvalidArgument, "private key does not match the certificate");
  }
  unsigned flags = CMS_DETACHED | CMS_BINARY | CMS_PARTIAL;
  CmsPtr cms(CMS_sign(nullptr, nullptr, nullptr, nullptr, flags));
  if (!cms) return Status(Code::kInternal, "CMS_sign: " + SslError());
  unsigned sflags = 0;
  if (module_style) {
    sflags = CMS_NOCERTS | CMS_NOATTR | CMS_NOSMIMECAP;
    if (X509_get0_subject_key_id(x.get()) != nullptr) sflags |= CMS_USE_KEYID;
  }
  if (CMS_add1_signer(cms.get(), x.get(), key.get(), EVP_sha256(), sflags) == nullptr) {
    return Status(Code::kInternal, "CMS_add1_signer: " + SslError());
  }
  BioPtr cbio = MemBio(content);
  if (CMS_final(cms.get(), cbio.get(), nullptr, flags) != 1) {
    return Status(Code::kInternal, "CMS_final: " + SslError());
  }
  int n = i2d_CMS_ContentInfo(cms.get(), nullptr);
  if (n <= 0) return Status(Code::kInternal, "i2d_CMS_ContentInfo: " + SslError());
  std::vector<uint8_t> der(static_cast<size_t>(n));
  unsigned char* p = der.data();
  i2d_CMS_ContentInfo(cms.get(), &p);
  return der;
}

Result<std::string> CmsDerToPem(std::span<const uint8_t> der) {
  BioPtr in = MemBio(der);
  CmsPtr cms(d2i_CMS_bio(in.get(), nullptr));
  if (!cms) return Status(Code::kInvalidArgument, "not a CMS structure: " + SslError());
  BioPtr out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_CMS(out.get(), cms.get()) != 1) {
    return Status(Code::kInternal, "PEM_write_bio_CMS: " + SslError());
  }
  char* p = nullptr;
  long n = BIO_get_mem_data(out.get(), &p);
  return std::string(p, static_cast<size_t>(n));
}

Result<std::vector<uint8_t>> CmsPemToDer(std::string_view pem) {
  BioPtr in(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CmsPtr cms(PEM_read_bio_CMS(in.get(), nullptr, nullptr, nullptr));
  if (!cms) return Status(Code::kInvalidArgument, "not a PEM CMS block: " + SslError());
  int n = i2d_CMS_ContentInfo(cms.get(), nullptr);
  if (n <= 0) return Status(Code::kInternal, "i2d_CMS_ContentInfo: " + SslError());
  std::vector<uint8_t> der(static_cast<size_t>(n));
  unsigned char* p = der.data();
  i2d_CMS_ContentInfo(cms.get(), &p);
  return der;
}

}  // namespace dfs
