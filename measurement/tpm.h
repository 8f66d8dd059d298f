// measurement/tpm.h: the PCR seam and its tpm2-tss (ESAPI) implementation.
//
// PcrBackend is what the measurer needs from a TPM: the allocated banks of one PCR, extend it with
// one digest per bank, and read it back. Tpm implements it over ESAPI; unit tests use a software
// fake (tests/unit/measure_*_test.cc).
//
// Tpm contract:
// - Owns one TCTI context and one ESYS context (RAII; freed in the destructor).
// - Not thread-safe: the caller serializes calls (the measurer holds its mutex around them).
// - A TPM that disappears (swtpm killed, device gone) makes the failing call return kUnavailable
//   with the TSS return code decoded (Tss2_RC_Decode); the contexts are dropped and the next call
//   reconnects from the same TCTI string. Nothing here crashes on a dead TPM, and SIGPIPE from a
//   closed socket is blocked and discarded around each call.
// - A TPM that hangs without closing its connection blocks the call (the TCTI's blocking receive);
//   there is no timeout in this version.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/digest.h"
#include "common/status.h"

namespace dfs {

class PcrBackend {
 public:
  virtual ~PcrBackend() = default;
  // The hash algorithms of the banks in which `pcr` is allocated, in the TPM's order, restricted to
  // algorithms this build can compute (others are logged and skipped). kUnavailable on TPM errors.
  virtual Result<std::vector<HashAlgo>> Banks(uint32_t pcr) = 0;
  // Extends `pcr` with one digest per bank (digests[i].algo names the bank). kUnavailable on error.
  virtual Status Extend(uint32_t pcr, const std::vector<Digest>& digests) = 0;
  // Reads `pcr` in the given banks, same order. kUnavailable on error.
  virtual Result<std::vector<Digest>> Read(uint32_t pcr, const std::vector<HashAlgo>& banks) = 0;
  // A short description for logs ("swtpm:host=...,port=...").
  virtual std::string Describe() const = 0;
};

class Tpm : public PcrBackend {
 public:
  // Connects to the TPM named by a TCTI string ("swtpm:host=127.0.0.1,port=2321",
  // "device:/dev/tpmrm0", "tabrmd", ...). kUnavailable if the TCTI cannot be loaded or the TPM does
  // not answer; kInvalidArgument for an empty string.
  static Result<std::unique_ptr<Tpm>> Connect(const std::string& tcti);
  ~Tpm() override;
  Tpm(const Tpm&) = delete;
  Tpm& operator=(const Tpm&) = delete;

  Result<std::vector<HashAlgo>> Banks(uint32_t pcr) override;
  Status Extend(uint32_t pcr, const std::vector<Digest>& digests) override;
  Result<std::vector<Digest>> Read(uint32_t pcr, const std::vector<HashAlgo>& banks) override;
  std::string Describe() const override { return tcti_; }

  // Number of successful PCR extends made through this object (for benchmarks and logs).
  uint64_t extends() const { return extends_; }

 private:
  struct Contexts;
  explicit Tpm(std::string tcti);
  Status EnsureConnected();

  std::string tcti_;
  std::unique_ptr<Contexts> ctx_;  // null while disconnected
  uint64_t extends_ = 0;
};

}  // namespace dfs
