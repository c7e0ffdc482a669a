//! Simulation shared by the frame-switch tests: an `acp::conn` client talks through the model's
//! frame switch to ACP servers (`acp::conn` engines too), with a simulated clock and links. The
//! client's link drops, duplicates and reorders with a seeded generator, and so, when a run asks for
//! it, do the servers' links. Servers answer every request frame with one reply frame naming the
//! server.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use acp::conn::{Config as ConnConfig, Connection, State};
use acp::wire::{self, Flags};
use anypoint_model::frame_switch::{Config, FrameSwitch, Packet, Phase, Policy};
use anypoint_model::HashKey;

pub const CLIENT: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 40000);
pub const VIP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 100), 7000);
const CLIENT_LATENCY: Duration = Duration::from_millis(5);
const SERVER_LATENCY: Duration = Duration::from_millis(1);
const REORDER_DELAY: Duration = Duration::from_millis(7);

pub fn server_addr(i: usize) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(10, 0, 1, 1 + i as u8), 7000)
}

/// splitmix64: the seeded generator of the impairments and keys.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
}

/// Impairment of a link, the same in both directions.
#[derive(Clone, Copy, Debug, Default)]
pub struct Impair {
    pub loss: f64,
    pub dup: f64,
    pub reorder: f64,
}

impl Impair {
    /// The impairment of the end-to-end tests: 2% loss, 1% duplication, 3% reordering.
    #[allow(dead_code)] // the property tests draw their own
    pub fn lossy() -> Impair {
        Impair {
            loss: 0.02,
            dup: 0.01,
            reorder: 0.03,
        }
    }
}

/// What each run is.
pub struct Setup {
    pub policy: Policy,
    pub servers: usize,
    pub requests: u32,
    pub keys: u32,
    pub impair: Impair,
    pub seed: u64,
    /// Impairment of every server's link (default: clean).
    pub member_impair: Impair,
    pub w: usize,
    pub max_holes: usize,
    /// Drop everything on the client's link during this time (a retransmission storm).
    pub blackout: Option<(Duration, Duration)>,
    /// Remove this server once the client has this many replies and, if `remove_in_flight`, a
    /// data segment is on its way to it.
    pub remove: Option<(usize, usize)>,
    pub remove_in_flight: bool,
    /// Request padding (`None`: 0 to 299 bytes).
    pub pad: Option<u32>,
    /// The client closes (half-close: a FIN after its requests) as soon as all are queued, instead
    /// of once all replies are in.
    pub close_early: bool,
    /// Keep every segment the switch received and what it sent ([`Outcome::trace`]).
    pub record: bool,
}

impl Setup {
    pub fn new(policy: Policy, requests: u32, impair: Impair, seed: u64) -> Setup {
        Setup {
            policy,
            servers: 3,
            requests,
            keys: 64,
            impair,
            seed,
            member_impair: Impair::default(),
            w: 384,
            max_holes: 8,
            blackout: None,
            remove: None,
            remove_in_flight: true,
            pad: None,
            close_early: false,
            record: false,
        }
    }
}

/// A request frame: index and key, then `pad` bytes or, if `None`, a length the index decides.
pub fn request(i: u32, key: u32, pad: Option<u32>) -> Vec<u8> {
    let mut f = i.to_be_bytes().to_vec();
    f.extend_from_slice(&key.to_be_bytes());
    f.extend((0..pad.unwrap_or(i * 37 % 300)).map(|k| (k ^ i) as u8));
    f
}

fn index_of(frame: &[u8]) -> u32 {
    u32::from_be_bytes(frame[..4].try_into().unwrap())
}

fn key_of(frame: &[u8]) -> u32 {
    u32::from_be_bytes(frame[4..8].try_into().unwrap())
}

/// A packet on its way: arrival time, a tie-break, destination, segment, source and destination
/// addresses.
type Queued = Reverse<(Duration, u64, Node, Vec<u8>, [u8; 8])>;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Node {
    Switch,
    Client,
    Server(usize),
}

/// What a run produced, for the tests' oracles.
pub struct Outcome {
    /// Request indices each server's application read, in order.
    pub served: Vec<Vec<u32>>,
    /// Keys each server saw.
    pub keys: Vec<Vec<u32>>,
    /// (server, request index, key) of each reply the client read, in order.
    pub replies: Vec<(usize, u32, u32)>,
    pub client: acp::Stats,
    pub counters: anypoint_model::frame_switch::Counters,
    pub max_in: usize,
    pub max_out: usize,
    pub max_holes: usize,
    pub finished: bool,
    pub client_state: State,
    pub client_error: Option<acp::ConnError>,
    /// Errors of the servers still running (not removed).
    pub server_errors: Vec<Option<acp::ConnError>>,
    pub server_beyond_window: u64,
    pub client_beyond_window: u64,
    pub removed: Option<usize>,
    /// Requests the client had queued when the member was removed.
    pub removed_at_request: u32,
    pub now: Duration,
    pub flows: Vec<String>,
    /// Phase of each connection the switch still holds.
    pub phases: Vec<Phase>,
    /// Segments the switch received.
    pub switch_received: u64,
    /// With `Setup::record`: what happened at the switch, in order.
    pub trace: Vec<Step>,
}

/// One event at the switch and the segments it sent.
#[allow(dead_code)] // read by the offload tests only; every test binary compiles this module
pub enum Step {
    Segment(Packet, Vec<Packet>),
    /// A member removed.
    Remove(u16, Vec<Packet>),
}

/// The frame switch a run starts with.
pub fn switch(setup: &Setup) -> FrameSwitch {
    let mut c = Config::new(VIP, setup.policy, HashKey([7, 8, 9, 10]));
    c.w = setup.w;
    c.max_holes = setup.max_holes;
    let mut switch = FrameSwitch::new(c);
    for i in 0..setup.servers {
        switch.add_member(server_addr(i));
    }
    switch
}

pub struct Sim {
    now: Duration,
    seq: u64,
    queue: BinaryHeap<Queued>,
    switch: FrameSwitch,
    client: Connection,
    servers: Vec<Option<Connection>>,
    dead: Vec<bool>,
    backlog: Vec<Vec<Vec<u8>>>,
    rng: Rng,
    setup: Setup,
    next_request: u32,
    keys: Vec<u32>,
    out: Outcome,
    closed: bool,
}

fn cfg() -> ConnConfig {
    ConnConfig {
        rto_initial: Duration::from_millis(100),
        rto_min: Duration::from_millis(50),
        // Long enough to re-ack a FIN the other end resends after backed-off timeouts (a short
        // TIME-WAIT leaves that end retrying into a closed connection until it gives up: 10 s did,
        // with loss on the members' links).
        time_wait: Duration::from_secs(60),
        recv_buffer: 64 << 10,
        send_buffer: 64 << 10,
        ..ConnConfig::default()
    }
}

fn addrs(src: Ipv4Addr, dst: Ipv4Addr) -> [u8; 8] {
    let mut a = [0; 8];
    a[..4].copy_from_slice(&src.octets());
    a[4..].copy_from_slice(&dst.octets());
    a
}

impl Sim {
    pub fn new(setup: Setup) -> Sim {
        let switch = switch(&setup);
        let mut rng = Rng::new(setup.seed);
        let keys = (0..setup.requests)
            .map(|_| (rng.next() % u64::from(setup.keys)) as u32)
            .collect();
        let n = setup.servers;
        Sim {
            now: Duration::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            switch,
            client: Connection::connect(cfg(), CLIENT.port(), VIP.port(), 0xffff_f000),
            servers: (0..n).map(|_| None).collect(),
            dead: vec![false; n],
            backlog: vec![Vec::new(); n],
            rng,
            setup,
            next_request: 0,
            keys,
            out: Outcome {
                served: vec![Vec::new(); n],
                keys: vec![Vec::new(); n],
                replies: Vec::new(),
                counters: Default::default(),
                max_in: 0,
                max_out: 0,
                max_holes: 0,
                finished: false,
                client_state: State::SynSent,
                client_error: None,
                server_errors: Vec::new(),
                server_beyond_window: 0,
                client_beyond_window: 0,
                removed: None,
                removed_at_request: 0,
                client: Default::default(),
                now: Duration::ZERO,
                flows: Vec::new(),
                phases: Vec::new(),
                switch_received: 0,
                trace: Vec::new(),
            },
            closed: false,
        }
    }

    fn push(&mut self, at: Duration, to: Node, bytes: Vec<u8>, a: [u8; 8]) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, to, bytes, a)));
    }

    /// A packet on the client's link, impaired.
    fn client_link(&mut self, to: Node, bytes: Vec<u8>, a: [u8; 8]) {
        if self
            .setup
            .blackout
            .is_some_and(|(from, to)| self.now >= from && self.now < to)
        {
            return;
        }
        self.link(self.setup.impair, CLIENT_LATENCY, to, bytes, a);
    }

    /// A packet on a server's link.
    fn member_link(&mut self, to: Node, bytes: Vec<u8>, a: [u8; 8]) {
        let imp = self.setup.member_impair;
        if imp.loss == 0.0 && imp.dup == 0.0 && imp.reorder == 0.0 {
            // A clean link draws nothing, so runs without it keep their seeds' impairments.
            return self.push(self.now + SERVER_LATENCY, to, bytes, a);
        }
        self.link(imp, SERVER_LATENCY, to, bytes, a);
    }

    /// A packet on a link impaired by `imp`, arriving after `latency` (more when reordered).
    fn link(&mut self, imp: Impair, latency: Duration, to: Node, bytes: Vec<u8>, a: [u8; 8]) {
        if self.rng.chance(imp.loss) {
            return;
        }
        let copies = 1 + self.rng.chance(imp.dup) as usize;
        for _ in 0..copies {
            let extra = if self.rng.chance(imp.reorder) {
                REORDER_DELAY
            } else {
                Duration::ZERO
            };
            self.push(self.now + latency + extra, to, bytes.clone(), a);
        }
    }

    fn route(&mut self, packets: Vec<Packet>) {
        for p in packets {
            let a = addrs(p.src, p.dst);
            if p.dst == *CLIENT.ip() {
                self.client_link(Node::Client, p.segment, a);
            } else {
                let i = (0..self.setup.servers)
                    .find(|&i| *server_addr(i).ip() == p.dst)
                    .expect("to a server");
                if !self.dead[i] {
                    self.member_link(Node::Server(i), p.segment, a);
                }
            }
        }
    }

    fn transmit(&mut self) {
        // The client's application: queue requests, read replies.
        while self.next_request < self.setup.requests {
            let f = request(
                self.next_request,
                self.keys[self.next_request as usize],
                self.setup.pad,
            );
            if !self.client.can_send(f.len()) || !self.client.is_established() {
                break;
            }
            self.client.send_frame(&f).unwrap();
            self.next_request += 1;
        }
        while let Some(f) = self.client.recv_frame() {
            self.out.replies.push((
                f.data[0] as usize,
                index_of(&f.data[1..]),
                key_of(&f.data[1..]),
            ));
        }
        while let Some(o) = self.client.poll_transmit(self.now) {
            let mut b = Vec::new();
            wire::emit_segment(&o.header, &o.payload, *CLIENT.ip(), *VIP.ip(), &mut b);
            self.client_link(Node::Switch, b, addrs(*CLIENT.ip(), *VIP.ip()));
        }
        // The servers: one reply per request.
        for i in 0..self.servers.len() {
            if self.dead[i] {
                continue;
            }
            let Some(s) = self.servers[i].as_mut() else {
                continue;
            };
            while let Some(f) = s.recv_frame() {
                self.out.served[i].push(index_of(&f.data));
                self.out.keys[i].push(key_of(&f.data));
                let mut r = vec![i as u8];
                r.extend_from_slice(&f.data);
                self.backlog[i].push(r);
            }
            let sent = self.backlog[i]
                .iter()
                .take_while(|r| s.send_frame(r).is_ok())
                .count();
            self.backlog[i].drain(..sent);
            if s.is_eof() && self.backlog[i].is_empty() {
                s.close();
            }
            let a = addrs(*server_addr(i).ip(), *CLIENT.ip());
            let mut sent = Vec::new();
            while let Some(o) = s.poll_transmit(self.now) {
                let mut b = Vec::new();
                wire::emit_segment(
                    &o.header,
                    &o.payload,
                    *server_addr(i).ip(),
                    *CLIENT.ip(),
                    &mut b,
                );
                sent.push(b);
            }
            for b in sent {
                self.member_link(Node::Switch, b, a);
            }
        }
    }

    fn deliver(&mut self, to: Node, bytes: Vec<u8>, a: [u8; 8]) {
        let src = Ipv4Addr::new(a[0], a[1], a[2], a[3]);
        let dst = Ipv4Addr::new(a[4], a[5], a[6], a[7]);
        match to {
            Node::Switch => {
                self.out.switch_received += 1;
                let pkt = Packet {
                    src,
                    dst,
                    segment: bytes,
                };
                let out = self.switch.receive(&pkt);
                if self.setup.record {
                    self.out.trace.push(Step::Segment(pkt, out.clone()));
                }
                for o in self.switch.occupancy() {
                    self.out.max_in = self.out.max_in.max(o.in_frames);
                    self.out.max_out = self.out.max_out.max(o.out_frames);
                    self.out.max_holes = self.out.max_holes.max(o.holes);
                }
                self.route(out);
            }
            Node::Client | Node::Server(_) => {
                assert!(
                    wire::verify_checksum(src, dst, &bytes),
                    "bad checksum to {to:?}"
                );
                let seg = wire::parse_segment(&bytes).expect("the switch sends whole frames");
                // Every end accepts segments up to the MSS both sides announced (MTU 1500).
                assert!(
                    seg.payload.len() <= wire::max_segment_payload(1500),
                    "oversized segment"
                );
                match to {
                    Node::Client => self.client.on_segment(self.now, &seg),
                    Node::Server(i) => {
                        if self.dead[i] {
                            return;
                        }
                        let h = seg.header;
                        match self.servers[i].as_mut() {
                            Some(s) => s.on_segment(self.now, &seg),
                            None if h.flags == Flags::SYN => {
                                self.servers[i] = Some(Connection::accept(
                                    cfg(),
                                    &h,
                                    0x7000_0000 + i as u32 * 0x1000_0000,
                                ));
                            }
                            None => {}
                        }
                    }
                    Node::Switch => unreachable!(),
                }
            }
        }
    }

    fn remove_due(&mut self) {
        if let Some((server, after)) = self.setup.remove {
            // It fails with frames on the way to it, which it never acks.
            let in_flight = self
                .queue
                .iter()
                .any(|Reverse((_, _, to, b, _))| *to == Node::Server(server) && b.len() > 40);
            let ready = in_flight || !self.setup.remove_in_flight;
            if self.out.removed.is_none() && self.out.replies.len() >= after && ready {
                self.dead[server] = true;
                self.queue.retain(|Reverse((_, _, to, _, a))| {
                    *to != Node::Server(server) && a[..4] != server_addr(server).ip().octets()
                });
                let out = self.switch.remove_member(server as u16);
                if self.setup.record {
                    self.out
                        .trace
                        .push(Step::Remove(server as u16, out.clone()));
                }
                self.out.removed = Some(server);
                self.out.removed_at_request = self.next_request;
                self.route(out);
            }
        }
    }

    /// Whether the client has what it can get: a reply for every request not lost with a removed
    /// server.
    fn all_answered(&self) -> bool {
        let lost = self.out.removed.map_or(0, |r| {
            self.out.served[r].len() - self.out.replies.iter().filter(|x| x.0 == r).count()
        });
        self.next_request == self.setup.requests
            && self.out.replies.len() + lost == self.setup.requests as usize
    }

    /// Runs until the client closed and every side is done, or `limit` of simulated time.
    pub fn run(mut self, limit: Duration) -> Outcome {
        loop {
            self.remove_due();
            self.transmit();
            let done_sending = self.next_request == self.setup.requests;
            let close_now = if self.setup.close_early {
                done_sending
            } else {
                self.all_answered()
            };
            if !self.closed && close_now {
                self.client.close();
                self.closed = true;
                continue;
            }
            let next_pkt = self.queue.peek().map(|Reverse(p)| p.0);
            let timers = std::iter::once(self.client.poll_at())
                .chain(
                    self.servers
                        .iter()
                        .zip(&self.dead)
                        .filter(|(_, d)| !**d)
                        .map(|(s, _)| s.as_ref().and_then(|s| s.poll_at())),
                )
                .flatten()
                .min();
            let Some(next) = [next_pkt, timers].into_iter().flatten().min() else {
                break;
            };
            if next > limit {
                break;
            }
            self.now = self.now.max(next);
            while self.queue.peek().is_some_and(|Reverse(p)| p.0 <= self.now) {
                let Reverse((_, _, to, bytes, a)) = self.queue.pop().unwrap();
                self.deliver(to, bytes, a);
            }
            let now = self.now;
            self.client.on_timer(now);
            for (s, d) in self.servers.iter_mut().zip(&self.dead) {
                if let (Some(s), false) = (s.as_mut(), *d) {
                    s.on_timer(now);
                }
            }
        }
        self.out.finished = self.closed
            && self.client.state() == State::Closed
            && self
                .servers
                .iter()
                .zip(&self.dead)
                .all(|(s, d)| *d || s.as_ref().is_some_and(|s| s.state() == State::Closed));
        self.out.client_state = self.client.state();
        self.out.client_error = self.client.error();
        self.out.server_errors = self
            .servers
            .iter()
            .zip(&self.dead)
            .filter(|(_, d)| !**d)
            .map(|(s, _)| s.as_ref().and_then(|s| s.error()))
            .collect();
        self.out.client = self.client.stats;
        self.out.client_beyond_window = self.client.stats.beyond_window;
        self.out.server_beyond_window = self
            .servers
            .iter()
            .flatten()
            .map(|s| s.stats.beyond_window)
            .sum();
        self.out.counters = self.switch.counters().clone();
        self.out.now = self.now;
        self.out.flows = self.switch.describe();
        self.out.phases = self.switch.occupancy().iter().map(|o| o.phase).collect();
        let c = &self.client;
        self.out.flows.push(format!(
            "client: next request {} can send {} in flight {} cwnd {} window {} rto {:?} timer {:?} {:?}",
            self.next_request,
            c.can_send(300),
            c.in_flight(),
            c.cwnd(),
            c.send_window(),
            c.rto(),
            c.poll_at(),
            c.stats
        ));
        self.out
    }
}

/// Checks every run's invariants; returns the reasons it fails.
pub fn check(o: &Outcome, setup_requests: u32, w: usize, max_holes: usize) -> Result<(), String> {
    let n = setup_requests as usize;
    if !o.finished {
        return Err(format!(
            "not finished at {:?}: client {:?} {:?}, {} replies; {:?}",
            o.now,
            o.client_state,
            o.client_error,
            o.replies.len(),
            o.flows
        ));
    }
    // Each member reads its requests in the order the client sent them. When a member is removed,
    // its frames the client sends again go to the others later, out of that order: only requests
    // queued after the removal must still be in order, and each out-of-order read must be a frame
    // the switch re-steered.
    let after = |r: u32| o.removed.is_none_or(|_| r >= o.removed_at_request);
    let mut inversions = 0;
    for (i, s) in o.served.iter().enumerate() {
        if Some(i) == o.removed {
            continue;
        }
        let kept: Vec<u32> = s.iter().copied().filter(|&r| after(r)).collect();
        if let Some(p) = kept.windows(2).position(|p| p[0] >= p[1]) {
            return Err(format!(
                "server {i} read request {} after {}",
                kept[p + 1],
                kept[p]
            ));
        }
        let mut top = None;
        for &r in s {
            if top.is_some_and(|t| t > r) {
                inversions += 1;
            }
            top = top.max(Some(r));
        }
    }
    if inversions > o.counters.frames_resteered {
        return Err(format!(
            "{inversions} requests read out of order, {} re-steered",
            o.counters.frames_resteered
        ));
    }
    // Every request reached exactly one live application (or the removed one, before removal).
    let mut seen = vec![0u32; n];
    for s in &o.served {
        for &r in s {
            seen[r as usize] += 1;
        }
    }
    if o.removed.is_none() {
        if let Some(r) = seen.iter().position(|&c| c != 1) {
            return Err(format!("request {r} reached {} servers", seen[r]));
        }
    } else if let Some(r) = seen.iter().position(|&c| c == 0) {
        return Err(format!("request {r} reached no server"));
    }
    // Replies: each at most once, from the server that read the request, in order per server
    // (but for requests sent before a removal).
    let mut replied = vec![false; n];
    let mut last: Vec<Option<u32>> = vec![None; o.served.len()];
    for &(s, r, _) in &o.replies {
        if std::mem::replace(&mut replied[r as usize], true) {
            return Err(format!("request {r} answered twice"));
        }
        if !o.served[s].contains(&r) {
            return Err(format!("reply to {r} from server {s}, which never read it"));
        }
        if !after(r) {
            continue;
        }
        if last[s].is_some_and(|l| l >= r) {
            return Err(format!(
                "server {s}'s reply to {r} after its reply to {:?}",
                last[s]
            ));
        }
        last[s] = Some(r);
    }
    for (r, ok) in replied.iter().enumerate() {
        let lost_ok = o.removed.is_some_and(|d| o.served[d].contains(&(r as u32)));
        if !ok && !lost_ok {
            return Err(format!("request {r} never answered"));
        }
    }
    // Every segment the switch took is counted under exactly one kind.
    let (fast, slow) = o.counters.fast_slow();
    if fast + slow != o.switch_received {
        return Err(format!(
            "{} segments counted, {} received",
            fast + slow,
            o.switch_received
        ));
    }
    if o.client_error.is_some() || o.server_errors.iter().any(Option::is_some) {
        return Err(format!(
            "a connection failed: client {:?}, servers {:?}",
            o.client_error, o.server_errors
        ));
    }
    if o.max_in > w || o.max_out > w || o.max_holes > max_holes {
        return Err(format!(
            "state beyond its bound: {} / {} frames, {} holes",
            o.max_in, o.max_out, o.max_holes
        ));
    }
    Ok(())
}
