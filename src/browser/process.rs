//! The few libc calls that managing Chromium's processes needs, in one
//! place (the crate's only `unsafe` code): whether we run as root, the
//! parent-death signal, and killing a browser's process group (or one of
//! its renderers). Public so
//! that the benchmark's floor (`tools/`) starts and kills Chromium the way
//! the pool does, without a copy of its own.

use tokio::process::Command;

/// Whether we run as root (Chromium then needs `--no-sandbox`).
#[expect(unsafe_code, reason = "geteuid has no preconditions and cannot fail")]
#[must_use]
pub fn is_root() -> bool {
    // SAFETY: geteuid is always successful and touches no memory of ours.
    unsafe { libc::geteuid() == 0 }
}

/// Make the kernel SIGKILL Chromium when the thread that spawned it dies,
/// so no browser outlives a worker killed by SIGKILL.
///
/// `PR_SET_PDEATHSIG` fires on the death of the spawning *thread*: spawn
/// from a tokio worker (which lives as long as the runtime), never from
/// `spawn_blocking`, whose threads exit after an idle timeout.
#[expect(
    unsafe_code,
    reason = "pre_exec runs between fork and exec; prctl and getppid are async-signal-safe"
)]
pub(crate) fn set_parent_death_signal(command: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure only calls async-signal-safe functions and
    // allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// SIGKILL one process of a browser's tree (a renderer over its memory
/// limit).
#[expect(unsafe_code, reason = "kill(2) of a child of a browser we spawned")]
pub(crate) fn kill_process(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pid <= 1 {
        return;
    }
    // SAFETY: kill has no memory-safety preconditions; the caller found
    // `pid` among the live descendants of a browser it spawned.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

/// SIGKILL the process group led by `pid` (the browser and its helpers).
#[expect(unsafe_code, reason = "kill(2) on a process group we created")]
pub fn kill_group(pid: u32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pid <= 1 {
        return;
    }
    // SAFETY: kill has no memory-safety preconditions; the group is ours
    // because we spawned its leader with process_group(0) and have not
    // reaped it yet.
    unsafe {
        libc::kill(-pid, libc::SIGKILL);
    }
}
