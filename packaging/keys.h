// packaging/keys.h: the trusted keys of a store: OpenPGP public keys (RPM header signatures) and
// X.509 certificates (TLV digest lists, manifests). Layout (docs/formats.md, "Key storage"):
//
//   <store>/keys/pgp-<keyid16>.pgp       the key's binary OpenPGP packets (dearmoured)
//   <store>/keys/x509-<sha256fp16>.der   the certificate, DER
//   <store>/keys/keys.log                append-only: one line per add/remove (time, action, id,
//                                        type, fingerprint, origin)
//
// A key is usable only if it parses with the same code that later verifies with it: OpenPGP keys
// through librpm's rpmPubkeyNew (so a key rpm 4.18 cannot import is refused at `keys add`, not at
// import time), certificates through OpenSSL.
//
// Thread safety: a KeyStore is used by one thread. Concurrent processes changing the same keys
// directory are serialised with flock on keys.log.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"

namespace dfs {

enum class KeyType { kOpenPgp, kX509 };

struct KeyInfo {
  KeyType type = KeyType::kOpenPgp;
  std::string id;  // OpenPGP: key id (16 hex); X.509: first 16 hex of the SHA-256 fingerprint
  std::string fingerprint;  // OpenPGP: v4 fingerprint (40 hex); X.509: SHA-256 of the DER (64 hex)
  std::string description;  // OpenPGP: user id; X.509: subject
  std::string file;         // file name inside the keys directory
  std::vector<uint8_t> data;  // OpenPGP: binary packets; X.509: DER
};

const char* KeyTypeName(KeyType t);  // "openpgp", "x509"

// Parses key material in any supported form: ASCII-armoured or binary OpenPGP public key, PEM or
// DER X.509 certificate. Errors: kInvalidArgument naming what was wrong (secret key, OpenPGP v6,
// unsupported algorithm, malformed packets, not a key at all).
Result<KeyInfo> ParseKey(std::span<const uint8_t> data);

// Splits OpenPGP key material (ASCII-armoured or binary) that holds one or more public keys, such
// as apt's keyrings (/usr/share/keyrings/debian-archive-keyring.gpg), into one binary block per
// key (each a public key packet with its user ids, signatures and subkeys). Data that is not
// OpenPGP (an X.509 certificate) is returned whole, as one block. Errors: kInvalidArgument
// (malformed packets, secret keys, armour that is not a public key block).
Result<std::vector<std::vector<uint8_t>>> SplitKeys(std::span<const uint8_t> data);

class KeyStore {
 public:
  // `store_dir` is the store directory; keys live in store_dir/keys (created on first Add).
  explicit KeyStore(std::string store_dir);

  // Parses and stores a key. `origin` (the file it came from) goes to keys.log.
  // Errors: as ParseKey; kExists if a key with the same id is stored; kIo.
  Result<KeyInfo> Add(std::span<const uint8_t> data, const std::string& origin);
  // Removes a key by id (or a unique prefix of its fingerprint, at least 8 hex).
  // Errors: kNotFound, kInvalidArgument (ambiguous), kIo.
  Result<KeyInfo> Remove(const std::string& id);
  // All stored keys, ordered by file name. A damaged key file is reported as kCorrupt.
  Result<std::vector<KeyInfo>> List() const;
  // Keys of one type.
  Result<std::vector<KeyInfo>> ListType(KeyType t) const;

  const std::string& dir() const { return dir_; }

 private:
  Status AppendLog(const std::string& action, const KeyInfo& k, const std::string& origin);
  std::string dir_;
};

}  // namespace dfs
