//! `poll(2)` for the single-threaded event loops of the daemon and the simulated device.

use std::os::fd::RawFd;

/// Waiting for `fd` to become readable.
pub fn readable(fd: RawFd) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Waits up to `timeout_ms` (-1: forever) for an event on `fds`; an interrupted wait returns early
/// with no events.
pub fn wait(fds: &mut [libc::pollfd], timeout_ms: libc::c_int) -> Result<(), String> {
    // SAFETY: fds is a valid array of fds.len() pollfd structs.
    if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) } < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("poll: {e}"));
        }
        fds.iter_mut().for_each(|f| f.revents = 0);
    }
    Ok(())
}
