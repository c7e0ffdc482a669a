//! Signals as events: blocked, and read from a signalfd the main loop polls.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Blocked signals, read from a signalfd so the loop sees them as an event.
pub struct Signals {
    fd: OwnedFd,
}

impl Signals {
    /// Blocks SIGTERM, SIGINT and `extra` in this thread (and the threads it starts later) and opens
    /// the signalfd.
    pub fn block(extra: &[libc::c_int]) -> Result<Signals, String> {
        // SAFETY: sigset manipulation on a local set, then a mask change of this (only) thread and
        // a new descriptor owned by the result.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for &sig in [libc::SIGTERM, libc::SIGINT].iter().chain(extra) {
                libc::sigaddset(&mut set, sig);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            let fd = libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC);
            if fd < 0 {
                return Err(format!("signalfd: {}", std::io::Error::last_os_error()));
            }
            Ok(Signals {
                fd: OwnedFd::from_raw_fd(fd),
            })
        }
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The signal received (0 if none was waiting).
    pub fn take(&self) -> libc::c_int {
        // SAFETY: reads one signalfd_siginfo into a zeroed struct of that type.
        unsafe {
            let mut info: libc::signalfd_siginfo = std::mem::zeroed();
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            let n = libc::read(
                self.fd.as_raw_fd(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            );
            if n as usize == size {
                info.ssi_signo as libc::c_int
            } else {
                0
            }
        }
    }
}

/// The name of a signal, for the log.
pub fn name(signo: libc::c_int) -> &'static str {
    match signo {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGUSR1 => "SIGUSR1",
        _ => "signal",
    }
}
