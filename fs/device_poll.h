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
// On a busy host polling does harm: every CPU already has other work to run, so the checks take
// CPU time from it (and from the caller) instead of filling idle time. PollBudget() therefore
// gives no budget while the host is oversubscribed (HostOversubscribed), looked up at most once
// per kBusyCheckInterval per thread.
//
// Some kernels' fuse module has a `wake_here` parameter (kFuseWakeHerePath): while it is Y, the
// kernel wakes the thread a request or a reply is for on the CPU of the task that sent it, so the
// caller's CPU runs the daemon while the caller waits and nothing crosses CPUs. Polling then only
// keeps a thread spinning on the other CPU, where requests are picked up and the caller must be
// woken across CPUs again: measured on such a kernel (docs/benchmarks.md, "fuse.wake_here"), a
// getxattr round trip took 13-15 us without polling and 15-18 us with it. So a budget that
// follows the kernel (the default poll_us) is zero while the parameter reads Y, looked at as
// often as the load.
//
// Thread safety: PollReadable and PollBudget are reentrant (PollBudget keeps its state per
// thread); concurrent calls on one descriptor are allowed.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

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

// How often a thread looks at the host's load (and the kernel's wake_here) again (PollBudget).
inline constexpr std::chrono::milliseconds kBusyCheckInterval{4};

// The fuse module parameter that some kernels have (see above).
inline constexpr char kFuseWakeHerePath[] = "/sys/module/fuse/parameters/wake_here";

// The value of a boolean kernel module parameter's text ("Y\n" or "N\n"; also 1/0), or nullopt
// if the text is not one of those.
std::optional<bool> ParseKernelBool(std::string_view text);

// The number of runnable tasks in the text of /proc/loadavg (its fourth field, "R/T": R), or
// nullopt if the text does not have that form.
std::optional<int> RunnableTasks(std::string_view loadavg);

// Whether `runnable` tasks (the calling thread among them) leave no CPU idle among `cpus`: the
// others are at least as many as the CPUs.
inline bool HostOversubscribed(int runnable, int cpus) { return runnable - 1 >= cpus; }

// Why a thread did or did not poll before a read (PollBudget), for the daemon's counters.
enum class PollChoice {
  kPolled,       // a non-zero budget
  kKernelWakes,  // none: the budget follows the kernel, and its fuse wakes the daemon here
  kHostBusy,     // none: the host is oversubscribed (and the above does not hold)
};

// The budget a session thread polls for now: `configured`, or zero while the host is
// oversubscribed (/proc/loadavg's runnable tasks against the CPUs this process may run on) or,
// with `follow_kernel`, while the file at `wake_here_path` reads Y; both read again when
// kBusyCheckInterval has passed since this thread last read them. What cannot be read does not
// take the budget away (a wake_here file that cannot be opened is tried again at the next look;
// a null `wake_here_path` is not followed). *choice (if given) says why, for a non-zero
// `configured`.
std::chrono::microseconds PollBudget(std::chrono::microseconds configured,
                                     bool follow_kernel = false,
                                     const char* wake_here_path = kFuseWakeHerePath,
                                     PollChoice* choice = nullptr);

}  // namespace dfs::fs
