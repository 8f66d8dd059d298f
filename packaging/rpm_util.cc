#include "packaging/rpm_util.h"

#include <rpm/rpmcrypto.h>
#include <rpm/rpmlib.h>

#include <mutex>

namespace dfs::rpmutil {

namespace {
std::string g_captured;  // guarded by the single-thread rule in rpm_util.h

int CaptureCb(rpmlogRec rec, rpmlogCallbackData /*data*/) {
  if (rpmlogRecPriority(rec) <= RPMLOG_WARNING) {
    std::string m = rpmlogRecMessage(rec);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    if (!g_captured.empty()) g_captured += "; ";
    g_captured += m;
  }
  return 0;  // never print
}
}  // namespace

Status Init() {
  static std::once_flag once;
  static int rc = 0;
  std::call_once(once, [] {
    rc = rpmReadConfigFiles(nullptr, nullptr);
    if (rc == 0) rc = rpmInitCrypto();
  });
  if (rc != 0) return Status(Code::kInternal, "librpm initialisation failed");
  return Status::Ok();
}

LogCapture::LogCapture() {
  g_captured.clear();
  old_cb_ = rpmlogSetCallback(CaptureCb, nullptr);
}

LogCapture::~LogCapture() { rpmlogSetCallback(old_cb_, nullptr); }

std::string LogCapture::Text() const { return g_captured; }

}  // namespace dfs::rpmutil
