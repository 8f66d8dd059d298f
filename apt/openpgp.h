// apt/openpgp.h: OpenPGP signature checks for apt's signed indexes (InRelease, Release +
// Release.gpg), with GPGME over an ephemeral GnuPG home.
//
// Why GPGME: apt itself verifies with gpgv (GnuPG), so checking with GnuPG gives the same verdicts
// on the same inputs (the same packet parser, the same algorithms, EdDSA keys included, the same
// rules for expired and revoked keys); GPGME is GnuPG's maintained library interface, and parses
// gpg's machine-readable status output for us. librpm's OpenPGP code (packaging/) checks header
// signatures only and cannot verify a clearsigned text.
//
// Trust: a PgpVerifier knows only the keys handed to Create (the store's own keyring, never a
// rootfs's /etc/apt/trusted.gpg*): it imports them into a fresh GnuPG home (mkdtemp under
// $TMPDIR or /tmp, mode 0700, gpg.conf with trust-model always and no-autostart so that no agent
// or dirmngr is started) and removes that home in its destructor.
//
// A text is accepted when at least one signature on it is good and made by one of those keys
// (as apt does), and no signature on it is bad. Errors (each message names the key id where
// there is one):
//   kUnsigned      no signature at all (a Release without Release.gpg, an InRelease that is not
//                  clearsigned)
//   kNoKey         signatures only by keys the store does not hold
//   kBadSignature  a signature that does not verify, or only signatures by expired or revoked
//                  keys, or expired signatures
//   kCorrupt       a clearsigned frame that is not exactly one signed message (text before or
//                  after it, two messages, no signature block): such a file is refused before gpg
//                  sees it, so that nothing outside the signed part can be read as signed
//   kUnavailable   gpg (GnuPG 2) is not installed or GPGME cannot start it
//   kInvalidArgument  a key handed to Create that GnuPG does not import
//
// Thread safety: one PgpVerifier per thread (a GPGME context is not shared).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace dfs::apt {

// Checks that `text` is exactly one clearsigned message: it starts with the
// "-----BEGIN PGP SIGNED MESSAGE-----" line, holds one "-----BEGIN PGP SIGNATURE-----" line after
// the message, and ends with "-----END PGP SIGNATURE-----" followed by nothing but blank lines.
// Errors: kUnsigned if it is not clearsigned at all, kCorrupt otherwise. Fuzzing entry point.
Status CheckClearsignedFrame(std::string_view text);

struct VerifiedText {
  std::string text;    // the signed text (clearsigned: with dash-escaping removed)
  std::string signer;  // primary key id (16 lowercase hex) of the first good signature
};

class PgpVerifier {
 public:
  // `keys`: binary OpenPGP public keys (packaging/keys.h KeyInfo::data).
  static Result<std::unique_ptr<PgpVerifier>> Create(const std::vector<std::vector<uint8_t>>& keys);
  ~PgpVerifier();
  PgpVerifier(const PgpVerifier&) = delete;
  PgpVerifier& operator=(const PgpVerifier&) = delete;

  // An InRelease file: CheckClearsignedFrame, then the signatures.
  Result<VerifiedText> VerifyClearsigned(std::span<const uint8_t> data);
  // A Release file and its detached signature (Release.gpg, armoured or binary).
  Result<VerifiedText> VerifyDetached(std::span<const uint8_t> data, std::span<const uint8_t> sig);

  // How many keys GnuPG imported (primary keys).
  size_t key_count() const;

 private:
  struct Impl;
  explicit PgpVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dfs::apt
