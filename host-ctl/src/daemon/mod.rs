//! `anypoint-ctl run`: the switch as a daemon. One thread polls the port links, the control socket,
//! the shutdown signals and the timers, and is the only one to touch the switch (a Verilated model
//! must stay on its thread).

mod ageing;
mod neighbors;
mod node;
mod server;
mod state;

pub use node::Node;

use crate::config::Config;
use crate::link::{Link, PortSpec};
use crate::log::{debug, error, info};
use crate::protocol;
use anypoint_driver::Backend;
use server::ControlServer;
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::Instant;

pub struct RunOptions {
    pub config: Config,
    pub ports: Vec<PortSpec>,
    pub socket: PathBuf,
    /// The state file (`state.rs`): read at start, written periodically and at shutdown.
    pub state: Option<PathBuf>,
}

/// Frames read from one link per wakeup before the others get a turn.
const BATCH: usize = 64;

/// Runs until SIGTERM or SIGINT; the links and the socket are gone when it returns. The backend is
/// built only once the signals are blocked, so no thread it starts can take a SIGTERM's default action.
pub fn run<B: Backend>(make_backend: impl FnOnce() -> B, opts: RunOptions) -> Result<(), String> {
    let signals = Signals::block()?;
    for (i, spec) in opts.ports.iter().enumerate() {
        if !opts.config.ports.iter().any(|p| p.id() == spec.port) {
            return Err(format!(
                "--port {}={}: port {} is not in the config",
                spec.port, spec.link, spec.port
            ));
        }
        if opts.ports[..i].iter().any(|o| o.port == spec.port) {
            return Err(format!("--port {}: given twice", spec.port));
        }
    }
    // Refuse before touching any link a running daemon holds.
    ControlServer::check_free(&opts.socket)?;
    let saved = match &opts.state {
        Some(path) => state::load(path)?,
        None => None,
    };
    let mut config = opts.config;
    // Without a configured key, the saved one keeps every flow on the member it hashed to.
    if let (None, Some(s)) = (config.hash_key, &saved) {
        config.hash_key = Some(crate::config::parse_hash_key(&s.hash_key).ok_or_else(|| {
            format!(
                "{}: hash_key: `{}` is not 32 hex digits",
                opts.state.as_ref().expect("loaded from it").display(),
                s.hash_key
            )
        })?);
    }
    let mut node = Node::new(make_backend(), &config, Instant::now())?;
    if let (Some(s), Some(path)) = (&saved, &opts.state) {
        let (restored, skipped) = node.restore(s);
        info!(
            "{}: {restored} connections restored, {skipped} skipped (service or member no longer configured, or no room)",
            path.display()
        );
    }
    let mut next_state_write = Instant::now() + state::WRITE_EVERY;
    let mut links: BTreeMap<u8, Box<dyn Link>> = BTreeMap::new();
    for spec in &opts.ports {
        links.insert(spec.port, spec.link.open()?);
        info!("port {} attached to {}", spec.port, spec.link);
    }
    for p in config.ports.iter().filter(|p| !links.contains_key(&p.id())) {
        info!(
            "port {} is not attached: frames sent there are discarded",
            p.id()
        );
    }
    // Last: the socket appearing tells scripts the daemon is ready.
    let mut server = ControlServer::bind(&opts.socket)?;
    info!("serving the control socket {}", opts.socket.display());
    let mut buf = vec![0u8; 65536];
    loop {
        let now = Instant::now();
        node.tick(now);
        send(&mut node, &mut links);
        if let Some(path) = opts.state.as_ref().filter(|_| now >= next_state_write) {
            write_state(path, &node);
            next_state_write = now + state::WRITE_EVERY;
        }
        let mut fds = vec![pollfd(signals.fd.as_raw_fd())];
        fds.extend(links.values().map(|l| pollfd(l.fd())));
        let server_at = fds.len();
        fds.extend(server.poll_fds());
        let deadline = match opts.state {
            Some(_) => node.next_deadline().min(next_state_write),
            None => node.next_deadline(),
        };
        let sleep = deadline.saturating_duration_since(now);
        // Round up, so a deadline a fraction of a millisecond away does not spin.
        let timeout = sleep.as_micros().div_ceil(1000) as libc::c_int;
        // SAFETY: fds is a valid array of fds.len() pollfd structs.
        if unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) } < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("poll: {e}"));
        }
        if fds[0].revents != 0 {
            info!("{}: shutting down", signals.name());
            break;
        }
        let now = Instant::now();
        for ((&port, link), fd) in links.iter_mut().zip(&fds[1..server_at]) {
            if fd.revents == 0 {
                continue;
            }
            for _ in 0..BATCH {
                match link.recv(&mut buf) {
                    Ok(Some(n)) => node.receive(port, &buf[..n], now),
                    Ok(None) => break,
                    Err(e) => {
                        error!("port {port}: read: {e}");
                        break;
                    }
                }
            }
        }
        server.serve(&fds[server_at..], |line| {
            protocol::encode_reply(protocol::decode_request(line).and_then(|r| node.handle(r, now)))
        });
        send(&mut node, &mut links);
    }
    if let Some(path) = &opts.state {
        write_state(path, &node);
    }
    drop(links);
    drop(server);
    info!("stopped");
    Ok(())
}

/// A failed write is logged; forwarding goes on.
fn write_state<B: Backend>(path: &std::path::Path, node: &Node<B>) {
    if let Err(e) = state::store(path, &node.state()) {
        error!("{e}");
    }
}

fn pollfd(fd: libc::c_int) -> libc::pollfd {
    libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }
}

/// Sends the node's frames on their links; a frame for an unattached port is discarded.
fn send<B: Backend>(node: &mut Node<B>, links: &mut BTreeMap<u8, Box<dyn Link>>) {
    for (port, frame) in node.take_frames() {
        if let Some(link) = links.get_mut(&port) {
            if let Err(e) = link.send(&frame) {
                debug!("port {port}: frame of {} bytes not sent: {e}", frame.len());
            }
        }
    }
}

/// SIGTERM and SIGINT, blocked and read from a signalfd so the loop sees them as an event.
struct Signals {
    fd: OwnedFd,
}

impl Signals {
    fn block() -> Result<Signals, String> {
        // SAFETY: sigset manipulation on a local set, then a mask change of this (only) thread and
        // a new descriptor owned by the result.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigaddset(&mut set, libc::SIGINT);
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

    /// The name of the signal received.
    fn name(&self) -> &'static str {
        // SAFETY: reads one signalfd_siginfo into a zeroed struct of that type.
        let signo = unsafe {
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
        };
        match signo {
            libc::SIGTERM => "SIGTERM",
            libc::SIGINT => "SIGINT",
            _ => "signal",
        }
    }
}
