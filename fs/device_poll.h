// fs/device_poll.h: adaptive polling of the FUSE device before a session thread sleeps in read().
//
// Every FUSE request wakes a daemon thread and, for a synchronous request, wakes the caller again
// with the reply. On small virtual machines a wakeup across CPUs costs tens of microseconds, far
// more than serving an OPEN or a RELEASE (docs/benchmarks.md has the numbers). Requests come in
// bursts: a program reading many files sends the RELEASE of one file and the OPEN of the next
// within a few microseconds of the last reply. So after serving a request, a session thread
// checks the device again for up to a short budget before it blocks, and gives up its CPU between
// checks, so that a caller woken on the same CPU runs at once. An idle mount costs nothing; a
// stream of requests closer together than the budget keeps one thread checking.
//
// Thread safety: PollReadable is reentrant; concurrent calls on one descriptor are allowed.
#pragma once

#include <chrono>

namespace dfs::fs {

// The default budget (the poll_us= mount option; docs/mount.md).
inline constexpr std::chrono::microseconds kDefaultPollBudget{50};
// The largest budget poll_us= accepts.
inline constexpr std::chrono::microseconds kMaxPollBudget{10000};

// Returns true as soon as `fd` is readable or has an error or hangup pending (which the caller's
// read() then reports), false once `budget` has passed without either. Calls sched_yield()
// between checks. A zero budget checks once. Never blocks for longer than about `budget` plus one
// scheduling slice.
bool PollReadable(int fd, std::chrono::microseconds budget);

}  // namespace dfs::fs
