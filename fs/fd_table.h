// fs/fd_table.h: growing the process's descriptor table once, before the daemon needs the slots.
//
// The kernel keeps a process's descriptors in one table that it doubles when a descriptor number
// beyond its end is needed (64, then 256, 512, 1024, ...), and never shrinks. While other threads
// share the table, each doubling waits for an RCU grace period (expand_fdtable: synchronize_rcu),
// and the thread that opened the descriptor waits with it: 5 to 30 ms on the 2-vCPU VMs of
// docs/benchmarks.md. The daemon holds a descriptor for each inode the kernel keeps (up to a cap),
// so a first pass over a root file system doubled the table four times (256 -> 4096), each time
// inside a LOOKUP that a program waited for. Growing it before the threads start costs no grace
// period at all (one, if threads exist already), and the slots cost 8 bytes each of kernel memory.
#pragma once

#include <cstddef>

#include "common/status.h"

namespace dfs::fs {

// The most slots GrowFdTable is asked for by the daemon (128 KiB of pointers): enough for every
// descriptor of a first pass over a Debian root file system; a daemon that needs more grows on
// demand as before.
inline constexpr size_t kFdTablePresize = 16384;

// Makes this process's descriptor table hold at least min(slots, RLIMIT_NOFILE's soft limit)
// descriptors, by duplicating a descriptor to the highest such number and closing the duplicate.
// No descriptor is left open. Returns the number of slots now guaranteed, or the system call's
// error (the table is then as it was; nothing depends on this but speed).
Result<size_t> GrowFdTable(size_t slots);

}  // namespace dfs::fs
