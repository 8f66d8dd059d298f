// fs/op_counters.h: FUSE requests served by this daemon, counted per opcode for the runtime
// status file (docs/mount.md, "Runtime status"). WrapCounted() wraps every callback of a
// fuse_lowlevel_ops table so that each request bumps its opcode's counter (a relaxed atomic
// increment) before the real callback runs; the counters live in the Passthrough that is the
// session's userdata.
//
// Thread safety: Add() and Snapshot() may be called from any thread at once.
#pragma once

#include <fuse_lowlevel.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dfs::fs {

// The counted callbacks, in the order of their counters. The names are libfuse's callback names.
#define DFS_FUSE_COUNTED_OPS(X)                                                               \
  X(lookup)                                                                                   \
  X(forget) X(getattr) X(setattr) X(readlink) X(mknod) X(mkdir) X(unlink) X(rmdir) X(symlink) \
      X(rename) X(link) X(open) X(read) X(write) X(flush) X(release) X(fsync) X(opendir)      \
          X(readdir) X(releasedir) X(fsyncdir) X(statfs) X(setxattr) X(getxattr) X(listxattr) \
              X(removexattr) X(access) X(create) X(getlk) X(setlk) X(bmap) X(ioctl) X(poll)   \
                  X(write_buf) X(retrieve_reply) X(forget_multi) X(flock) X(fallocate)        \
                      X(readdirplus) X(copy_file_range) X(lseek)

enum class FuseOp : size_t {
#define DFS_X(name) k_##name,
  DFS_FUSE_COUNTED_OPS(DFS_X)
#undef DFS_X
      kCount
};

class OpCounters {
 public:
  void Add(FuseOp op) { n_[static_cast<size_t>(op)].fetch_add(1, std::memory_order_relaxed); }
  // (opcode name, requests) for every opcode with at least one request.
  std::vector<std::pair<std::string, uint64_t>> Snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, static_cast<size_t>(FuseOp::kCount)> n_{};
};

// Wraps each non-null callback of `ops` (except init and destroy, which are not requests) so that
// it first calls counters(req)->Add(its opcode). `counters` maps a request to the OpCounters to
// bump (from the session's userdata).
void WrapCounted(fuse_lowlevel_ops* ops, OpCounters* (*counters)(fuse_req_t));

}  // namespace dfs::fs
