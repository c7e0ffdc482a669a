//! What a switch port is attached to (`--port N=KIND:NAME`): a Linux TAP device now; the place
//! where `vfio` hardware ports will go.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One `--port N=KIND:NAME` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec {
    pub port: u8,
    pub link: LinkSpec,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkSpec {
    /// A TAP device of this name, created (or attached to) by the daemon.
    Tap(String),
}

impl std::str::FromStr for PortSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<PortSpec, String> {
        let bad = || format!("`{s}` is not N=tap:IFNAME");
        let (port, link) = s.split_once('=').ok_or_else(bad)?;
        let port = port.parse().map_err(|_| bad())?;
        let link = match link.split_once(':') {
            Some(("tap", name)) if valid_ifname(name) => LinkSpec::Tap(name.to_string()),
            Some(("tap", name)) => {
                return Err(format!(
                    "`{name}` is not an interface name (1-15 characters, no `/`, `:` or spaces)"
                ))
            }
            Some((kind, _)) => return Err(format!("unknown port kind `{kind}` (expected tap)")),
            None => return Err(bad()),
        };
        Ok(PortSpec { port, link })
    }
}

impl std::fmt::Display for LinkSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkSpec::Tap(name) => write!(f, "tap:{name}"),
        }
    }
}

fn valid_ifname(name: &str) -> bool {
    (1..libc::IFNAMSIZ).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
}

/// An open port attachment moving whole Ethernet frames (no FCS), non-blocking.
pub trait Link {
    /// For polling readability.
    fn fd(&self) -> RawFd;
    /// The next frame into `buf`; `None` when none is waiting.
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>>;
    fn send(&mut self, frame: &[u8]) -> io::Result<()>;
}

impl LinkSpec {
    pub fn open(&self) -> Result<Box<dyn Link>, String> {
        match self {
            LinkSpec::Tap(name) => Ok(Box::new(
                Tap::open(name).map_err(|e| format!("tap {name}: {e}"))?,
            )),
        }
    }
}

/// A TAP device (`IFF_TAP | IFF_NO_PI`), brought up when opened. The kernel removes it when the
/// descriptor closes, since it is not made persistent.
pub struct Tap {
    fd: OwnedFd,
}

fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    req
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

impl Tap {
    pub fn open(name: &str) -> io::Result<Tap> {
        let path = CString::new("/dev/net/tun").expect("no NUL");
        // SAFETY: plain syscalls on a path and descriptors this function owns.
        unsafe {
            let raw = check(libc::open(
                path.as_ptr(),
                libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC,
            ))?;
            let fd = OwnedFd::from_raw_fd(raw);
            let mut req = ifreq(name);
            req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
            check(libc::ioctl(fd.as_raw_fd(), libc::TUNSETIFF, &mut req))?;
            // Up, so the kernel passes frames as soon as the link has a peer.
            let sock = OwnedFd::from_raw_fd(check(libc::socket(
                libc::AF_INET,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
                0,
            ))?);
            let mut req = ifreq(name);
            check(libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req))?;
            req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            check(libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &req))?;
            Ok(Tap { fd })
        }
    }
}

impl Link for Tap {
    fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
    fn recv(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: reads at most buf.len() bytes into buf.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n >= 0 {
            return Ok(Some(n as usize));
        }
        match io::Error::last_os_error() {
            e if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            e => Err(e),
        }
    }
    fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: writes frame.len() bytes from frame.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len()) };
        check(n as libc::c_int).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_specs() {
        assert_eq!(
            "1=tap:ap0".parse(),
            Ok(PortSpec {
                port: 1,
                link: LinkSpec::Tap("ap0".into())
            })
        );
        for (bad, why) in [
            ("tap:ap0", "not N=tap:IFNAME"),
            ("x=tap:ap0", "not N=tap:IFNAME"),
            ("0=ap0", "not N=tap:IFNAME"),
            ("0=vfio:0000:01:00.0", "unknown port kind `vfio`"),
            ("0=tap:waytoolongname16", "not an interface name"),
            ("0=tap:", "not an interface name"),
        ] {
            let e = bad.parse::<PortSpec>().unwrap_err();
            assert!(e.contains(why), "{bad}: `{e}` lacks `{why}`");
        }
    }
}
