// crypto/sign.h: X.509 certificates and detached PKCS#7 / CMS signatures (OpenSSL 3).
//
// Used by packaging/ for the appended module-style signature of kernel TLV digest lists and for
// signed manifests, and by the key store to recognise certificates. Certificates are trust anchors
// as configured by the operator (`digestctl keys add`): a signature verifies when it was made by
// the key of one of the given certificates. No chain building, no system trust store, no
// certificates embedded in the signature are trusted.
//
// Thread safety: free functions over values; safe from any thread.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace dfs {

// A parsed certificate, as plain values.
struct X509Cert {
  std::vector<uint8_t> der;  // the certificate, DER
  std::string fingerprint;   // SHA-256 of the DER, lowercase hex (64 chars)
  std::string subject;       // one-line RFC 2253 subject
  std::string key_id;        // subjectKeyIdentifier, hex; empty if the extension is absent
  int64_t not_after = 0;     // seconds since the epoch
};

// Parses one certificate in PEM ("-----BEGIN CERTIFICATE-----") or DER form.
// Errors: kInvalidArgument (not a certificate, trailing garbage in DER, more than one PEM block is
// fine: the first is taken).
Result<X509Cert> ParseX509(std::span<const uint8_t> data);

// True if the data looks like a certificate (PEM header or a DER SEQUENCE that parses).
bool LooksLikeX509(std::span<const uint8_t> data);

// Verifies a detached PKCS#7/CMS SignedData `sig_der` over `content` against `trusted` (DER
// certificates). Returns the index in `trusted` of the certificate whose key made the signature.
// Errors: kInvalidArgument (sig_der is not a CMS/PKCS#7 SignedData), kNoKey (no trusted certificate
// matches any signer), kBadSignature (a trusted signer matches and the signature does not verify).
Result<size_t> VerifyDetached(std::span<const uint8_t> sig_der, std::span<const uint8_t> content,
                              const std::vector<std::vector<uint8_t>>& trusted);

// Signs `content` with the private key in `key_pem` (PEM, unencrypted) and certificate `cert`
// (PEM or DER); returns a detached CMS SignedData in DER. With `module_style`, the signature has
// no signed attributes and no embedded certificate and names the signer by subjectKeyIdentifier,
// as the kernel's sign-file writes it.
// Errors: kInvalidArgument (unreadable key or certificate, key does not match certificate),
// kInternal (OpenSSL failed).
Result<std::vector<uint8_t>> SignDetached(std::span<const uint8_t> content,
                                          std::span<const uint8_t> key_pem,
                                          std::span<const uint8_t> cert, bool module_style);

// PEM armour for a CMS structure ("-----BEGIN CMS-----"), and back.
Result<std::string> CmsDerToPem(std::span<const uint8_t> der);
Result<std::vector<uint8_t>> CmsPemToDer(std::string_view pem);

}  // namespace dfs
