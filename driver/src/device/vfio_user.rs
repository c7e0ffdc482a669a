//! [`DeviceAccess`] over vfio-user: the PCI function is served by another process on a UNIX socket
//! (`anypoint-ctl sim-device`), and every region access or reset is one request/reply message pair
//! through the `vfio_user` crate's client.
//!
//! A server that dies makes the next request fail at once (EOF or EPIPE); a server that stops
//! answering (stopped, deadlocked) makes it fail after [`TIMEOUT`], so the driver never hangs on
//! it. After the first failure the stream may be mid-message, so the device refuses all further
//! requests: a lost device stays lost.

use super::{DeviceAccess, DeviceError, RegionInfo};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;
use vfio_bindings::bindings::vfio::{
    VFIO_IRQ_SET_ACTION_TRIGGER, VFIO_IRQ_SET_DATA_EVENTFD, VFIO_IRQ_SET_DATA_NONE,
    VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ, VFIO_REGION_INFO_FLAG_WRITE,
};

/// How long one request may wait for its reply before the device counts as lost.
pub const TIMEOUT: Duration = Duration::from_secs(5);

pub struct VfioUserDevice {
    client: vfio_user::Client,
    name: String,
    /// The first failure; every later request fails with it.
    failed: Option<String>,
}

impl VfioUserDevice {
    /// Connects to the vfio-user server at `socket` and reads its region list.
    pub fn connect(socket: &Path) -> Result<VfioUserDevice, DeviceError> {
        let name = socket.display().to_string();
        let err = |step: &str, reason: String| DeviceError {
            device: name.clone(),
            step: step.to_string(),
            reason,
        };
        if !socket.exists() {
            return Err(err(
                "connect",
                "no such socket (is `anypoint-ctl sim-device --socket` running?)".into(),
            ));
        }
        let before = open_fds();
        // The handshake has no timeout of its own, and a server busy with another client only
        // answers once that one leaves: wait for it on a thread, at most TIMEOUT.
        let (done, result) = std::sync::mpsc::channel();
        let path = socket.to_path_buf();
        std::thread::spawn(move || {
            let _ = done.send(connect_refused_retried(&path));
        });
        let client = match result.recv_timeout(TIMEOUT) {
            Ok(client) => client.map_err(|e| err("connect", e.to_string()))?,
            Err(_) => {
                return Err(err(
                    "connect",
                    format!(
                        "no answer within {}s (another driver is attached, or the server is stuck)",
                        TIMEOUT.as_secs()
                    ),
                ))
            }
        };
        // The crate keeps its stream private: find it among the UNIX sockets the connect opened
        // (by its peer's path when other threads opened some too), so that every later request is
        // bounded by TIMEOUT.
        let opened: Vec<(RawFd, PathBuf)> = open_fds()
            .into_iter()
            .filter(|fd| !before.contains(fd))
            .filter_map(|(fd, _)| Some((fd, unix_peer(fd)?)))
            .collect();
        let want = socket.canonicalize().ok();
        let same = |p: &Path| p == socket || (want.is_some() && p.canonicalize().ok() == want);
        let stream = match &opened[..] {
            [(fd, _)] => *fd,
            many => many
                .iter()
                .find(|(_, peer)| same(peer))
                .map(|(fd, _)| *fd)
                .ok_or_else(|| err("connect", "cannot find the connected socket".into()))?,
        };
        set_timeouts(stream, TIMEOUT).map_err(|e| err("set socket timeouts", e.to_string()))?;
        Ok(VfioUserDevice {
            client,
            name,
            failed: None,
        })
    }

    fn error(&self, step: String, reason: String) -> DeviceError {
        DeviceError {
            device: self.name.clone(),
            step,
            reason,
        }
    }

    /// Runs one request unless the device failed before; a failure is remembered.
    fn request<T>(
        &mut self,
        step: impl FnOnce() -> String,
        f: impl FnOnce(&mut vfio_user::Client) -> Result<T, vfio_user::Error>,
    ) -> Result<T, DeviceError> {
        if let Some(why) = &self.failed {
            return Err(self.error(step(), format!("device lost earlier: {why}")));
        }
        f(&mut self.client).map_err(|e| {
            let why = describe(&e);
            self.failed = Some(why.clone());
            self.error(step(), why)
        })
    }
}

/// The crate's connect, tried again for up to [`REFUSED_RETRY`] while refused: a server's socket
/// file appears at its bind, a moment before its listen lets a connect in.
fn connect_refused_retried(path: &Path) -> Result<vfio_user::Client, vfio_user::Error> {
    let t0 = std::time::Instant::now();
    loop {
        match vfio_user::Client::new(path) {
            Err(vfio_user::Error::Connect(e))
                if e.kind() == std::io::ErrorKind::ConnectionRefused
                    && t0.elapsed() < REFUSED_RETRY =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            got => return got,
        }
    }
}

/// How long a refused connect is tried again.
const REFUSED_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// The crate's error, with what it means for the operator.
fn describe(e: &vfio_user::Error) -> String {
    use std::io::ErrorKind::*;
    let io = match e {
        vfio_user::Error::StreamRead(io) | vfio_user::Error::StreamWrite(io) => Some(io.kind()),
        _ => None,
    };
    match io {
        Some(WouldBlock | TimedOut) => format!(
            "no reply within {}s (the device server is stuck): {e}",
            TIMEOUT.as_secs()
        ),
        Some(UnexpectedEof | BrokenPipe | ConnectionReset) => {
            format!("the device server closed the connection (exited or killed): {e}")
        }
        _ => e.to_string(),
    }
}

impl DeviceAccess for VfioUserDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn region_info(&mut self, index: u32) -> Result<RegionInfo, DeviceError> {
        let region = self.client.region(index).ok_or_else(|| {
            self.error(
                format!("region {index} info"),
                "the server does not offer this region".into(),
            )
        })?;
        Ok(RegionInfo {
            index,
            size: region.size,
            offset: 0,
            readable: region.flags & VFIO_REGION_INFO_FLAG_READ != 0,
            writable: region.flags & VFIO_REGION_INFO_FLAG_WRITE != 0,
            // Registers go through messages: the server shares no memory for them.
            mappable: region.flags & VFIO_REGION_INFO_FLAG_MMAP != 0
                && region.file_offset.is_some(),
        })
    }

    fn region_read(&mut self, index: u32, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let len = buf.len();
        self.request(
            || format!("read {len} bytes of region {index} at {offset:#x}"),
            |c| c.region_read(index, offset, buf),
        )
    }

    fn region_write(&mut self, index: u32, offset: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.request(
            || {
                format!(
                    "write {} bytes to region {index} at {offset:#x}",
                    data.len()
                )
            },
            |c| c.region_write(index, offset, data),
        )
    }

    fn region_mmap(&mut self, _index: u32) -> Result<Option<memmap2::MmapRaw>, DeviceError> {
        Ok(None)
    }

    fn reset(&mut self) -> Result<(), DeviceError> {
        self.request(|| "device reset".into(), |c| c.reset())
    }

    fn set_irq_eventfd(
        &mut self,
        irq_index: u32,
        vector: u32,
        eventfd: Option<OwnedFd>,
    ) -> Result<(), DeviceError> {
        let (flags, fds) = match &eventfd {
            Some(fd) => (VFIO_IRQ_SET_DATA_EVENTFD, vec![fd.as_raw_fd()]),
            None => (VFIO_IRQ_SET_DATA_NONE, vec![]),
        };
        // The server gets its own copy of the descriptor; ours closes when `eventfd` drops.
        self.request(
            || format!("route interrupt {irq_index} vector {vector}"),
            |c| {
                c.set_irqs(
                    irq_index,
                    flags | VFIO_IRQ_SET_ACTION_TRIGGER,
                    vector,
                    1,
                    &fds,
                )
            },
        )
    }
}

/// This process's descriptors, each with what it refers to (`socket:[INODE]`, a path, ...), so a
/// descriptor number reused for something new does not look old.
fn open_fds() -> Vec<(RawFd, PathBuf)> {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| {
                let e = e.ok()?;
                Some((
                    e.file_name().to_str()?.parse().ok()?,
                    std::fs::read_link(e.path()).ok()?,
                ))
            })
            .collect()
        })
        .unwrap_or_default()
}

/// The path `fd`'s peer is bound to, if `fd` is a connected UNIX socket.
fn unix_peer(fd: RawFd) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: sockaddr_un is plain data; getpeername writes at most `len` bytes into it.
    let addr = unsafe {
        let mut addr: libc::sockaddr_un = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
        if libc::getpeername(fd, (&mut addr as *mut libc::sockaddr_un).cast(), &mut len) != 0
            || addr.sun_family != libc::AF_UNIX as libc::sa_family_t
        {
            return None;
        }
        addr
    };
    let bytes: Vec<u8> = addr
        .sun_path
        .iter()
        .map(|&c| c as u8)
        .take_while(|&b| b != 0)
        .collect();
    Some(Path::new(std::ffi::OsStr::from_bytes(&bytes)).to_path_buf())
}

fn set_timeouts(fd: RawFd, timeout: Duration) -> std::io::Result<()> {
    let tv = libc::timeval {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_usec: timeout.subsec_micros() as libc::suseconds_t,
    };
    for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: setsockopt reads one timeval from a valid pointer.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}
