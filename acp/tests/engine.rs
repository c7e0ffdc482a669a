//! The protocol engine against itself on a simulated link with a simulated clock: every segment is
//! encoded, checksummed and parsed again on the way, and the link drops, delays, reorders and
//! duplicates as each test says.

use std::net::Ipv4Addr;
use std::time::Duration;

use acp::conn::{reset_reply, Config, ConnError, Connection, State};
use acp::wire::{self, Flags, Header, Options};

const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// One-way latency of the simulated link.
const LATENCY: Duration = Duration::from_millis(5);
const MSS: usize = 1452;

fn cfg() -> Config {
    Config {
        rto_initial: Duration::from_millis(100),
        rto_min: Duration::from_millis(50),
        time_wait: Duration::from_millis(100),
        ..Config::default()
    }
}

/// A segment on the simulated wire.
struct Packet {
    at: Duration,
    to_b: bool,
    bytes: Vec<u8>,
}

/// What the link does with a segment: the delays of its copies (none: dropped).
type Link = Box<dyn FnMut(&Sent) -> Vec<Duration>>;

/// A segment as the link sees it.
struct Sent {
    from_a: bool,
    header: Header,
    frames: usize,
    /// How many data segments this side sent before this one.
    index: usize,
}

struct Sim {
    now: Duration,
    a: Connection,
    b: Option<Connection>,
    b_cfg: Config,
    wire: Vec<Packet>,
    link: Link,
    data_sent: [usize; 2],
    /// Frames A still has to queue, each with its number.
    to_send: std::collections::VecDeque<Vec<u8>>,
    received: Vec<Vec<u8>>,
    b_reads: bool,
    /// B's window as B sent it: its shift, last ack and right edge.
    b_shift: u8,
    b_ack: u32,
    b_edge: u32,
    /// The ack A last sent: the sequence number a RST to A must carry to be in its window.
    a_ack: u32,
    /// Most bytes any A data segment (other than a window probe) ran past B's right edge.
    overshoot: i64,
}

/// Frame `i`: its number then a pattern, `len` bytes long (at least 4).
fn frame(i: u32, len: usize) -> Vec<u8> {
    let mut f = i.to_be_bytes().to_vec();
    f.extend((0..len.saturating_sub(4)).map(|k| (k as u32 ^ i) as u8));
    f
}

fn frames(n: u32, size: impl Fn(u32) -> usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| frame(i, size(i))).collect()
}

impl Sim {
    fn new(link: Link) -> Sim {
        Sim::with(cfg(), cfg(), link)
    }

    fn with(a_cfg: Config, b_cfg: Config, link: Link) -> Sim {
        Sim {
            now: Duration::ZERO,
            a: Connection::connect(a_cfg, 40000, 7000, 0xfffff000),
            b: None,
            b_cfg,
            wire: Vec::new(),
            link,
            data_sent: [0, 0],
            to_send: Default::default(),
            received: Vec::new(),
            b_reads: true,
            b_shift: 0,
            b_ack: 0,
            b_edge: 0,
            a_ack: 0,
            overshoot: i64::MIN,
        }
    }

    fn b(&mut self) -> &mut Connection {
        self.b.as_mut().expect("B accepted")
    }

    /// Sends what both sides have to send through the link.
    fn transmit(&mut self) {
        while let Some(f) = self.to_send.front() {
            if !self.a.can_send(f.len()) {
                break;
            }
            let f = self.to_send.pop_front().unwrap();
            self.a.send_frame(&f).unwrap();
        }
        if self.b_reads {
            if let Some(b) = self.b.as_mut() {
                while let Some(f) = b.recv_frame() {
                    self.received.push(f.data);
                }
            }
        }
        for from_a in [true, false] {
            loop {
                let conn = if from_a {
                    Some(&mut self.a)
                } else {
                    self.b.as_mut()
                };
                let Some(out) = conn.and_then(|c| c.poll_transmit(self.now)) else {
                    break;
                };
                let (src, dst) = if from_a { (A, B) } else { (B, A) };
                let mut bytes = Vec::new();
                wire::emit_segment(&out.header, &out.payload, src, dst, &mut bytes);
                assert!(
                    out.payload.len() <= MSS,
                    "segment payload {} over {MSS}",
                    out.payload.len()
                );
                let seg = wire::parse_segment(&bytes).expect("a segment of whole frames");
                let n = seg.frames().count();
                let side = !from_a as usize;
                let sent = Sent {
                    from_a,
                    header: seg.header,
                    frames: n,
                    index: self.data_sent[side],
                };
                if n > 0 {
                    self.data_sent[side] += 1;
                }
                if from_a {
                    self.a_ack = seg.header.ack;
                    self.check_window(&seg.header, out.payload.len());
                } else {
                    self.note_window(&seg.header);
                }
                for delay in (self.link)(&sent) {
                    self.wire.push(Packet {
                        at: self.now + LATENCY + delay,
                        to_b: from_a,
                        bytes: bytes.clone(),
                    });
                }
            }
        }
    }

    fn note_window(&mut self, h: &Header) {
        if h.flags.has(Flags::SYN) {
            self.b_shift = h.options.window_shift.unwrap_or(0);
            self.b_edge = h.ack.wrapping_add(h.window as u32);
        } else {
            self.b_edge = h.ack.wrapping_add((h.window as u32) << self.b_shift);
        }
        self.b_ack = h.ack;
    }

    /// Flow control: A's data stays below the right edge B advertised, except a window probe
    /// (one segment at B's ack point when nothing else is outstanding).
    fn check_window(&mut self, h: &Header, len: usize) {
        if len == 0 || h.seq == self.b_ack {
            return;
        }
        let end = h.seq.wrapping_add(len as u32);
        self.overshoot = self
            .overshoot
            .max(end.wrapping_sub(self.b_edge) as i32 as i64);
    }

    /// Runs until `done` or `limit` of simulated time; false on timeout.
    fn run(&mut self, limit: Duration, done: impl Fn(&Sim) -> bool) -> bool {
        let end = self.now + limit;
        loop {
            self.transmit();
            if done(self) {
                return true;
            }
            let next_pkt = self.wire.iter().map(|p| p.at).min();
            let next_timer = [self.a.poll_at(), self.b.as_ref().and_then(|b| b.poll_at())]
                .into_iter()
                .flatten()
                .min();
            let Some(next) = [next_pkt, next_timer].into_iter().flatten().min() else {
                return false;
            };
            if next > end {
                self.now = end;
                return false;
            }
            self.now = self.now.max(next);
            let now = self.now;
            let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.wire)
                .into_iter()
                .partition(|p| p.at <= now);
            self.wire = rest;
            for p in due {
                self.deliver(p);
            }
            self.a.on_timer(now);
            if let Some(b) = self.b.as_mut() {
                b.on_timer(now);
            }
        }
    }

    fn deliver(&mut self, p: Packet) {
        let (src, dst) = if p.to_b { (A, B) } else { (B, A) };
        assert!(wire::verify_checksum(src, dst, &p.bytes));
        let seg = wire::parse_segment(&p.bytes).unwrap();
        if p.to_b {
            if self.b.is_none() && seg.header.flags == Flags::SYN {
                self.b = Some(Connection::accept(
                    self.b_cfg.clone(),
                    &seg.header,
                    0x7fff_fff0,
                ));
            }
            if let Some(b) = self.b.as_mut() {
                b.on_segment(self.now, &seg);
            }
        } else {
            self.a.on_segment(self.now, &seg);
        }
    }

    fn established(&mut self) {
        assert!(self.run(Duration::from_secs(5), |s| s.a.state()
            == State::Established
            && s.b
                .as_ref()
                .is_some_and(|b| b.state() == State::Established)));
    }

    /// Queues `frames` at A, runs until B has all of them, and checks order and content.
    fn transfer(&mut self, frames: Vec<Vec<u8>>, limit: Duration) {
        let want = self.received.len() + frames.len();
        let expect: Vec<_> = self
            .received
            .iter()
            .cloned()
            .chain(frames.clone())
            .collect();
        self.to_send.extend(frames);
        let ok = self.run(limit, |s| s.received.len() >= want);
        assert!(
            ok,
            "{} of {want} frames after {:?}; A {:?} {:?}, B {:?}",
            self.received.len(),
            self.now,
            self.a.state(),
            self.a.stats,
            self.b.as_ref().map(|b| b.stats)
        );
        assert_eq!(self.received.len(), want, "no frame more");
        for (i, (got, want)) in self.received.iter().zip(&expect).enumerate() {
            assert_eq!(got, want, "frame {i}");
        }
    }
}

fn perfect() -> Link {
    Box::new(|_| vec![Duration::ZERO])
}

#[test]
fn handshake_then_lossless_transfer_packs_small_frames() {
    let mut s = Sim::new(perfect());
    s.established();
    // SYN, SYN-ACK, ACK: one round trip and a half.
    assert_eq!(s.now, 3 * LATENCY);
    s.transfer(
        frames(2000, |i| (i as usize * 37) % 1000 + 4),
        Duration::from_secs(10),
    );
    let a = s.a.stats;
    assert_eq!(a.retransmitted, 0);
    assert_eq!(s.b().stats.duplicate_frames, 0);
    // Small frames share segments.
    assert!(a.segments_sent < 2000, "{a:?}");
    assert!(
        s.overshoot <= 0,
        "A sent {} bytes beyond B's window",
        s.overshoot
    );
}

#[test]
fn largest_frame_fits_and_one_more_byte_does_not() {
    let mut s = Sim::new(perfect());
    s.established();
    let max = MSS - wire::FRAME_HEADER_LEN;
    assert_eq!(s.a.max_frame_len(), MSS);
    assert!(matches!(
        s.a.send_frame(&vec![0; max + 1]),
        Err(acp::SendError::TooLarge {
            len: 1453,
            max: 1452
        })
    ));
    s.transfer(frames(10, |_| max), Duration::from_secs(1));
}

#[test]
fn lost_syn_is_sent_again_after_the_initial_rto() {
    let mut first = true;
    let mut s = Sim::new(Box::new(move |p| {
        if p.header.flags.has(Flags::SYN) && p.from_a && std::mem::take(&mut first) {
            vec![]
        } else {
            vec![Duration::ZERO]
        }
    }));
    s.established();
    // The SYN again at the initial RTO (100 ms), then a round trip and a half.
    assert_eq!(s.now, Duration::from_millis(100) + 3 * LATENCY);
}

/// Drops A's data segment number `n` the first time only.
fn drop_once(n: usize) -> Link {
    let mut done = false;
    Box::new(move |p| {
        if p.from_a && p.frames > 0 && p.index == n && !done {
            done = true;
            vec![]
        } else {
            vec![Duration::ZERO]
        }
    })
}

#[test]
fn one_lost_segment_is_fast_retransmitted_and_halves_the_window() {
    let mut s = Sim::new(drop_once(30));
    s.established();
    s.transfer(frames(300, |_| 1000), Duration::from_secs(10));
    let a = s.a.stats;
    assert_eq!(a.fast_retransmits, 1, "{a:?}");
    assert_eq!(a.timeouts, 0, "{a:?}");
    assert_eq!(a.retransmitted, 1, "{a:?}");
    assert_ne!(s.a.ssthresh(), u32::MAX);
    assert_eq!(s.b().stats.duplicate_frames, 0);
}

#[test]
fn limited_transmit_turns_a_small_window_loss_into_a_fast_retransmit() {
    // Two segments of window, the first lost: only the new segments each duplicate ack lets out
    // (RFC 3042) make the three duplicate acks; otherwise this would wait for a timeout.
    let two = Config {
        initial_window: 2,
        ..cfg()
    };
    let mut s = Sim::with(two, cfg(), drop_once(0));
    s.established();
    s.transfer(frames(6, |_| 1400), Duration::from_secs(5));
    let a = s.a.stats;
    assert_eq!((a.fast_retransmits, a.timeouts), (1, 0), "{a:?}");
}

#[test]
fn lost_tail_segment_comes_back_by_timeout() {
    // 20 frames of one segment each: the last has no later segment to cause duplicate acks.
    let mut s = Sim::new(drop_once(19));
    s.established();
    let t0 = s.now;
    s.transfer(frames(20, |_| 1400), Duration::from_secs(10));
    let a = s.a.stats;
    assert_eq!((a.timeouts, a.fast_retransmits), (1, 0), "{a:?}");
    // The timeout (at least rto_min, 50 ms) came before the repair.
    assert!(s.now - t0 >= Duration::from_millis(50) + 2 * LATENCY);
    // Go-back after a timeout restarts from one segment.
    assert!(s.a.cwnd() <= 3 * MSS as u32, "cwnd {}", s.a.cwnd());
}

#[test]
fn slow_start_doubles_per_round_trip_then_avoidance_adds_one_segment() {
    let rtt = 2 * LATENCY;
    let mut s = Sim::new(drop_once(200));
    s.established();
    s.to_send
        .extend(frames(5_000, |_| MSS - wire::FRAME_HEADER_LEN));
    let iw = 4 * MSS as u32;
    assert_eq!(s.a.cwnd(), iw);
    // Each ack of a full segment adds a segment: the window doubles every round trip.
    for k in 1..=3u32 {
        let t = s.now + rtt;
        s.run(rtt, |_| false);
        assert_eq!(s.now, t);
        assert_eq!(s.a.cwnd(), iw << k, "after {k} round trips");
    }
    // After the loss and recovery, about one segment per round trip.
    let recovered = s.run(Duration::from_secs(5), |s| {
        let a = &s.a;
        a.stats.fast_retransmits == 1
            && a.ssthresh() != u32::MAX
            && a.cwnd() < a.ssthresh() + 2 * MSS as u32
    });
    assert!(
        recovered,
        "{:?} cwnd {} ssthresh {}",
        s.a.stats,
        s.a.cwnd(),
        s.a.ssthresh()
    );
    let before = s.a.cwnd();
    s.run(10 * rtt, |_| false);
    let grown = (s.a.cwnd() - before) as f64 / MSS as f64;
    assert!(
        (7.0..=13.0).contains(&grown),
        "grew {grown} segments in 10 round trips"
    );
}

#[test]
fn timeouts_back_off_and_reset_the_window() {
    // Everything A sends between 100 ms and 1 s is lost.
    let clock = std::rc::Rc::new(std::cell::Cell::new(Duration::ZERO));
    let c = clock.clone();
    let mut s = Sim::new(Box::new(move |p| {
        let blackout = (Duration::from_millis(100)..Duration::from_secs(1)).contains(&c.get());
        if p.from_a && blackout {
            vec![]
        } else {
            vec![Duration::ZERO]
        }
    }));
    s.established();
    s.to_send.extend(frames(10_000, |_| 1000));
    let mut rtos = Vec::new();
    let mut last_timeouts = 0;
    while s.now < Duration::from_millis(990) {
        clock.set(s.now);
        s.run(Duration::from_millis(1), |_| false);
        if s.a.stats.timeouts != last_timeouts {
            last_timeouts = s.a.stats.timeouts;
            rtos.push(s.a.rto());
            assert_eq!(s.a.cwnd(), MSS as u32, "one segment after a timeout");
        }
    }
    assert!(rtos.len() >= 3, "{rtos:?}");
    for w in rtos.windows(2) {
        assert_eq!(w[1], w[0] * 2, "{rtos:?}");
    }
    clock.set(Duration::from_secs(2));
    let before = s.received.len();
    s.run(Duration::from_secs(3), |_| false);
    assert!(
        s.received.len() > before + 100,
        "recovers after the blackout"
    );
}

/// A seeded link that loses, reorders and duplicates in both directions.
fn chaos(seed: u64, loss: f64, reorder: f64, dup: f64) -> Link {
    let mut x = seed;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 10_000) as f64 / 10_000.0
    };
    Box::new(move |_| {
        if rnd() < loss {
            return vec![];
        }
        let d = if rnd() < reorder {
            Duration::from_millis(3)
        } else {
            Duration::ZERO
        };
        if rnd() < dup {
            vec![d, Duration::from_micros(100)]
        } else {
            vec![d]
        }
    })
}

#[test]
fn loss_reordering_and_duplicates_deliver_every_frame_once_in_order() {
    for seed in [1, 2, 3] {
        let mut s = Sim::new(chaos(seed, 0.03, 0.1, 0.05));
        s.established();
        s.transfer(
            frames(3000, |i| (i as usize * 131) % 1400 + 4),
            Duration::from_secs(60),
        );
        let (a, b) = (s.a.stats, s.b().stats);
        assert!(a.retransmitted > 0 && b.duplicate_frames > 0, "{a:?} {b:?}");
    }
}

#[test]
fn sender_never_exceeds_the_receive_window_and_resumes_when_read() {
    let small = Config {
        recv_buffer: 16 * 1024,
        ..cfg()
    };
    let mut s = Sim::with(cfg(), small, perfect());
    s.established();
    s.b_reads = false;
    s.to_send.extend(frames(200, |_| 1000));
    s.run(Duration::from_secs(2), |_| false);
    let b = s.b().stats;
    // 16 KiB of 1008-byte frames: 16 fit, none was refused.
    assert_eq!(b.frames_received, 16, "{b:?}");
    assert!(
        s.overshoot <= 0,
        "A sent {} bytes beyond B's window",
        s.overshoot
    );
    s.b_reads = true;
    let expect = frames(200, |_| 1000);
    assert!(s.run(Duration::from_secs(30), |s| s.received.len() == 200));
    assert_eq!(s.received, expect);
}

#[test]
fn buffered_counts_the_send_queue_and_unread_frames_in_order_or_not() {
    let small = Config {
        recv_buffer: 16 * 1024,
        ..cfg()
    };
    let mut s = Sim::with(cfg(), small, drop_once(0));
    s.established();
    s.b_reads = false;
    s.to_send.extend(frames(200, |_| 1000));
    // The first data segment is lost: B holds the frames after it, out of order, delivering none.
    assert!(s.run(Duration::from_secs(1), |s| s
        .b
        .as_ref()
        .is_some_and(|b| b.buffered().recv > 0)));
    assert_eq!(s.b().stats.frames_received, 0);
    assert_eq!(s.b().buffered().recv % 1008, 0);
    let a = s.a.buffered();
    assert!(
        a.unacked >= 1008 + s.b().buffered().recv && a.unacked <= a.send,
        "{a:?}"
    );
    // Once the loss is repaired B's buffer is full of unread frames; A holds the rest.
    s.run(Duration::from_secs(2), |_| false);
    assert_eq!(s.b().stats.frames_received, 16);
    assert_eq!(s.b().buffered().recv, 16 * 1008);
    assert_eq!(s.a.buffered().send, (200 - 16) * 1008);
    // B acked what it holds; at most a window probe is out.
    assert!(s.a.buffered().unacked <= 1008, "{:?}", s.a.buffered());
    assert_eq!(s.a.send_room(), (1 << 20) - (200 - 16) * 1008);
    s.b_reads = true;
    assert!(s.run(Duration::from_secs(30), |s| s.received.len() == 200
        && s.a.buffered().total() == 0));
    assert_eq!(s.b().buffered().total(), 0);
}

#[test]
fn lost_window_update_is_recovered_by_a_probe() {
    let small = Config {
        recv_buffer: 4096,
        ..cfg()
    };
    // B's acks are lost while B does not read (so the update after reading goes missing too).
    let reading = std::rc::Rc::new(std::cell::Cell::new(false));
    let r = reading.clone();
    let mut first_update = true;
    let mut s = Sim::with(
        cfg(),
        small,
        Box::new(move |p| {
            let update = !p.from_a && p.frames == 0 && r.get();
            if update && std::mem::take(&mut first_update) {
                vec![]
            } else {
                vec![Duration::ZERO]
            }
        }),
    );
    s.established();
    s.b_reads = false;
    s.to_send.extend(frames(40, |_| 1000));
    s.run(Duration::from_secs(1), |_| false);
    assert_eq!(s.a.send_window(), 4096 - 4 * 1008);
    reading.set(true);
    s.b_reads = true;
    let done = s.run(Duration::from_secs(30), |s| s.received.len() == 40);
    assert!(
        done,
        "{} frames; A {:?} {:?} wnd {}",
        s.received.len(),
        s.a.state(),
        s.a.stats,
        s.a.send_window()
    );
    assert_eq!(s.received, frames(40, |_| 1000));
}

#[test]
fn fin_close_from_both_sides() {
    let mut s = Sim::new(perfect());
    s.established();
    s.transfer(frames(5, |_| 100), Duration::from_secs(1));
    s.a.send_frame(b"last").unwrap();
    s.a.close();
    assert_eq!(s.a.send_frame(b"more"), Err(acp::SendError::Closed));
    assert!(
        s.run(Duration::from_secs(1), |s| s.b.as_ref().unwrap().is_eof()
            && s.a.state() == State::FinWait2)
    );
    assert_eq!(s.received.last().unwrap(), b"last");
    assert_eq!(s.b().state(), State::CloseWait);
    assert_eq!(s.a.state(), State::FinWait2);
    s.b().close();
    assert!(s.run(Duration::from_secs(1), |s| s.a.state() == State::TimeWait));
    let t = s.now;
    // A RST in TIME-WAIT is ignored (RFC 1337).
    let rst = Header {
        src_port: 7000,
        dst_port: 40000,
        seq: s.a_ack,
        flags: Flags::RST,
        ..Header::default()
    };
    let now = s.now;
    s.a.on_segment(
        now,
        &wire::Segment {
            header: rst,
            payload: &[],
        },
    );
    assert_eq!((s.a.state(), s.a.error()), (State::TimeWait, None));
    assert!(s.a.is_eof());
    assert!(
        s.run(Duration::from_secs(1), |s| s.b.as_ref().unwrap().state()
            == State::Closed)
    );
    assert!(s.run(Duration::from_secs(1), |s| s.a.state() == State::Closed));
    assert_eq!(s.now - t, Duration::from_millis(100), "time-wait");
    assert_eq!((s.a.error(), s.b().error()), (None, None));
}

#[test]
fn lost_fin_is_retransmitted() {
    let mut first = true;
    let mut s = Sim::new(Box::new(move |p| {
        if p.from_a && p.header.flags.has(Flags::FIN) && std::mem::take(&mut first) {
            vec![]
        } else {
            vec![Duration::ZERO]
        }
    }));
    s.established();
    s.a.close();
    assert!(s.run(Duration::from_secs(2), |s| s.b.as_ref().unwrap().is_eof()));
    assert_eq!(s.a.stats.timeouts, 1);
}

#[test]
fn abort_resets_the_peer() {
    let mut s = Sim::new(perfect());
    s.established();
    s.a.abort();
    assert_eq!(s.a.error(), Some(ConnError::Aborted));
    assert!(
        s.run(Duration::from_secs(1), |s| s.b.as_ref().unwrap().state()
            == State::Closed)
    );
    assert_eq!(s.b().error(), Some(ConnError::Reset));
    assert!(matches!(
        s.b().send_frame(b"x"),
        Err(acp::SendError::Failed(ConnError::Reset))
    ));
}

#[test]
fn rst_for_a_syn_nobody_listens_to_refuses_the_connection() {
    let mut a = Connection::connect(cfg(), 40000, 7000, 5);
    let syn = a.poll_transmit(Duration::ZERO).unwrap().header;
    let rst = reset_reply(&syn, 0).unwrap();
    // RFC 793: no ACK in the SYN, so the RST acks it: seq 0, ack ISS + 1.
    assert_eq!(
        (rst.flags, rst.seq, rst.ack),
        (Flags::RST | Flags::ACK, 0, 6)
    );
    assert_eq!((rst.src_port, rst.dst_port), (7000, 40000));
    a.on_segment(
        Duration::ZERO,
        &wire::Segment {
            header: rst,
            payload: &[],
        },
    );
    assert_eq!(a.error(), Some(ConnError::Refused));
    assert_eq!(reset_reply(&rst, 0), None, "never a RST for a RST");
}

#[test]
fn out_of_window_rst_is_ignored() {
    let mut s = Sim::new(perfect());
    s.established();
    let now = s.now;
    assert!(s.b().poll_transmit(now).is_none());
    assert!(s.a.poll_transmit(now).is_none());
    // A RST whose sequence number lies far outside A's window.
    let h = Header {
        src_port: 7000,
        dst_port: 40000,
        seq: 0x1234_5678,
        flags: Flags::RST,
        ..Header::default()
    };
    s.a.on_segment(
        s.now,
        &wire::Segment {
            header: h,
            payload: &[],
        },
    );
    assert_eq!(s.a.state(), State::Established);
}

/// A data segment to B as a switch would send it: `frames` (fseq, length) starting at `seq`.
fn to_b(seq: u32, ack: u32, frames: &[(u32, usize)], patch: Option<u32>) -> (Header, Vec<u8>) {
    let mut payload = Vec::new();
    for &(fseq, len) in frames {
        wire::emit_frame(fseq, 0, &frame(fseq, len), &mut payload);
    }
    let h = Header {
        src_port: 40000,
        dst_port: 7000,
        seq,
        ack,
        flags: Flags::ACK,
        window: 1000,
        options: Options {
            patch,
            ..Options::default()
        },
        ..Header::default()
    };
    (h, payload)
}

#[test]
fn redirect_patch_delivers_past_a_hole_that_is_never_filled() {
    let mut s = Sim::new(perfect());
    s.established();
    let now = s.now;
    // A's first data byte is ISS + 1; B's ISS + 1 is what A acks.
    let seq0 = 0xfffff001u32;
    let ack = 0x7fff_fff1u32;
    let b = s.b();
    let f = |len: usize| (wire::FRAME_HEADER_LEN + len) as u32;
    // Frames 0 and 1, then 3 and 4: frame 2 (100 bytes) never comes.
    let (h, p) = to_b(seq0, ack, &[(0, 100), (1, 100)], None);
    b.on_segment(now, &wire::parse_segment(&emit(&h, &p)).unwrap());
    let hole = seq0.wrapping_add(2 * f(100));
    let after = hole.wrapping_add(f(100));
    let (h, p) = to_b(after, ack, &[(3, 100), (4, 50)], None);
    b.on_segment(now, &wire::parse_segment(&emit(&h, &p)).unwrap());
    let got: Vec<u32> = std::iter::from_fn(|| b.recv_frame())
        .map(|f| f.fseq)
        .collect();
    assert_eq!(got, [0, 1], "3 and 4 wait for the hole");
    // A patch beyond the window is ignored.
    let (h, p) = to_b(
        after.wrapping_add(f(100) + f(50)),
        ack,
        &[],
        Some(hole.wrapping_add(10_000_000)),
    );
    b.on_segment(now, &wire::parse_segment(&emit(&h, &p)).unwrap());
    assert!(b.recv_frame().is_none());
    // A pure ack carrying the patch: "deliver everything below `after`".
    let (h, p) = to_b(after.wrapping_add(f(100) + f(50)), ack, &[], Some(after));
    b.on_segment(now, &wire::parse_segment(&emit(&h, &p)).unwrap());
    let got: Vec<(u32, Vec<u8>)> = std::iter::from_fn(|| b.recv_frame())
        .map(|f| (f.fseq, f.data))
        .collect();
    assert_eq!(got, [(3, frame(3, 100)), (4, frame(4, 50))]);
    assert_eq!(b.stats.patched_bytes, f(100) as u64);
    // B acks everything, hole included.
    let ack_out = std::iter::from_fn(|| b.poll_transmit(now))
        .last()
        .unwrap()
        .header;
    assert_eq!(ack_out.ack, after.wrapping_add(f(100) + f(50)));
    // Frame 2 arriving late is a duplicate, not delivered.
    let (h, p) = to_b(hole, ack, &[(2, 100)], None);
    b.on_segment(now, &wire::parse_segment(&emit(&h, &p)).unwrap());
    assert!(b.recv_frame().is_none());
    assert_eq!(b.stats.duplicate_frames, 1);
}

#[test]
fn null_frames_fill_sequence_space_and_are_not_delivered() {
    let mut s = Sim::new(perfect());
    s.established();
    let now = s.now;
    let (seq0, ack) = (0xfffff001u32, 0x7fff_fff1u32);
    let mut payload = Vec::new();
    wire::emit_frame(0, 0, b"one", &mut payload);
    wire::emit_frame(1, wire::FRAME_NULL, &[0; 20], &mut payload);
    wire::emit_frame(2, 0, b"three", &mut payload);
    let (h, _) = to_b(seq0, ack, &[], None);
    let b = s.b();
    b.on_segment(now, &wire::parse_segment(&emit(&h, &payload)).unwrap());
    let got: Vec<(u32, Vec<u8>)> = std::iter::from_fn(|| b.recv_frame())
        .map(|f| (f.fseq, f.data))
        .collect();
    assert_eq!(got, [(0, b"one".to_vec()), (2, b"three".to_vec())]);
    assert_eq!(
        b.poll_transmit(now).unwrap().header.ack,
        seq0.wrapping_add(payload.len() as u32)
    );
}

fn emit(h: &Header, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    wire::emit_segment(h, payload, A, B, &mut b);
    b
}

proptest::proptest! {
    /// Arbitrary segments (any flags, numbers, options and frames) to an established connection:
    /// the engine never panics and keeps producing well-formed segments.
    #[test]
    fn arbitrary_segments_never_break_the_engine(
        segs in proptest::collection::vec(
            (
                proptest::prelude::any::<(u32, u32, u8, u16, Option<u32>)>(),
                proptest::collection::vec((proptest::prelude::any::<u32>(), 0u8..2, 0usize..64), 0..4),
                0u64..200,
            ),
            1..40,
        )
    ) {
        let mut s = Sim::new(perfect());
        s.established();
        s.to_send.extend(frames(50, |_| 300));
        s.run(Duration::from_millis(7), |_| false);
        for ((seq, ack, flags, window, patch), fs, dt) in segs {
            // Near the real numbers half the time, so some are accepted.
            let (seq, ack) = if flags & 0x80 != 0 {
                (0x7fff_fff1u32.wrapping_add(seq % 4096), 0xfffff001u32.wrapping_add(ack % 65536))
            } else {
                (seq, ack)
            };
            let frames: Vec<(u32, usize)> = fs.iter().map(|&(f, _, len)| (f, len + 4)).collect();
            let (mut h, p) = to_b(seq, ack, &frames, patch);
            h.flags = Flags(flags & 0x17);
            h.window = window;
            h.src_port = 7000;
            h.dst_port = 40000;
            let bytes = emit(&h, &p);
            let now = s.now;
            s.a.on_segment(now, &wire::parse_segment(&bytes).unwrap());
            s.run(Duration::from_millis(dt), |_| false);
        }
    }
}
