// policy/gate.h: the contract between the FUSE layer (fs/) and enforcement (policy/).
//
// fs/ calls a Gate at the points where integrity is decided or lost; the Gate never replies to the
// kernel. With mode=off, fs/ runs with no Gate at all (a plain passthrough).
//
// Thread safety: every method may be called from any FUSE worker thread at once.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/fd.h"
#include "common/status.h"

namespace dfs {

enum class AccessOp : uint8_t { kRead = 1, kExec = 2, kWrite = 3 };

// "read", "exec", "write" (the policy language's op= values; also used in logs).
inline std::string_view AccessOpName(AccessOp op) {
  switch (op) {
    case AccessOp::kRead:
      return "read";
    case AccessOp::kExec:
      return "exec";
    case AccessOp::kWrite:
      return "write";
  }
  return "?";
}

struct OpenRequest {
  int fd = -1;        // the lower file as opened for the caller; not owned; readable
                      // unless op == kWrite with O_WRONLY. -1 in TryCheckOpenInline for
                      // a reader (fs/ opens a reader's lower file when a read needs it):
                      // use reopen_readonly if the content must be read
  struct stat st {};  // fstat of the lower file at the open
  // A path of the file from the mount root ("/usr/bin/hello"). FUSE opens carry no name, so this
  // is one of the names fs/ knows the inode by (lookup, create, link, rename). EMPTY when no name
  // is known (every known name was unlinked, or more names than fs/ tracks): the Gate must then
  // decide as strictly as any path could.
  std::string path;
  // Every other known path of this inode (hard links); empty if none. The Gate must decide as
  // strictly as the strictest of `path` and `aliases`.
  std::vector<std::string> aliases;
  AccessOp op =
      AccessOp::kRead;  // kExec if the flags carry __FMODE_EXEC; kWrite if O_WRONLY/O_RDWR
  int flags = 0;        // the open flags as the kernel sent them
  uint32_t uid = 0, gid = 0, pid = 0;  // the calling process
  // Opens the same inode read-only (for hashing when fd is write-only); may be empty. With
  // verify=blocks an allowed reader's ticket keeps it and calls it when a read first needs the
  // lower file (a read of part of a block): what it refers to must live until the release.
  std::function<Result<Fd>()> reopen_readonly;
  // True once the opener has given up (FUSE INTERRUPT: a signal, or the process killed); may be
  // empty. A hash started for this open stops then, and the open fails with EINTR.
  std::function<bool()> interrupted;
  // TryCheckOpenInline only; may be empty (false): whether no other request waits for fs/'s
  // thread now, so that a larger file whose bytes are all cached may be hashed there
  // (EnforcerOptions::inline_hash_idle_max). Asked only when the open needs a hash (it costs fs/
  // a poll of the device).
  std::function<bool()> idle;
};

// What an allowed open carries until release. fs/ keeps it with the file handle.
struct OpenTicket {
  // Non-null with verify=blocks: every read served must be checked with CheckRead.
  std::shared_ptr<const void> blocks;
};

class Gate {
 public:
  virtual ~Gate() = default;

  // Decides an open before any byte is served. OK: serve (ticket filled). kPermissionDenied: the
  // caller gets EACCES. Any other error: EIO in enforce mode (the Gate has already applied
  // permissive mode, so a non-OK status is always meant as a refusal).
  virtual Status CheckOpen(const OpenRequest& req, OpenTicket* ticket) = 0;

  // Decides an open at once if that needs no hashing, no waiting and no measurement (a valid
  // cached verdict, or no rule applies), so fs/ can answer on its session thread. Returns true
  // with *result set as CheckOpen would set it (ticket filled on OK); false if CheckOpen must be
  // called instead (off the session thread). Has no effect when it returns false.
  virtual bool TryCheckOpenInline(const OpenRequest& req, OpenTicket* ticket, Status* result) {
    (void)req;
    (void)ticket;
    (void)result;
    return false;
  }

  // Decides whether a FIFO, socket or device node may be reached by the name req.path (req.st:
  // its lstat, or for one about to be made, its mode and the caller as owner; req.aliases: its
  // other names, if any; req.fd is -1). The kernel serves such nodes itself: no OPEN reaches
  // fs/, so this is asked instead when the node gets a name in the kernel (lookup, readdirplus,
  // mknod, link, rename). Decided as an op=read of the node: if the policy appraises it, the
  // node's content cannot be vouched for and it is refused (kPermissionDenied; logged once per
  // node and name, naming the path and the rule). Permissive mode logs and allows. Never blocks.
  virtual Status CheckNode(const OpenRequest& req) = 0;

  // verify=blocks: checks bytes read from the lower file at `offset` before they are served.
  // kCorrupt on a mismatch (fs/ answers EIO).
  virtual Status CheckRead(const OpenTicket& ticket, uint64_t offset,
                           std::span<const uint8_t> data) = 0;

  // G2: the file (dev, ino) changed through the mount (write, truncate, fallocate,
  // copy_file_range, rename over, link, unlink, setattr size). Drops its verdict at once.
  virtual void Changed(uint64_t dev, uint64_t ino) = 0;

  // The last writer of a file opened for write through the mount has closed it. `path` is its
  // path from the mount root; `reopen_readonly` opens it for hashing; `still_named` (may be empty)
  // says whether `path` still leads to the file. May be called from several threads at once (fs/
  // has more than one release thread): a file is recorded under `path` only if `path` still leads
  // to it when the record is made, so a file renamed away while hashed never replaces the record
  // of the file written there after it, whichever release finishes first.
  virtual void WriterClosed(uint64_t dev, uint64_t ino, const std::string& path,
                            const std::function<Result<Fd>()>& reopen_readonly,
                            const std::function<bool()>& still_named) = 0;

  // Whether reads must go through CheckRead (fs/ then serves reads from a buffer, not splice).
  virtual bool verify_blocks() const = 0;

  // verify=blocks: a ticket that checks reads against the block digests of `ticket` (another
  // open of the same file) and reads the part blocks CheckRead needs through `reopen_readonly`,
  // which must stay valid while the returned ticket is used; nothing of `ticket` but its digests
  // is used. fs/ checks the reads of an open the policy does not appraise with it while
  // block-checked opens of the file exist (their page cache is the same). An empty ticket if
  // `ticket` has no digests, or if this Gate cannot share them (fs/ then refuses the read).
  virtual OpenTicket ShareTicket(const OpenTicket& ticket,
                                 std::function<Result<Fd>()> reopen_readonly) {
    (void)ticket;
    (void)reopen_readonly;
    return {};
  }

  // verify=blocks: what identifies the block digests a ticket checks with: tickets of opens
  // decided by one verdict give the same value (opens of one version of a file share it); null
  // for a ticket without digests. fs/ keeps one ticket per value among a file's open
  // block-checked handles, and checks every page fill against each.
  virtual const void* TicketDigests(const OpenTicket& ticket) const { return ticket.blocks.get(); }

  // The whole content of the file this thread last hashed on fs/'s session thread
  // (TryCheckOpenInline), if that hash read all of it into one buffer and `st`, an fstat of the
  // lower file taken now, names the same file (st_dev, st_ino) with the size, mtime and ctime it
  // had before and after that hash: the very bytes whose digests decided the open. Empty
  // otherwise (never hashed here, hashed in pieces, or changed since). fs/ serves them for a
  // prefill instead of reading and checking the file again. Valid until this thread's next call
  // into the Gate.
  virtual std::span<const uint8_t> InlineHashedBytes(const struct stat& st) {
    (void)st;
    return {};
  }

  // The Gate's counters for the runtime status file (docs/mount.md, "Runtime status"): appends
  // (name, value) pairs, names in snake_case without a prefix ("opens", "bytes_hashed"). Values
  // are monotonic except gauges named "*_entries". Cheap (relaxed atomic loads); any thread.
  virtual void Counters(std::vector<std::pair<std::string, uint64_t>>* out) const { (void)out; }

  // Periodic housekeeping, called every few seconds (the status interval) and at SIGUSR1: logs how
  // many refusal lines the rate limit suppressed since the last such line, if any.
  virtual void Tick() {}

  // Optional, once per thread of fs/, where the thread starts and before it serves: makes the
  // buffers the Gate will use on that thread resident now (common/byte_buffer.h, Prefault), so
  // that the first opens of a fresh mount do not pay their page faults. `session`: fs/'s session
  // thread (it hashes small files inline); else a worker (it hashes the rest). The buffers are
  // kept for the thread's life, as they would be after its first use.
  virtual void PrepareThread(bool session) { (void)session; }

  // SIGHUP: re-reads the policy file the Gate was made with. OK: the new policy decides every
  // open from now on and no verdict decided under the old one is reused. An error (a bad policy:
  // kInvalidArgument naming FILE:LINE:COL; kIo) leaves the old policy in force. Any thread; safe
  // against concurrent opens.
  virtual Status Reload() { return Status(Code::kUnsupported, "this gate cannot reload"); }
};

}  // namespace dfs
