// packaging/rpm_util.h (internal to packaging/): RAII owners for librpm handles, one-time librpm
// initialisation, and capture of librpm's log messages so they become part of a Status instead of
// going to stderr.
//
// Thread safety: librpm keeps global state (macros, log callback). Everything here must be used
// from one thread at a time; digestctl is single-threaded.
#pragma once

#include <rpm/header.h>
#include <rpm/rpmkeyring.h>
#include <rpm/rpmlog.h>
#include <rpm/rpmpgp.h>
#include <rpm/rpmtd.h>
#include <rpm/rpmts.h>

#include <memory>
#include <string>

#include "common/status.h"

namespace dfs::rpmutil {

template <auto F>
struct Free {
  template <typename T>
  void operator()(T* p) const {
    F(p);
  }
};
struct HeaderFree {
  void operator()(headerToken_s* h) const { headerFree(h); }
};
using HeaderPtr = std::unique_ptr<headerToken_s, HeaderFree>;
struct TsFree {
  void operator()(rpmts_s* t) const { rpmtsFree(t); }
};
using TsPtr = std::unique_ptr<rpmts_s, TsFree>;
struct KeyringFree {
  void operator()(rpmKeyring_s* k) const { rpmKeyringFree(k); }
};
using KeyringPtr = std::unique_ptr<rpmKeyring_s, KeyringFree>;
struct PubkeyFree {
  void operator()(rpmPubkey_s* k) const { rpmPubkeyFree(k); }
};
using PubkeyPtr = std::unique_ptr<rpmPubkey_s, PubkeyFree>;
struct DigParamsFree {
  void operator()(pgpDigParams_s* p) const { pgpDigParamsFree(p); }
};
using DigParamsPtr = std::unique_ptr<pgpDigParams_s, DigParamsFree>;
struct MallocFree {
  void operator()(void* p) const { free(p); }
};
template <typename T>
using MallocPtr = std::unique_ptr<T, MallocFree>;

// Reads rpm's configuration and initialises its crypto once per process.
Status Init();

// While alive, librpm's log messages (warning and above) are collected instead of printed.
class LogCapture {
 public:
  LogCapture();
  ~LogCapture();
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  // The collected messages, one per line, trailing newlines removed ("" if none).
  std::string Text() const;

 private:
  rpmlogCallback old_cb_;
};

}  // namespace dfs::rpmutil
