// fs_gate_mount: serves a digestfs mount (fs/session.h) with a scripted test Gate instead of the
// enforcer, in the foreground, to check the Gate hooks of fs/ through a real kernel mount
// (tests/integration/fs_gate.sh). Not part of digestfs.
//
// usage: fs_gate_mount SOURCE MOUNTPOINT EVENTS DENY [blocks]
//   EVENTS  file the Gate appends one line per call to:
//           "open OP PATH uid=U gid=G ino=I aliases=A,B", "changed INO", "writer_closed INO PATH",
//           "read_refused PATH"
//   DENY    opens whose path or any alias contains this substring are refused (EACCES)
//   blocks  verify_blocks(): reads of paths containing "corrupt" fail CheckRead (EIO)
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>

#include "common/log.h"
#include "fs/conn_watchdog.h"
#include "fs/session.h"
#include "policy/gate.h"

namespace {

struct Ticket {
  std::string path;
};

class ScriptedGate : public dfs::Gate {
 public:
  ScriptedGate(FILE* events, std::string deny, bool blocks)
      : events_(events), deny_(std::move(deny)), blocks_(blocks) {}

  dfs::Status CheckOpen(const dfs::OpenRequest& r, dfs::OpenTicket* t) override {
    const char* op = r.op == dfs::AccessOp::kExec    ? "exec"
                     : r.op == dfs::AccessOp::kWrite ? "write"
                                                     : "read";
    std::string aliases;
    for (const auto& a : r.aliases) aliases += (aliases.empty() ? "" : ",") + a;
    Event("open " + std::string(op) + " " + r.path + " uid=" + std::to_string(r.uid) + " gid=" +
          std::to_string(r.gid) + " ino=" + std::to_string(r.st.st_ino) + " aliases=" + aliases);
    // The descriptor must be the file's, readable for read/exec opens.
    if (r.op != dfs::AccessOp::kWrite) {
      char c;
      if (pread(r.fd, &c, 1, 0) < 0) Event("bad_fd " + r.path);
    }
    // Decided on the strictest of the path and its aliases, as the enforcer does.
    bool deny = !deny_.empty() && r.path.find(deny_) != std::string::npos;
    for (const auto& a : r.aliases)
      deny = deny || (!deny_.empty() && a.find(deny_) != std::string::npos);
    if (deny) return dfs::Status(dfs::Code::kPermissionDenied, "denied by test gate");
    if (blocks_) t->blocks = std::make_shared<Ticket>(Ticket{r.path});
    return dfs::Status::Ok();
  }

  dfs::Status CheckNode(const dfs::OpenRequest& r) override {
    Event("node " + r.path + " uid=" + std::to_string(r.uid));
    bool deny = !deny_.empty() && r.path.find(deny_) != std::string::npos;
    if (deny) return dfs::Status(dfs::Code::kPermissionDenied, "denied by test gate");
    return dfs::Status::Ok();
  }

  dfs::Status CheckRead(const dfs::OpenTicket& t, uint64_t, std::span<const uint8_t>) override {
    auto* ticket = static_cast<const Ticket*>(t.blocks.get());
    if (ticket != nullptr && ticket->path.find("corrupt") != std::string::npos) {
      Event("read_refused " + ticket->path);
      return dfs::Status(dfs::Code::kCorrupt, "test block mismatch");
    }
    return dfs::Status::Ok();
  }

  void Changed(uint64_t, uint64_t ino) override { Event("changed " + std::to_string(ino)); }

  void WriterClosed(uint64_t, uint64_t ino, const std::string& path,
                    const std::function<dfs::Result<dfs::Fd>()>& reopen,
                    const std::function<bool()>&) override {
    auto fd = reopen();
    Event("writer_closed " + std::to_string(ino) + " " + path +
          (fd.ok() ? " reopened" : " noreopen"));
  }

  bool verify_blocks() const override { return blocks_; }

 private:
  void Event(const std::string& line) {
    std::lock_guard lock(mu_);
    std::fprintf(events_, "%s\n", line.c_str());
    std::fflush(events_);
  }

  std::mutex mu_;
  FILE* events_;
  std::string deny_;
  bool blocks_;
};

}  // namespace

int main(int argc, char** argv) {
  dfs::fs::ConnectionWatchdog::RunIfRequested(argc, argv);  // RunMount's watchdog, if it is one
  if (argc < 5 || argc > 6) {
    std::fprintf(stderr, "usage: fs_gate_mount SOURCE MOUNTPOINT EVENTS DENY [blocks]\n");
    return 2;
  }
  FILE* events = std::fopen(argv[3], "a");
  if (events == nullptr) {
    std::perror(argv[3]);
    return 2;
  }
  (void)dfs::InitLogging(dfs::LogSink::kStderr, "warn");
  ScriptedGate gate(events, argv[4], argc == 6 && std::string(argv[5]) == "blocks");
  dfs::fs::MountOptions o;
  o.source = argv[1];
  o.mountpoint = argv[2];
  o.foreground = true;
  o.mode = dfs::fs::EnforceMode::kEnforce;
  // No watch of the lower tree: the tests reach files moved beneath through the names the kernel
  // still caches, which the watch would expire within milliseconds (an attacker can race that, so
  // the Gate's paths must be right without it).
  o.watch = dfs::fs::WatchMode::kOff;
  dfs::Status s = dfs::fs::RunMount(o, &gate, [] {});
  if (!s.ok()) {
    std::fprintf(stderr, "fs_gate_mount: %s\n", s.ToString().c_str());
    return 1;
  }
  return 0;
}
