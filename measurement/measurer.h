// measurement/measurer.h: what the enforcer asks of measurement. A Measurer appends an entry to the
// measurement log and extends the TPM PCR (or not, for the null measurer used with no TPM).
//
// Contract:
// - Thread-safe. Each call is durable before it returns: the log entry is written and synced and
//   the PCR is extended (docs/measurement.md gives the order and the crash rule).
// - Idempotent per subject: MeasureSource for a source already measured by this Measurer (same
//   blob digest) and MeasureFile for a (digest, path) already measured return OK without a new
//   entry. This is what makes one measurement per package.
// - Errors: kUnavailable when the TPM cannot be reached or an extend fails; kIo when the log
//   cannot be written. The enforcer refuses the open in enforce mode on any error (G7).
#pragma once

#include <memory>
#include <string>

#include "cache/records.h"
#include "common/digest.h"
#include "common/status.h"

namespace dfs {

class Measurer {
 public:
  virtual ~Measurer() = default;
  // Records the signed blob of a source: digest = source.blob_digest, name = source name
  // (e.g. "rpm-hello-2.0-1.x86_64", as the kernel names measured digest lists).
  virtual Status MeasureSource(const SourceInfo& source) = 0;
  // Records one file not vouched for by any source: its content digest and its path.
  virtual Status MeasureFile(const Digest& content, const std::string& path) = 0;
};

}  // namespace dfs
