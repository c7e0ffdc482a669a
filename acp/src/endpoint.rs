//! ACP connections over a raw IP socket, with a blocking message API.
//!
//! An [`Endpoint`] owns one raw socket for protocol 253 bound to one local IPv4 address (create it
//! on a thread inside the wanted network namespace) and one I/O thread that receives segments,
//! runs the timers and sends what the connections produce. The kernel hands the socket every ACP
//! packet for that address, so the endpoint demultiplexes by ports and peer address itself and
//! answers segments nobody owns with a RST: run one endpoint per address.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::conn::{self, Buffered, Config, ConnError, Connection, SendError, State, Stats, Time};
use crate::raw::{self, RawIp, Waker};
use crate::wire::{self, Flags};

/// Connections half-open or waiting in a listener's accept queue, per listener.
const BACKLOG: usize = 128;
/// Packets the I/O thread takes per wake-up before it runs timers and sends.
const RECV_BATCH: usize = 256;

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct Key {
    local_port: u16,
    remote: SocketAddrV4,
}

struct Entry {
    conn: Connection,
    /// The listener a passively opened connection belongs to until it is queued for `accept`.
    listener: Option<u16>,
    /// A `Stream` or an accept queue holds it; otherwise it is removed once closed.
    owned: bool,
}

#[derive(Default)]
struct Table {
    conns: HashMap<Key, Entry>,
    listeners: HashMap<u16, VecDeque<Key>>,
    /// The time the I/O thread sleeps until.
    io_deadline: Option<Time>,
    /// Packets dropped on receipt: bad checksum or malformed.
    bad_packets: u64,
}

struct Shared {
    sock: RawIp,
    local: Ipv4Addr,
    cfg: Config,
    waker: Waker,
    epoch: Instant,
    stop: AtomicBool,
    table: Mutex<Table>,
    changed: Condvar,
}

impl Shared {
    fn now(&self) -> Time {
        self.epoch.elapsed()
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends everything `conn` has to send.
    fn flush(&self, remote: Ipv4Addr, conn: &mut Connection, now: Time, buf: &mut Vec<u8>) {
        while let Some(out) = conn.poll_transmit(now) {
            self.send(&out.header, &out.payload, remote, buf);
        }
    }

    fn send(&self, h: &wire::Header, payload: &[u8], remote: Ipv4Addr, buf: &mut Vec<u8>) {
        buf.clear();
        wire::emit_segment(h, payload, self.local, remote, buf);
        // A failed send is a lost packet; retransmission deals with it.
        let _ = self.sock.send_to(buf, remote);
    }

    /// After an application call: send, and wake the I/O thread when a timer became due earlier.
    fn after_call(&self, table: &mut Table, key: Key) {
        let now = self.now();
        let mut buf = Vec::new();
        let Some(e) = table.conns.get_mut(&key) else {
            return;
        };
        self.flush(*key.remote.ip(), &mut e.conn, now, &mut buf);
        if let Some(t) = e.conn.poll_at() {
            if table.io_deadline.is_none_or(|d| t < d) {
                self.waker.wake();
            }
        }
    }

    /// Blocks until `f` gives a value, up to `timeout`.
    fn wait<R>(
        &self,
        timeout: Option<Duration>,
        mut f: impl FnMut(&mut Table) -> Option<io::Result<R>>,
    ) -> io::Result<R> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut table = self.lock();
        loop {
            if let Some(r) = f(&mut table) {
                return r;
            }
            if self.stop.load(Ordering::Relaxed) {
                return Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the ACP endpoint was dropped",
                ));
            }
            table = match deadline {
                None => self.changed.wait(table).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "ACP call timed out",
                        ));
                    }
                    self.changed
                        .wait_timeout(table, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    fn on_packet(&self, table: &mut Table, pkt: &[u8], now: Time, buf: &mut Vec<u8>) {
        let Some(ip) = wire::parse_ipv4(pkt) else {
            table.bad_packets += 1;
            return;
        };
        if ip.protocol != wire::PROTOCOL || ip.dst != self.local {
            return;
        }
        if !wire::verify_checksum(ip.src, ip.dst, ip.payload) {
            table.bad_packets += 1;
            return;
        }
        let Ok(seg) = wire::parse_segment(ip.payload) else {
            table.bad_packets += 1;
            return;
        };
        let h = seg.header;
        let key = Key {
            local_port: h.dst_port,
            remote: SocketAddrV4::new(ip.src, h.src_port),
        };
        if let Some(e) = table.conns.get_mut(&key) {
            e.conn.on_segment(now, &seg);
            if let Some(port) = e.listener {
                if e.conn.is_established() {
                    e.listener = None;
                    e.owned = true;
                    if let Some(q) = table.listeners.get_mut(&port) {
                        q.push_back(key);
                    }
                }
            }
            return;
        }
        let syn = h.flags.has(Flags::SYN) && !h.flags.has(Flags::ACK) && !h.flags.has(Flags::RST);
        let pending = |t: &Table| {
            t.conns
                .values()
                .filter(|e| e.listener == Some(h.dst_port))
                .count()
        };
        if syn {
            if let Some(q) = table.listeners.get(&h.dst_port) {
                if q.len() + pending(table) < BACKLOG {
                    let conn = Connection::accept(self.cfg.clone(), &h, raw::random_u32());
                    let entry = Entry {
                        conn,
                        listener: Some(h.dst_port),
                        owned: false,
                    };
                    table.conns.insert(key, entry);
                }
                return;
            }
        }
        if let Some(rst) = conn::reset_reply(&h, seg.payload.len()) {
            self.send(&rst, &[], ip.src, buf);
        }
    }

    /// One round of the I/O thread after `poll`.
    fn io_round(&self, buf: &mut Vec<u8>, pkt: &mut [u8]) {
        let mut table = self.lock();
        // Read the clock under the lock: application threads stamp segments under it too.
        let now = self.now();
        for _ in 0..RECV_BATCH {
            match self.sock.recv(pkt) {
                Ok(n) => self.on_packet(&mut table, &pkt[..n], now, buf),
                Err(_) => break,
            }
        }
        table.conns.retain(|key, e| {
            e.conn.on_timer(now);
            self.flush(*key.remote.ip(), &mut e.conn, now, buf);
            e.owned || e.conn.state() != State::Closed
        });
        table.io_deadline = table.conns.values().filter_map(|e| e.conn.poll_at()).min();
        drop(table);
        self.changed.notify_all();
    }

    fn run(&self) {
        let mut buf = Vec::with_capacity(2048);
        let mut pkt = vec![0u8; 65536];
        while !self.stop.load(Ordering::Relaxed) {
            let deadline = self.lock().io_deadline;
            let timeout = deadline
                .map(|d| d.saturating_sub(self.now()))
                .unwrap_or(Duration::from_secs(1))
                .min(Duration::from_secs(1));
            if raw::poll_readable([self.sock.fd(), self.waker.fd()], timeout).is_err() {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.waker.clear();
            self.io_round(&mut buf, &mut pkt);
        }
    }
}

fn conn_error(e: ConnError) -> io::Error {
    let kind = match e {
        ConnError::Refused => io::ErrorKind::ConnectionRefused,
        ConnError::Reset => io::ErrorKind::ConnectionReset,
        ConnError::TimedOut => io::ErrorKind::TimedOut,
        ConnError::Aborted => io::ErrorKind::ConnectionAborted,
    };
    io::Error::new(kind, e)
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "ACP connection no longer exists",
    )
}

/// ACP over a raw socket bound to one local address.
pub struct Endpoint {
    shared: Arc<Shared>,
    io: Option<JoinHandle<()>>,
}

impl Endpoint {
    /// Opens the raw socket in the calling thread's network namespace and starts the I/O thread.
    /// Needs CAP_NET_RAW.
    pub fn bind(local: Ipv4Addr, cfg: Config) -> io::Result<Endpoint> {
        let shared = Arc::new(Shared {
            sock: RawIp::open(wire::PROTOCOL, local)?,
            local,
            cfg,
            waker: Waker::new()?,
            epoch: Instant::now(),
            stop: AtomicBool::new(false),
            table: Mutex::new(Table::default()),
            changed: Condvar::new(),
        });
        let s = shared.clone();
        let io = std::thread::Builder::new()
            .name(format!("acp-{local}"))
            .spawn(move || s.run())?;
        Ok(Endpoint {
            shared,
            io: Some(io),
        })
    }

    pub fn local_addr(&self) -> Ipv4Addr {
        self.shared.local
    }

    /// Opens a connection and waits for the handshake (bounded by the SYN retries of `Config`).
    pub fn connect(&self, remote: SocketAddrV4) -> io::Result<Stream> {
        let mut table = self.shared.lock();
        let taken = |t: &Table, port: u16| {
            t.listeners.contains_key(&port)
                || t.conns.contains_key(&Key {
                    local_port: port,
                    remote,
                })
        };
        let mut port = 49152 + (raw::random_u32() % 16384) as u16;
        let mut tries = 0;
        while taken(&table, port) {
            port = if port == u16::MAX { 49152 } else { port + 1 };
            tries += 1;
            if tries > 16384 {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    "no free ACP ephemeral port",
                ));
            }
        }
        let key = Key {
            local_port: port,
            remote,
        };
        let conn = Connection::connect(
            self.shared.cfg.clone(),
            port,
            remote.port(),
            raw::random_u32(),
        );
        let entry = Entry {
            conn,
            listener: None,
            owned: true,
        };
        table.conns.insert(key, entry);
        self.shared.after_call(&mut table, key);
        drop(table);
        let stream = Stream {
            shared: self.shared.clone(),
            key,
            timeout: None,
        };
        self.shared.wait(None, |t| {
            let c = &t.conns.get(&key)?.conn;
            match (c.state(), c.error()) {
                (State::SynSent, _) => None,
                (_, Some(e)) => Some(Err(conn_error(e))),
                _ => Some(Ok(())),
            }
        })?;
        Ok(stream)
    }

    /// Accepts connections to `port` from now on.
    pub fn listen(&self, port: u16) -> io::Result<Listener> {
        let mut table = self.shared.lock();
        if table.listeners.contains_key(&port) {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("ACP port {port} already has a listener"),
            ));
        }
        table.listeners.insert(port, VecDeque::new());
        Ok(Listener {
            shared: self.shared.clone(),
            port,
            timeout: None,
        })
    }

    /// Segments dropped on receipt for a bad checksum or a malformed header or frame.
    pub fn bad_packets(&self) -> u64 {
        self.shared.lock().bad_packets
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.waker.wake();
        if let Some(io) = self.io.take() {
            let _ = io.join();
        }
        // Calls still waiting on streams or listeners give up.
        let _guard = self.shared.lock();
        self.shared.changed.notify_all();
    }
}

/// Passive opens on one port.
pub struct Listener {
    shared: Arc<Shared>,
    port: u16,
    timeout: Option<Duration>,
}

impl Listener {
    /// Bounds how long `accept` waits (`None`: forever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The next connection whose handshake completed.
    pub fn accept(&self) -> io::Result<Stream> {
        let key = self.shared.wait(self.timeout, |t| {
            let key = t.listeners.get_mut(&self.port)?.pop_front()?;
            Some(Ok(key))
        })?;
        Ok(Stream {
            shared: self.shared.clone(),
            key,
            timeout: None,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let mut table = self.shared.lock();
        let queued = table.listeners.remove(&self.port).unwrap_or_default();
        for key in queued {
            if let Some(e) = table.conns.get_mut(&key) {
                e.conn.abort();
                e.owned = false;
            }
        }
        for e in table.conns.values_mut() {
            if e.listener == Some(self.port) {
                e.conn.abort();
            }
        }
        self.shared.waker.wake();
    }
}

/// One ACP connection: whole frames in, whole frames out, in order.
pub struct Stream {
    shared: Arc<Shared>,
    key: Key,
    timeout: Option<Duration>,
}

impl Stream {
    /// Bounds how long `send_frame` and `recv_frame` block (`None`: forever).
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    pub fn local_port(&self) -> u16 {
        self.key.local_port
    }

    pub fn peer_addr(&self) -> SocketAddrV4 {
        self.key.remote
    }

    /// Largest frame payload `send_frame` takes.
    pub fn max_frame_data(&self) -> usize {
        self.with(|c| c.max_frame_len() - wire::FRAME_HEADER_LEN)
            .unwrap_or(0)
    }

    fn with<R>(&self, f: impl FnOnce(&mut Connection) -> R) -> io::Result<R> {
        let mut table = self.shared.lock();
        let e = table.conns.get_mut(&self.key).ok_or_else(gone)?;
        Ok(f(&mut e.conn))
    }

    /// Queues one frame, waiting while the send buffer is full.
    pub fn send_frame(&self, data: &[u8]) -> io::Result<()> {
        let key = self.key;
        self.shared.wait(self.timeout, |t| {
            let e = match t.conns.get_mut(&key) {
                Some(e) => e,
                None => return Some(Err(gone())),
            };
            let r = match e.conn.send_frame(data) {
                Err(SendError::Full) => return None,
                Ok(()) => Ok(()),
                Err(SendError::Failed(e)) => Err(conn_error(e)),
                Err(e @ SendError::TooLarge { .. }) => {
                    Err(io::Error::new(io::ErrorKind::InvalidInput, e))
                }
                Err(e @ SendError::Closed) => Err(io::Error::new(io::ErrorKind::BrokenPipe, e)),
            };
            self.shared.after_call(t, key);
            Some(r)
        })
    }

    /// The next frame; `None` once the peer closed and every frame was read.
    pub fn recv_frame(&self) -> io::Result<Option<Vec<u8>>> {
        let key = self.key;
        self.shared.wait(self.timeout, |t| {
            let e = match t.conns.get_mut(&key) {
                Some(e) => e,
                None => return Some(Err(gone())),
            };
            if let Some(f) = e.conn.recv_frame() {
                self.shared.after_call(t, key);
                return Some(Ok(Some(f.data)));
            }
            if e.conn.is_eof() {
                return Some(Ok(None));
            }
            e.conn.error().map(|err| Err(conn_error(err)))
        })
    }

    /// Closes the sending side: a FIN follows the queued frames. Frames can still be received.
    pub fn close(&self) -> io::Result<()> {
        let mut table = self.shared.lock();
        table
            .conns
            .get_mut(&self.key)
            .ok_or_else(gone)?
            .conn
            .close();
        self.shared.after_call(&mut table, self.key);
        Ok(())
    }

    /// Resets the connection.
    pub fn abort(&self) {
        let mut table = self.shared.lock();
        if let Some(e) = table.conns.get_mut(&self.key) {
            e.conn.abort();
            self.shared.after_call(&mut table, self.key);
        }
    }

    /// Waits until everything sent was acknowledged and both sides closed (or the connection
    /// failed), up to `limit`.
    pub fn wait_closed(&self, limit: Duration) -> io::Result<()> {
        let key = self.key;
        self.shared.wait(Some(limit), |t| {
            let c = &t.conns.get(&key)?.conn;
            match (c.state(), c.error()) {
                (_, Some(e)) => Some(Err(conn_error(e))),
                (State::TimeWait | State::Closed, None) => Some(Ok(())),
                _ => None,
            }
        })
    }

    pub fn state(&self) -> io::Result<State> {
        self.with(|c| c.state())
    }

    pub fn stats(&self) -> io::Result<Stats> {
        self.with(|c| c.stats)
    }

    /// Bytes `send_frame` takes now without waiting.
    pub fn send_room(&self) -> io::Result<usize> {
        self.with(|c| c.send_room())
    }

    /// The frame bytes this end holds for the connection (send queue and unread frames).
    pub fn buffered(&self) -> io::Result<Buffered> {
        self.with(|c| c.buffered())
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let mut table = self.shared.lock();
        if let Some(e) = table.conns.get_mut(&self.key) {
            e.conn.close();
            e.owned = false;
            self.shared.after_call(&mut table, self.key);
        }
    }
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("local", &self.shared.local)
            .finish()
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("port", &self.port)
            .finish()
    }
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("local_port", &self.key.local_port)
            .field("peer", &self.key.remote)
            .finish()
    }
}
