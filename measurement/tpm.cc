#include "measurement/tpm.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <cstring>
#include <ctime>

namespace dfs {

namespace {

TPM2_ALG_ID TpmAlgFor(HashAlgo a) {
  switch (a) {
    case HashAlgo::kSha1:
      return TPM2_ALG_SHA1;
    case HashAlgo::kSha256:
      return TPM2_ALG_SHA256;
    case HashAlgo::kSha384:
      return TPM2_ALG_SHA384;
    case HashAlgo::kSha512:
      return TPM2_ALG_SHA512;
    case HashAlgo::kSm3:
      return TPM2_ALG_SM3_256;
    default:
      return TPM2_ALG_ERROR;
  }
}

HashAlgo AlgFromTpm(TPM2_ALG_ID id) {
  switch (id) {
    case TPM2_ALG_SHA1:
      return HashAlgo::kSha1;
    case TPM2_ALG_SHA256:
      return HashAlgo::kSha256;
    case TPM2_ALG_SHA384:
      return HashAlgo::kSha384;
    case TPM2_ALG_SHA512:
      return HashAlgo::kSha512;
    case TPM2_ALG_SM3_256:
      return HashAlgo::kSm3;
    default:
      return HashAlgo::kUnknown;
  }
}

Status TssError(const char* what, TSS2_RC rc, const std::string& tcti) {
  return Status(
      Code::kUnavailable, std::string(what) + " failed on TPM " + tcti + ": " + Tss2_RC_Decode(rc) +
                              " (rc=0x" +
                              [rc] {
                                char b[16];
                                std::snprintf(b, sizeof b, "%x", rc);
                                return std::string(b);
                              }() +
                              ")");
}

// Blocks SIGPIPE in this thread for the lifetime of the object and discards a SIGPIPE raised
// meanwhile (a write to a socket whose TPM went away), so a dead TPM gives an error, not a kill.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    blocked_ = pthread_sigmask(SIG_BLOCK, &set, &old_) == 0;
  }
  ~ScopedSigpipeBlock() {
    if (!blocked_) return;
    if (!was_pending_) {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGPIPE);
      struct timespec zero = {0, 0};
      while (sigtimedwait(&set, nullptr, &zero) > 0) {
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t old_;
  bool blocked_ = false;
  bool was_pending_ = false;
};

}  // namespace

struct Tpm::Contexts {
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  ESYS_CONTEXT* esys = nullptr;
  ~Contexts() {
    if (esys != nullptr) Esys_Finalize(&esys);
    if (tcti != nullptr) Tss2_TctiLdr_Finalize(&tcti);
  }
};

Tpm::Tpm(std::string tcti) : tcti_(std::move(tcti)) {}

Tpm::~Tpm() {
  ScopedSigpipeBlock block;
  ctx_.reset();
}

Result<std::unique_ptr<Tpm>> Tpm::Connect(const std::string& tcti) {
  if (tcti.empty()) return Status(Code::kInvalidArgument, "empty TCTI string");
  std::unique_ptr<Tpm> tpm(new Tpm(tcti));
  DFS_RETURN_IF_ERROR(tpm->EnsureConnected());
  return tpm;
}

Status Tpm::EnsureConnected() {
  if (ctx_) return Status::Ok();
  ScopedSigpipeBlock block;
  auto c = std::make_unique<Contexts>();
  TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti_.c_str(), &c->tcti);
  if (rc != TSS2_RC_SUCCESS) return TssError("Tss2_TctiLdr_Initialize", rc, tcti_);
  rc = Esys_Initialize(&c->esys, c->tcti, nullptr);
  if (rc != TSS2_RC_SUCCESS) return TssError("Esys_Initialize", rc, tcti_);
  ctx_ = std::move(c);
  spdlog::debug("tpm connected tcti={}", tcti_);
  return Status::Ok();
}

Result<std::vector<HashAlgo>> Tpm::Banks(uint32_t pcr) {
  if (pcr > 23) return Status(Code::kInvalidArgument, "PCR index " + std::to_string(pcr) + " > 23");
  DFS_RETURN_IF_ERROR(EnsureConnected());
  ScopedSigpipeBlock block;
  TPMI_YES_NO more = TPM2_NO;
  TPMS_CAPABILITY_DATA* cap = nullptr;
  TSS2_RC rc = Esys_GetCapability(ctx_->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                  TPM2_CAP_PCRS, 0, 1, &more, &cap);
  if (rc != TSS2_RC_SUCCESS) {
    Status s = TssError("Esys_GetCapability(TPM2_CAP_PCRS)", rc, tcti_);
    ctx_.reset();
    return s;
  }
  std::unique_ptr<TPMS_CAPABILITY_DATA, void (*)(void*)> owned(cap, [](void* p) { Esys_Free(p); });
  std::vector<HashAlgo> banks;
  const TPML_PCR_SELECTION& sel = cap->data.assignedPCR;
  for (uint32_t i = 0; i < sel.count && i < TPM2_NUM_PCR_BANKS; ++i) {
    const TPMS_PCR_SELECTION& s = sel.pcrSelections[i];
    if (pcr / 8 >= s.sizeofSelect || !(s.pcrSelect[pcr / 8] & (1u << (pcr % 8)))) continue;
    HashAlgo a = AlgFromTpm(s.hash);
    if (a == HashAlgo::kUnknown) {
      spdlog::warn("tpm bank skipped tcti={} alg=0x{:x} reason=unsupported-algorithm", tcti_,
                   s.hash);
      continue;
    }
    banks.push_back(a);
  }
  if (banks.empty()) {
    return Status(Code::kUnavailable,
                  "TPM " + tcti_ + " has no usable bank allocated for PCR " + std::to_string(pcr));
  }
  return banks;
}

Status Tpm::Extend(uint32_t pcr, const std::vector<Digest>& digests) {
  if (pcr > 23) return Status(Code::kInvalidArgument, "PCR index " + std::to_string(pcr) + " > 23");
  if (digests.empty() || digests.size() > TPM2_NUM_PCR_BANKS) {
    return Status(Code::kInvalidArgument,
                  "PCR extend needs 1.." + std::to_string(TPM2_NUM_PCR_BANKS) + " digests");
  }
  TPML_DIGEST_VALUES v;
  std::memset(&v, 0, sizeof v);
  v.count = static_cast<UINT32>(digests.size());
  for (size_t i = 0; i < digests.size(); ++i) {
    TPM2_ALG_ID alg = TpmAlgFor(digests[i].algo);
    if (alg == TPM2_ALG_ERROR || digests[i].bytes.size() != HashAlgoSize(digests[i].algo) ||
        digests[i].bytes.size() > sizeof(v.digests[i].digest)) {
      return Status(Code::kInvalidArgument, "PCR extend with an unusable digest");
    }
    v.digests[i].hashAlg = alg;
    std::memcpy(&v.digests[i].digest, digests[i].bytes.data(), digests[i].bytes.size());
  }
  DFS_RETURN_IF_ERROR(EnsureConnected());
  ScopedSigpipeBlock block;
  TSS2_RC rc = Esys_PCR_Extend(ctx_->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, &v);
  if (rc != TSS2_RC_SUCCESS) {
    Status s = TssError("Esys_PCR_Extend", rc, tcti_);
    ctx_.reset();  // reconnect on the next call
    return s;
  }
  ++extends_;
  return Status::Ok();
}

Result<std::vector<Digest>> Tpm::Read(uint32_t pcr, const std::vector<HashAlgo>& banks) {
  if (pcr > 23) return Status(Code::kInvalidArgument, "PCR index " + std::to_string(pcr) + " > 23");
  DFS_RETURN_IF_ERROR(EnsureConnected());
  ScopedSigpipeBlock block;
  std::vector<Digest> out;
  for (HashAlgo a : banks) {
    TPML_PCR_SELECTION sel;
    std::memset(&sel, 0, sizeof sel);
    sel.count = 1;
    sel.pcrSelections[0].hash = TpmAlgFor(a);
    sel.pcrSelections[0].sizeofSelect = 3;
    sel.pcrSelections[0].pcrSelect[pcr / 8] = static_cast<BYTE>(1u << (pcr % 8));
    UINT32 counter = 0;
    TPML_PCR_SELECTION* sel_out = nullptr;
    TPML_DIGEST* values = nullptr;
    TSS2_RC rc = Esys_PCR_Read(ctx_->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, &counter,
                               &sel_out, &values);
    if (rc != TSS2_RC_SUCCESS) {
      Status s = TssError("Esys_PCR_Read", rc, tcti_);
      ctx_.reset();
      return s;
    }
    std::unique_ptr<TPML_PCR_SELECTION, void (*)(void*)> o1(sel_out, [](void* p) { Esys_Free(p); });
    std::unique_ptr<TPML_DIGEST, void (*)(void*)> o2(values, [](void* p) { Esys_Free(p); });
    if (values == nullptr || values->count != 1 || values->digests[0].size != HashAlgoSize(a)) {
      return Status(Code::kUnavailable, "TPM " + tcti_ + " returned no " +
                                            std::string(HashAlgoName(a)) + " value for PCR " +
                                            std::to_string(pcr));
    }
    Digest d;
    d.algo = a;
    d.bytes.assign(values->digests[0].buffer, values->digests[0].buffer + values->digests[0].size);
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace dfs
