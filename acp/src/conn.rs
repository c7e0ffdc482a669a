//! The ACP protocol engine of one connection: handshake, byte-sequence reliability (RTO, fast
//! retransmit), Reno congestion control with NewReno partial acks, flow control, whole-frame
//! segmentation, the redirect-patch rule, FIN close and RST.
//!
//! No I/O and no clock of its own: the caller feeds it segments and the time ([`Time`], any
//! monotonic origin), drains segments to send with [`Connection::poll_transmit`] and calls
//! [`Connection::on_timer`] at [`Connection::poll_at`]. Tests drive it with a simulated clock; the
//! endpoint drives it from raw sockets.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::wire::{self, Flags, Header, Options, Segment, FRAME_HEADER_LEN};

/// Bound on acks queued at once (a burst of received segments).
const MAX_ACKS_QUEUED: usize = 64;

/// Time since an origin chosen by the caller.
pub type Time = Duration;

/// Tunables of a connection.
#[derive(Clone, Debug)]
pub struct Config {
    /// IP MTU of the path: sets the largest segment and frame.
    pub mtu: u16,
    /// Receive buffer in bytes of sequence space (frame headers count): bounds the advertised
    /// window and the memory held for out-of-order and unread frames.
    pub recv_buffer: u32,
    /// Bytes of frames queued for sending (sent but unacked, and unsent) before `send_frame`
    /// says [`SendError::Full`].
    pub send_buffer: u32,
    /// Initial congestion window, in segments.
    pub initial_window: u32,
    pub rto_initial: Duration,
    pub rto_min: Duration,
    pub rto_max: Duration,
    /// Retransmission timeouts in a row before the connection fails with [`ConnError::TimedOut`].
    pub max_retries: u32,
    pub time_wait: Duration,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            mtu: 1500,
            recv_buffer: 1 << 20,
            send_buffer: 1 << 20,
            initial_window: 4,
            rto_initial: Duration::from_secs(1),
            rto_min: Duration::from_millis(200),
            rto_max: Duration::from_secs(60),
            max_retries: 8,
            time_wait: Duration::from_secs(2),
        }
    }
}

/// Connection states, as TCP's (RFC 793) without LISTEN (the endpoint listens).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    SynSent,
    SynReceived,
    Established,
    FinWait1,
    FinWait2,
    CloseWait,
    Closing,
    LastAck,
    TimeWait,
    Closed,
}

/// Why a connection ended abnormally.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnError {
    #[error("connection refused")]
    Refused,
    #[error("connection reset by peer")]
    Reset,
    #[error("connection timed out")]
    TimedOut,
    #[error("connection aborted locally")]
    Aborted,
}

/// Why `send_frame` refused a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("send buffer full")]
    Full,
    #[error("frame of {len} bytes exceeds the largest frame, {max} bytes (header included)")]
    TooLarge { len: usize, max: usize },
    #[error("connection closed for sending")]
    Closed,
    #[error(transparent)]
    Failed(ConnError),
}

/// A received frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecvFrame {
    pub fseq: u32,
    pub data: Vec<u8>,
}

/// A segment to send: the endpoint adds addresses and checksum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub header: Header,
    /// Whole frames.
    pub payload: Vec<u8>,
}

/// Counters, for tests and measurements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub segments_sent: u64,
    pub segments_received: u64,
    pub frames_sent: u64,
    pub frames_received: u64,
    /// Segments sent again (fast retransmit, partial ack, timeout go-back).
    pub retransmitted: u64,
    pub fast_retransmits: u64,
    pub timeouts: u64,
    /// Frames received that were already received.
    pub duplicate_frames: u64,
    /// Frames dropped because they lay beyond the receive buffer.
    pub beyond_window: u64,
    /// Bytes of sequence space skipped by redirect patches.
    pub patched_bytes: u64,
}

/// Frame bytes (headers included) an end holds for one connection: what a terminating proxy pays in
/// memory per connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Buffered {
    /// Queued to send: sent and not yet acknowledged, or not sent yet.
    pub send: u64,
    /// Of `send`, the bytes sent and not yet acknowledged: what the sender keeps for
    /// retransmission, about bandwidth times round-trip time.
    pub unacked: u64,
    /// Received and not yet read by the application, in order or held out of order.
    pub recv: u64,
}

impl Buffered {
    pub fn total(&self) -> u64 {
        self.send + self.recv
    }
}

/// `a < b` in 32-bit sequence space.
pub fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

pub fn seq_le(a: u32, b: u32) -> bool {
    a == b || seq_lt(a, b)
}

struct QueuedFrame {
    seq: u32,
    wire: Vec<u8>,
}

impl QueuedFrame {
    fn end(&self) -> u32 {
        self.seq.wrapping_add(self.wire.len() as u32)
    }
}

/// A frame held by the receiver; positions are 64-bit offsets from the peer's first data byte, so
/// they never wrap.
struct HeldFrame {
    len: u64,
    frame: Option<RecvFrame>,
}

pub struct Connection {
    cfg: Config,
    state: State,
    error: Option<ConnError>,
    pub local_port: u16,
    pub remote_port: u16,
    /// Our largest segment payload (from the MTU) and the one used: the smaller of ours and the
    /// peer's.
    mss: usize,

    // Sending.
    iss: u32,
    snd_una: u32,
    snd_nxt: u32,
    snd_max: u32,
    snd_wnd: u32,
    snd_wl1: u32,
    snd_wl2: u32,
    snd_shift: u8,
    /// `snd_wnd` is still the unscaled window of the peer's SYN: the first ack changes it without
    /// being a window update, so it may still count as a duplicate ack.
    snd_wnd_from_syn: bool,
    queue: VecDeque<QueuedFrame>,
    queued_bytes: usize,
    queue_end: u32,
    next_fseq: u32,
    fin_seq: Option<u32>,
    syn_due: bool,
    retransmit_due: bool,
    probe_due: bool,
    rst_due: Option<Header>,

    // Receiving.
    irs: u32,
    rcv_shift: u8,
    rcv_nxt_abs: u64,
    held: BTreeMap<u64, HeldFrame>,
    ready: VecDeque<RecvFrame>,
    ready_bytes: u64,
    peer_fin: Option<u64>,
    eof: bool,
    adv_edge: u64,
    /// One ack per data segment received, as it stood then: the duplicate acks of out-of-order
    /// segments drive the peer's fast retransmit, so they are not merged.
    acks: VecDeque<Header>,
    /// An ack of the current state is owed (window update, FIN, unacceptable segment).
    ack_due: bool,

    // Congestion control.
    cwnd: u32,
    ssthresh: u32,
    dupacks: u32,
    recover: Option<u32>,

    // Retransmission timer (RFC 6298).
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    timed: Option<(u32, Time)>,
    retries: u32,
    timer: Option<Time>,

    pub stats: Stats,
}

impl Connection {
    fn new(cfg: Config, local_port: u16, remote_port: u16, iss: u32, state: State) -> Connection {
        let mss = wire::max_segment_payload(cfg.mtu);
        let mut rcv_shift = 0;
        while rcv_shift < wire::MAX_WINDOW_SHIFT && cfg.recv_buffer >> rcv_shift > 0xffff {
            rcv_shift += 1;
        }
        let rto = cfg.rto_initial;
        Connection {
            state,
            error: None,
            local_port,
            remote_port,
            mss,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            snd_wnd: 0,
            snd_wl1: 0,
            snd_wl2: 0,
            snd_shift: 0,
            snd_wnd_from_syn: true,
            queue: VecDeque::new(),
            queued_bytes: 0,
            queue_end: iss.wrapping_add(1),
            next_fseq: 0,
            fin_seq: None,
            syn_due: true,
            retransmit_due: false,
            probe_due: false,
            rst_due: None,
            irs: 0,
            rcv_shift,
            rcv_nxt_abs: 0,
            held: BTreeMap::new(),
            ready: VecDeque::new(),
            ready_bytes: 0,
            peer_fin: None,
            eof: false,
            adv_edge: 0,
            acks: VecDeque::new(),
            ack_due: false,
            cwnd: cfg.initial_window.max(1) * mss as u32,
            ssthresh: u32::MAX,
            dupacks: 0,
            recover: None,
            srtt: None,
            rttvar: Duration::ZERO,
            rto,
            timed: None,
            retries: 0,
            timer: None,
            stats: Stats::default(),
            cfg,
        }
    }

    /// Active open: the SYN goes out at the next `poll_transmit`.
    pub fn connect(cfg: Config, local_port: u16, remote_port: u16, iss: u32) -> Connection {
        Connection::new(cfg, local_port, remote_port, iss, State::SynSent)
    }

    /// Passive open on a received SYN (the endpoint's listener checked ports and flags).
    pub fn accept(cfg: Config, syn: &Header, iss: u32) -> Connection {
        let mut c = Connection::new(cfg, syn.dst_port, syn.src_port, iss, State::SynReceived);
        c.synchronize(syn);
        c.snd_wnd = syn.window as u32;
        c
    }

    /// Takes the peer's SYN: its sequence number and options.
    fn synchronize(&mut self, syn: &Header) {
        self.irs = syn.seq;
        if let Some(mss) = syn.options.mss {
            self.mss = self.mss.min(mss as usize).max(FRAME_HEADER_LEN + 1);
        }
        match syn.options.window_shift {
            Some(s) => self.snd_shift = s,
            None => self.rcv_shift = 0,
        }
        self.snd_wl1 = syn.seq;
        self.snd_wl2 = syn.ack;
        self.cwnd = self.cfg.initial_window.max(1) * self.mss as u32;
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn error(&self) -> Option<ConnError> {
        self.error
    }

    /// Congestion window in bytes.
    pub fn cwnd(&self) -> u32 {
        self.cwnd
    }

    pub fn ssthresh(&self) -> u32 {
        self.ssthresh
    }

    /// The peer's window in bytes.
    pub fn send_window(&self) -> u32 {
        self.snd_wnd
    }

    /// Bytes sent and not yet acknowledged.
    pub fn in_flight(&self) -> u32 {
        self.snd_max.wrapping_sub(self.snd_una)
    }

    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// Largest frame `send_frame` takes, header included.
    pub fn max_frame_len(&self) -> usize {
        self.mss
    }

    /// Whether the handshake is done (data can flow), whatever came after.
    pub fn is_established(&self) -> bool {
        !matches!(
            self.state,
            State::SynSent | State::SynReceived | State::Closed
        )
    }

    /// When [`Connection::on_timer`] should run next.
    pub fn poll_at(&self) -> Option<Time> {
        self.timer
    }

    /// Bytes the receive buffer can still take beyond `rcv_nxt`.
    fn recv_room(&self) -> u64 {
        (self.cfg.recv_buffer as u64).saturating_sub(self.ready_bytes)
    }

    fn rcv_nxt(&self) -> u32 {
        self.irs
            .wrapping_add(1)
            .wrapping_add(self.rcv_nxt_abs as u32)
    }

    /// The 64-bit offset of a peer sequence number near `rcv_nxt`; `None` before the stream start.
    fn to_abs(&self, seq: u32) -> Option<u64> {
        let d = seq.wrapping_sub(self.rcv_nxt()) as i32 as i64;
        u64::try_from(self.rcv_nxt_abs as i64 + d).ok()
    }

    fn flight_half(&self) -> u32 {
        (self.in_flight() / 2).max(2 * self.mss as u32)
    }

    /// Queues a frame; it is sent when windows allow.
    pub fn send_frame(&mut self, data: &[u8]) -> Result<(), SendError> {
        if let Some(e) = self.error {
            return Err(SendError::Failed(e));
        }
        if self.fin_seq.is_some() || self.state == State::Closed {
            return Err(SendError::Closed);
        }
        let len = FRAME_HEADER_LEN + data.len();
        if len > self.mss {
            return Err(SendError::TooLarge { len, max: self.mss });
        }
        if self.queued_bytes + len > self.cfg.send_buffer as usize {
            return Err(SendError::Full);
        }
        let mut wire = Vec::with_capacity(len);
        wire::emit_frame(self.next_fseq, 0, data, &mut wire);
        self.next_fseq = self.next_fseq.wrapping_add(1);
        let seq = self.queue_end;
        self.queue_end = seq.wrapping_add(len as u32);
        self.queued_bytes += len;
        self.queue.push_back(QueuedFrame { seq, wire });
        Ok(())
    }

    /// Whether `send_frame` would take a frame of `data_len` bytes now.
    pub fn can_send(&self, data_len: usize) -> bool {
        self.queued_bytes + FRAME_HEADER_LEN + data_len <= self.cfg.send_buffer as usize
    }

    /// Bytes `send_frame` still takes before the send buffer is full.
    pub fn send_room(&self) -> usize {
        (self.cfg.send_buffer as usize).saturating_sub(self.queued_bytes)
    }

    /// The frame bytes this end holds for the connection.
    pub fn buffered(&self) -> Buffered {
        let send = self.queued_bytes as u64;
        Buffered {
            send,
            unacked: u64::from(self.in_flight()).min(send),
            recv: self.ready_bytes + self.held.values().map(|h| h.len).sum::<u64>(),
        }
    }

    /// The next in-order frame, if one is ready.
    pub fn recv_frame(&mut self) -> Option<RecvFrame> {
        let f = self.ready.pop_front()?;
        self.ready_bytes -= (FRAME_HEADER_LEN + f.data.len()) as u64;
        // Tell the peer when the window opened by a segment or a quarter of the buffer.
        let edge = self.rcv_nxt_abs + self.advertised_window() as u64;
        let step = (self.mss as u64).min(self.cfg.recv_buffer as u64 / 4);
        if edge >= self.adv_edge + step {
            self.need_ack();
        }
        Some(f)
    }

    /// Whether the peer closed its side and every frame was read.
    pub fn is_eof(&self) -> bool {
        self.eof && self.ready.is_empty()
    }

    /// Half-close: a FIN follows the queued frames.
    pub fn close(&mut self) {
        match self.state {
            State::SynSent => {
                self.timer = None;
                self.state = State::Closed;
                return;
            }
            State::SynReceived | State::Established => self.state = State::FinWait1,
            State::CloseWait => self.state = State::LastAck,
            _ => return,
        }
        self.fin_seq = Some(self.queue_end);
    }

    /// Abortive close: a RST goes out, queued data is discarded.
    pub fn abort(&mut self) {
        if !matches!(self.state, State::Closed | State::SynSent) {
            self.rst_due = Some(self.header(Flags::RST | Flags::ACK, self.snd_nxt));
        }
        self.fail(ConnError::Aborted);
    }

    fn fail(&mut self, e: ConnError) {
        self.state = State::Closed;
        self.error.get_or_insert(e);
        self.timer = None;
        self.queue.clear();
        self.queued_bytes = 0;
        self.acks.clear();
    }

    fn advertised_window(&self) -> u32 {
        let room = self.recv_room().min((0xffff_u64) << self.rcv_shift);
        ((room >> self.rcv_shift) << self.rcv_shift) as u32
    }

    fn header(&self, flags: Flags, seq: u32) -> Header {
        let synced = !matches!(self.state, State::SynSent);
        Header {
            src_port: self.local_port,
            dst_port: self.remote_port,
            seq,
            ack: if synced { self.rcv_nxt() } else { 0 },
            flags: if synced { flags | Flags::ACK } else { flags },
            window: (self.advertised_window() >> self.rcv_shift) as u16,
            checksum: 0,
            options: Options::default(),
        }
    }

    /// The reset answering an unacceptable ack: a bare RST whose sequence number is that ack.
    fn reset_for_ack(&self, ack: u32) -> Header {
        Header {
            flags: Flags::RST,
            seq: ack,
            ack: 0,
            ..self.header(Flags::RST, ack)
        }
    }

    /// Marks the window just advertised.
    fn advertised(&mut self) {
        self.adv_edge = self.rcv_nxt_abs + self.advertised_window() as u64;
        self.ack_due = false;
    }

    fn need_ack(&mut self) {
        self.ack_due = true;
    }

    fn arm(&mut self, now: Time) {
        if self.timer.is_none() {
            self.timer = Some(now + self.rto);
        }
    }

    /// The next segment to send, if any; call until `None`.
    pub fn poll_transmit(&mut self, now: Time) -> Option<Outgoing> {
        if let Some(header) = self.rst_due.take() {
            return Some(Outgoing {
                header,
                payload: Vec::new(),
            });
        }
        if let Some(header) = self.acks.pop_front() {
            self.stats.segments_sent += 1;
            return Some(Outgoing {
                header,
                payload: Vec::new(),
            });
        }
        let out = match self.state {
            State::Closed => return None,
            State::SynSent | State::SynReceived => self.syn_segment(now),
            _ => self.data_segment(now),
        };
        let out = out.or_else(|| {
            self.ack_due
                .then(|| self.finish(Flags::ACK, self.snd_nxt, Vec::new()))
        });
        if out.is_none() {
            self.arm_persist(now);
        }
        out
    }

    fn finish(&mut self, flags: Flags, seq: u32, payload: Vec<u8>) -> Outgoing {
        let header = self.header(flags, seq);
        self.advertised();
        self.stats.segments_sent += 1;
        Outgoing { header, payload }
    }

    fn syn_segment(&mut self, now: Time) -> Option<Outgoing> {
        if !std::mem::take(&mut self.syn_due) {
            return None;
        }
        self.snd_nxt = self.iss.wrapping_add(1);
        self.snd_max = self.snd_nxt;
        if self.retries == 0 {
            self.timed = Some((self.snd_nxt, now));
        }
        self.arm(now);
        let mut out = self.finish(Flags::SYN, self.iss, Vec::new());
        out.header.options = Options {
            mss: Some(wire::max_segment_payload(self.cfg.mtu) as u16),
            window_shift: Some(self.rcv_shift),
            patch: None,
        };
        // The window of a SYN is never scaled.
        out.header.window = self.recv_room().min(0xffff) as u16;
        Some(out)
    }

    /// Frames from the one holding `seq`, packed whole into at most `mss` bytes, ending at or
    /// before `limit` unless `first_anyway`. Returns the start sequence, bytes, frame count.
    fn pack(&self, seq: u32, limit: u32, first_anyway: bool) -> (u32, Vec<u8>, u64) {
        let mut start = seq;
        let mut payload = Vec::new();
        let mut frames = 0;
        let from = self.queue.partition_point(|f| seq_le(f.end(), seq));
        for f in self.queue.iter().skip(from) {
            let fits_window = seq_le(f.end(), limit) || (first_anyway && frames == 0);
            // A frame queued before the peer's smaller MSS was known still goes, alone.
            let fits_segment = payload.len() + f.wire.len() <= self.mss || frames == 0;
            if !fits_segment || !fits_window {
                break;
            }
            if frames == 0 {
                start = f.seq;
            }
            payload.extend_from_slice(&f.wire);
            frames += 1;
        }
        (start, payload, frames)
    }

    fn data_segment(&mut self, now: Time) -> Option<Outgoing> {
        if std::mem::take(&mut self.retransmit_due) {
            let one_segment = self.snd_una.wrapping_add(self.mss as u32);
            let limit = if seq_lt(self.snd_max, one_segment) {
                self.snd_max
            } else {
                one_segment
            };
            let (start, payload, frames) = self.pack(self.snd_una, limit, true);
            let end = if frames > 0 {
                start.wrapping_add(payload.len() as u32)
            } else {
                self.snd_una
            };
            let fin = self.fin_sent() && self.fin_seq == Some(end);
            if frames > 0 || fin {
                self.stats.retransmitted += 1;
                self.timed = None;
                let seq = if frames > 0 { start } else { self.snd_una };
                let flags = if fin { Flags::FIN } else { Flags::ACK };
                self.stats.frames_sent += frames;
                return Some(self.finish(flags, seq, payload));
            }
        }
        // Limited transmit (RFC 3042): the first two duplicate acks each let one more segment out,
        // so a small window still yields the three duplicate acks of a fast retransmit.
        let limited = if self.recover.is_none() {
            self.dupacks.min(2) * self.mss as u32
        } else {
            0
        };
        let usable = self.cwnd.saturating_add(limited).min(self.snd_wnd);
        let limit = self.snd_una.wrapping_add(usable);
        let probe = std::mem::take(&mut self.probe_due);
        let (start, payload, frames) = self.pack(self.snd_nxt, limit, probe);
        let end = if frames > 0 {
            start.wrapping_add(payload.len() as u32)
        } else {
            self.snd_nxt
        };
        let fin = self.fin_seq == Some(end) && seq_le(self.snd_nxt, end);
        if frames == 0 && !fin {
            return None;
        }
        let seq = if frames > 0 { start } else { self.snd_nxt };
        let new_end = end.wrapping_add(fin as u32);
        if seq_lt(seq, self.snd_max) {
            self.stats.retransmitted += 1;
        } else if self.timed.is_none() {
            self.timed = Some((new_end, now));
        }
        self.snd_nxt = new_end;
        if seq_lt(self.snd_max, new_end) {
            self.snd_max = new_end;
        }
        self.arm(now);
        self.stats.frames_sent += frames;
        let flags = if fin { Flags::FIN } else { Flags::ACK };
        Some(self.finish(flags, seq, payload))
    }

    fn fin_sent(&self) -> bool {
        self.fin_seq.is_some_and(|f| seq_lt(f, self.snd_max))
    }

    /// With nothing in flight and frames held back by a closed window, the timer probes.
    fn arm_persist(&mut self, now: Time) {
        let synced = matches!(
            self.state,
            State::Established | State::CloseWait | State::FinWait1 | State::LastAck
        );
        if synced && self.snd_una == self.snd_max && self.unsent() {
            self.arm(now);
        }
    }

    fn unsent(&self) -> bool {
        self.queue
            .back()
            .is_some_and(|f| seq_lt(self.snd_nxt, f.end()))
    }

    /// Runs the timer if it is due.
    pub fn on_timer(&mut self, now: Time) {
        if self.timer.is_none_or(|t| now < t) {
            return;
        }
        self.timer = None;
        match self.state {
            State::Closed => {}
            State::TimeWait => self.state = State::Closed,
            State::SynSent | State::SynReceived => {
                if !self.back_off() {
                    return;
                }
                self.syn_due = true;
                self.arm(now);
            }
            _ if self.snd_una != self.snd_max => self.data_timeout(now),
            _ if self.unsent() => {
                self.rto = (self.rto * 2).min(self.cfg.rto_max);
                self.probe_due = true;
            }
            _ => {}
        }
    }

    /// Go back to the first unacked byte with one segment of window (RFC 5681); that segment goes
    /// even into a closed window, as a probe.
    fn data_timeout(&mut self, now: Time) {
        if !self.back_off() {
            return;
        }
        self.ssthresh = self.flight_half();
        self.cwnd = self.mss as u32;
        self.snd_nxt = self.snd_una;
        self.probe_due = true;
        self.dupacks = 0;
        self.recover = None;
        self.stats.timeouts += 1;
        self.arm(now);
    }

    /// Counts a timeout and doubles the RTO; false when the connection gave up.
    fn back_off(&mut self) -> bool {
        self.retries += 1;
        self.timed = None;
        if self.retries > self.cfg.max_retries {
            if self.state != State::SynSent {
                self.rst_due = Some(self.header(Flags::RST, self.snd_nxt));
            }
            self.fail(ConnError::TimedOut);
            return false;
        }
        self.rto = (self.rto * 2).min(self.cfg.rto_max);
        true
    }

    fn sample_rtt(&mut self, r: Duration) {
        let (srtt, rttvar) = match self.srtt {
            None => (r, r / 2),
            Some(s) => {
                let diff = s.abs_diff(r);
                ((s * 7 + r) / 8, (self.rttvar * 3 + diff) / 4)
            }
        };
        self.srtt = Some(srtt);
        self.rttvar = rttvar;
        let granularity = Duration::from_millis(1);
        self.rto = (srtt + (rttvar * 4).max(granularity)).clamp(self.cfg.rto_min, self.cfg.rto_max);
    }

    /// Takes a received segment (checksum already verified, addressed to this connection).
    pub fn on_segment(&mut self, now: Time, seg: &Segment) {
        let h = &seg.header;
        self.stats.segments_received += 1;
        match self.state {
            State::Closed => return,
            State::SynSent => return self.on_syn_sent(now, h),
            State::SynReceived => {
                if h.flags.has(Flags::RST) {
                    return self.fail(ConnError::Reset);
                }
                if h.flags.has(Flags::SYN) {
                    // Our SYN-ACK was lost: the peer sent its SYN again.
                    self.syn_due = h.seq == self.irs;
                    return;
                }
                if !h.flags.has(Flags::ACK) {
                    return;
                }
                if h.ack != self.iss.wrapping_add(1) {
                    self.rst_due = Some(self.reset_for_ack(h.ack));
                    return;
                }
                self.state = State::Established;
                self.snd_wl1 = h.seq.wrapping_sub(1);
            }
            _ => {}
        }
        if h.flags.has(Flags::RST) {
            // TIME-WAIT ignores resets (RFC 1337): both sides are done, only a late ack is owed.
            if self.state == State::TimeWait {
                return;
            }
            let offset = h.seq.wrapping_sub(self.rcv_nxt()) as u64;
            if offset <= self.recv_room().max(1) {
                self.fail(ConnError::Reset);
            }
            return;
        }
        if h.flags.has(Flags::SYN) {
            // A SYN-ACK again: our ACK of it was lost.
            self.need_ack();
            return;
        }
        if !h.flags.has(Flags::ACK) {
            return;
        }
        let pure = seg.payload.is_empty() && !h.flags.has(Flags::FIN);
        self.on_ack(now, h, pure);
        if self.state == State::Closed {
            return;
        }
        if matches!(
            self.state,
            State::Established | State::FinWait1 | State::FinWait2
        ) {
            self.on_data(now, seg);
        } else if !pure {
            self.need_ack();
            if self.state == State::TimeWait {
                self.timer = Some(now + self.cfg.time_wait);
            }
        }
    }

    fn on_syn_sent(&mut self, now: Time, h: &Header) {
        let acceptable = h.flags.has(Flags::ACK) && h.ack == self.iss.wrapping_add(1);
        if h.flags.has(Flags::RST) {
            if acceptable {
                self.fail(ConnError::Refused);
            }
            return;
        }
        if h.flags.has(Flags::ACK) && !acceptable {
            self.rst_due = Some(self.reset_for_ack(h.ack));
            return;
        }
        if !(acceptable && h.flags.has(Flags::SYN)) {
            return;
        }
        self.synchronize(h);
        self.snd_una = h.ack;
        self.snd_wnd = h.window as u32;
        self.state = State::Established;
        self.need_ack();
        self.timer = None;
        if let Some((_, t)) = self.timed.take() {
            self.sample_rtt(now.saturating_sub(t));
        }
        self.retries = 0;
    }

    fn on_ack(&mut self, now: Time, h: &Header, pure: bool) {
        let ack = h.ack;
        if seq_lt(self.snd_max, ack) {
            self.need_ack();
            return;
        }
        if seq_lt(ack, self.snd_una) {
            return;
        }
        let window = (h.window as u32) << self.snd_shift;
        let mss = self.mss as u32;
        // Any acceptable ack shows the peer is alive (a probe into a closed window is not lost).
        self.retries = 0;
        if seq_lt(self.snd_una, ack) {
            let acked = ack.wrapping_sub(self.snd_una);
            while self.queue.front().is_some_and(|f| seq_le(f.end(), ack)) {
                let f = self.queue.pop_front().expect("front exists");
                self.queued_bytes -= f.wire.len();
            }
            self.snd_una = ack;
            if seq_lt(self.snd_nxt, ack) {
                self.snd_nxt = ack;
            }
            if let Some((end, t)) = self.timed {
                if seq_le(end, ack) {
                    self.timed = None;
                    self.sample_rtt(now.saturating_sub(t));
                }
            }
            match self.recover {
                Some(rec) if seq_le(rec, ack) => {
                    self.cwnd = self.ssthresh;
                    self.recover = None;
                }
                Some(_) => {
                    // NewReno partial ack (RFC 6582): the next hole goes out now.
                    self.retransmit_due = true;
                    self.cwnd = self.cwnd.saturating_sub(acked).max(mss) + mss;
                }
                None if self.cwnd < self.ssthresh => {
                    self.cwnd = self.cwnd.saturating_add(acked.min(mss))
                }
                None => self.cwnd = self.cwnd.saturating_add((mss * mss / self.cwnd).max(1)),
            }
            self.dupacks = 0;
            self.timer = None;
            if self.snd_una != self.snd_max {
                self.arm(now);
            }
            if self.fin_seq.is_some_and(|f| seq_lt(f, ack)) {
                match self.state {
                    State::FinWait1 => self.state = State::FinWait2,
                    State::Closing => self.enter_time_wait(now),
                    State::LastAck => self.state = State::Closed,
                    _ => {}
                }
            }
        } else if pure
            && self.snd_una != self.snd_max
            && (window == self.snd_wnd || self.snd_wnd_from_syn)
        {
            self.dupacks += 1;
            if self.recover.is_none() && self.dupacks == 3 {
                self.ssthresh = self.flight_half();
                self.cwnd = self.ssthresh.saturating_add(3 * mss);
                self.recover = Some(self.snd_max);
                self.retransmit_due = true;
                self.stats.fast_retransmits += 1;
            } else if self.recover.is_some() && self.dupacks > 3 {
                self.cwnd = self.cwnd.saturating_add(mss);
            }
        }
        if seq_lt(self.snd_wl1, h.seq) || (self.snd_wl1 == h.seq && seq_le(self.snd_wl2, ack)) {
            self.snd_wnd = window;
            self.snd_wnd_from_syn = false;
            self.snd_wl1 = h.seq;
            self.snd_wl2 = ack;
        }
    }

    fn enter_time_wait(&mut self, now: Time) {
        self.state = State::TimeWait;
        self.timer = Some(now + self.cfg.time_wait);
    }

    fn on_data(&mut self, now: Time, seg: &Segment) {
        let h = &seg.header;
        let edge = self.rcv_nxt_abs + self.recv_room();
        let Some(base) = self.to_abs(h.seq) else {
            return self.need_ack();
        };
        for f in seg.frames() {
            let start = base + f.offset as u64;
            let len = f.wire_len() as u64;
            if start < self.rcv_nxt_abs || self.held.contains_key(&start) {
                self.stats.duplicate_frames += 1;
            } else if start + len > edge {
                self.stats.beyond_window += 1;
            } else {
                let frame = (!f.is_null()).then(|| RecvFrame {
                    fseq: f.fseq,
                    data: f.data.to_vec(),
                });
                self.held.insert(start, HeldFrame { len, frame });
            }
        }
        if h.flags.has(Flags::FIN) {
            let fin = base + seg.payload.len() as u64;
            if fin <= edge {
                self.peer_fin.get_or_insert(fin);
            }
        }
        if let Some(p) = h.options.patch.and_then(|p| self.to_abs(p)) {
            if p > self.rcv_nxt_abs && p <= edge {
                self.apply_patch(p);
                self.need_ack();
            }
        }
        self.deliver_in_order();
        if self.peer_fin == Some(self.rcv_nxt_abs) && !self.eof {
            self.eof = true;
            self.rcv_nxt_abs += 1;
            match self.state {
                State::Established => self.state = State::CloseWait,
                State::FinWait1 => self.state = State::Closing,
                State::FinWait2 => self.enter_time_wait(now),
                _ => {}
            }
        }
        if !seg.payload.is_empty() || h.flags.has(Flags::FIN) {
            if self.acks.len() == MAX_ACKS_QUEUED {
                self.acks.pop_front();
            }
            self.acks.push_back(self.header(Flags::ACK, self.snd_nxt));
        }
    }

    /// The redirect-patch rule: every frame held below `p` is delivered in order, the holes
    /// between them are skipped, and the stream continues at `p` (or after a frame crossing it).
    fn apply_patch(&mut self, p: u64) {
        while let Some(entry) = self.held.first_entry() {
            if *entry.key() >= p {
                break;
            }
            let start = *entry.key();
            let held = entry.remove();
            if start >= self.rcv_nxt_abs {
                self.stats.patched_bytes += start - self.rcv_nxt_abs;
                self.rcv_nxt_abs = start + held.len;
                self.deliver(held);
            }
        }
        if self.rcv_nxt_abs < p {
            self.stats.patched_bytes += p - self.rcv_nxt_abs;
            self.rcv_nxt_abs = p;
        }
    }

    fn deliver(&mut self, held: HeldFrame) {
        if let Some(f) = held.frame {
            self.ready_bytes += held.len;
            self.stats.frames_received += 1;
            self.ready.push_back(f);
        }
    }

    /// Delivers held frames that continue the stream; drops any a patch or an overlap left behind.
    fn deliver_in_order(&mut self) {
        while let Some(entry) = self.held.first_entry() {
            let start = *entry.key();
            if start > self.rcv_nxt_abs {
                break;
            }
            let held = entry.remove();
            if start == self.rcv_nxt_abs {
                self.rcv_nxt_abs += held.len;
                self.deliver(held);
            }
        }
    }
}

/// The RST answering a segment that no connection or listener takes (RFC 793 "reset generation").
pub fn reset_reply(h: &Header, payload_len: usize) -> Option<Header> {
    if h.flags.has(Flags::RST) {
        return None;
    }
    let mut r = Header {
        src_port: h.dst_port,
        dst_port: h.src_port,
        ..Header::default()
    };
    if h.flags.has(Flags::ACK) {
        r.seq = h.ack;
        r.flags = Flags::RST;
    } else {
        let len =
            payload_len as u32 + h.flags.has(Flags::SYN) as u32 + h.flags.has(Flags::FIN) as u32;
        r.ack = h.seq.wrapping_add(len);
        r.flags = Flags::RST | Flags::ACK;
    }
    Some(r)
}
