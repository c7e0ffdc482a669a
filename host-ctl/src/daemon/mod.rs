//! `anypoint-ctl run`: the switch as a daemon. One thread polls the port links, the control socket,
//! the shutdown signals and the timers, and is the only one to touch the switch (a Verilated model
//! must stay on its thread).

mod acp;
mod ageing;
mod neighbors;
mod node;
mod server;
mod state;

pub use node::Node;

use crate::backend::Attachment;
use crate::config::Config;
use crate::link::{Link, PortSpec};
use crate::log::{debug, error, info};
use crate::poll;
use crate::protocol;
use crate::signals::{self, Signals};
use anypoint_driver::Backend;
use server::ControlServer;
use std::collections::BTreeMap;
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
///
/// A device backend that stops answering is reported once and the daemon stays up, answering every
/// control request with that error, so the operator learns why from the CLI.
pub fn run<B: Backend + Attachment>(
    make_backend: impl FnOnce() -> Result<B, String>,
    opts: RunOptions,
) -> Result<(), String> {
    let signals = Signals::block(&[])?;
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
    let mut node = Node::new(make_backend()?, &config, Instant::now())?;
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
    // A device with its own ports signals host records on this descriptor.
    let wake = node.backend().wake_fd();
    if wake.is_none() {
        for p in config.ports.iter().filter(|p| !links.contains_key(&p.id())) {
            info!(
                "port {} is not attached: frames sent there are discarded",
                p.id()
            );
        }
    }
    // Last: the socket appearing tells scripts the daemon is ready.
    let mut server = ControlServer::bind(&opts.socket)?;
    info!("serving the control socket {}", opts.socket.display());
    let mut lost: Option<String> = None;
    let mut buf = vec![0u8; 65536];
    loop {
        let now = Instant::now();
        // Ticks also drain the host queue, so a device interrupt needs no handling of its own.
        if lost.is_none() {
            node.tick(now);
            lost = check_lost(&mut node);
        }
        send(&mut node, &mut links);
        if let Some(path) = opts.state.as_ref().filter(|_| now >= next_state_write) {
            write_state(path, &node);
            next_state_write = now + state::WRITE_EVERY;
        }
        let mut fds = vec![poll::readable(signals.fd())];
        fds.extend(links.values().map(|l| poll::readable(l.fd())));
        fds.extend(wake.filter(|_| lost.is_none()).map(poll::readable));
        let server_at = fds.len();
        fds.extend(server.poll_fds());
        let timeout = if lost.is_some() {
            -1
        } else {
            let deadline = match opts.state {
                Some(_) => node.next_deadline().min(next_state_write),
                None => node.next_deadline(),
            };
            let sleep = deadline.saturating_duration_since(now);
            // Round up, so a deadline a fraction of a millisecond away does not spin.
            sleep.as_micros().div_ceil(1000) as libc::c_int
        };
        poll::wait(&mut fds, timeout)?;
        if fds[0].revents != 0 {
            info!("{}: shutting down", signals::name(signals.take()));
            break;
        }
        let now = Instant::now();
        for ((&port, link), fd) in links.iter_mut().zip(&fds[1..]) {
            if fd.revents == 0 || lost.is_some() {
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
            let reply = protocol::decode_request(line).and_then(|r| {
                if lost.is_none() {
                    let reply = node.handle(r, now);
                    // A reply computed while the device stopped answering would be all ones.
                    lost = check_lost(&mut node);
                    if lost.is_none() {
                        return reply;
                    }
                }
                Err(format!(
                    "device lost: {}",
                    lost.as_deref().unwrap_or_default()
                ))
            });
            protocol::encode_reply(reply)
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

/// The device's loss, logged when first seen (the caller keeps it and stops asking).
fn check_lost<B: Backend + Attachment>(node: &mut Node<B>) -> Option<String> {
    let why = node.backend().lost()?;
    error!(
        "device lost: {why}; every control request now fails with this error \
         (restart the daemon once the device is back)"
    );
    Some(why)
}

/// A failed write is logged; forwarding goes on.
fn write_state<B: Backend>(path: &std::path::Path, node: &Node<B>) {
    if let Err(e) = state::store(path, &node.state()) {
        error!("{e}");
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
