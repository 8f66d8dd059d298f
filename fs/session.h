// fs/session.h: mounting and serving one digestfs mount.
//
// RunMount opens SOURCE before mounting (so a mount over SOURCE itself keeps seeing the lower
// tree), mounts MOUNTPOINT with libfuse, calls on_mounted() (the caller detaches from the terminal
// there), serves requests on a multi-threaded loop until unmounted or signalled, and unmounts.
#pragma once

#include <functional>

#include "common/status.h"
#include "fs/options.h"
#include "policy/gate.h"

namespace dfs::fs {

// gate: null for mode=off. Errors: kInvalidArgument (SOURCE not a directory, options libfuse
// rejects), kIo (open/mount failures). Returns OK after a clean unmount.
// Once mounted, a control thread (control.h) calls gate->Tick() and publishes the runtime status
// file every opts.status_interval seconds and at SIGUSR1; at SIGHUP it calls `reload_hook` (if set;
// e.g. to reopen a log file) and then gate->Reload() (a refusal is logged, the old policy stays).
// Run as root, it starts the connection watchdog (conn_watchdog.h) by running this program's own
// binary again: its main() must call ConnectionWatchdog::RunIfRequested(argc, argv) first.
Status RunMount(const MountOptions& opts, Gate* gate, const std::function<void()>& on_mounted,
                const std::function<void()>& reload_hook = {});

}  // namespace dfs::fs
