//! Shared by the integration tests and the benchmark: the switch is programmed through `write32`
//! only, as the driver would, and frames are built with etherparse, not with the model's code.
#![allow(dead_code)] // every test binary uses a different subset

use anypoint_model::regs::{ctr, member_state, policy, reg, region, table, tbl_op};
use anypoint_model::{FiveTuple, Geometry, Switch};
use etherparse::{IpNumber, Ipv4Header, PacketBuilder, TcpHeader, VlanId};
use siphasher::sip::SipHasher13;
use std::hash::Hasher;

pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const KEY: [u8; 16] = *b"anypoint-test-k!";

pub fn ip(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

pub fn mac(a: u8, b: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, a, b]
}

// ---- register access ----

fn tbl_cmd(op: u8, table: u32, index: u32) -> u32 {
    reg::TBL_CMD_OP.place(u32::from(op))
        | reg::TBL_CMD_TABLE.place(table)
        | reg::TBL_CMD_INDEX.place(index)
}

/// Stages `words` in TBL_WDATA and writes them to entry `index` of `table`.
pub fn write_entry(sw: &mut Switch, table: u32, index: u32, words: &[u32]) {
    for (i, w) in words.iter().enumerate() {
        sw.write32(reg::TBL_WDATA + 4 * i as u32, *w);
    }
    sw.write32(reg::TBL_CMD, tbl_cmd(tbl_op::WRITE, table, index));
}

/// Reads entry `index` of `table` into TBL_RDATA and returns its first `n` words.
pub fn read_entry(sw: &mut Switch, table: u32, index: u32, n: usize) -> Vec<u32> {
    sw.write32(reg::TBL_CMD, tbl_cmd(tbl_op::READ, table, index));
    (0..n as u32)
        .map(|i| sw.read32(reg::TBL_RDATA + 4 * i))
        .collect()
}

pub fn clear_entry(sw: &mut Switch, table: u32, index: u32) {
    sw.write32(reg::TBL_CMD, tbl_cmd(tbl_op::CLEAR, table, index));
}

pub fn table_error(sw: &mut Switch) -> bool {
    sw.read32(reg::TBL_STATUS) & 1 != 0
}

pub fn set_hash_key(sw: &mut Switch, key: [u8; 16]) {
    for i in 0..4 {
        let w = u32::from_le_bytes(key[4 * i..4 * i + 4].try_into().unwrap());
        sw.write32(reg::HASH_KEY + 4 * i as u32, w);
    }
}

pub fn set_indir(sw: &mut Switch, slot: u32, member: Option<u16>) {
    let w = member.map_or(0, |m| {
        table::indir_slot::VALID.place(1) | table::indir_slot::MEMBER.place(u32::from(m))
    });
    sw.write32(region::INDIR + 4 * slot, w);
}

/// A 64-bit counter: low word first (latching the high word), then the high word.
fn counter(sw: &mut Switch, offset: u32, stride: u32, instance: usize, c: usize) -> u64 {
    let at = region::CTR + offset + instance as u32 * stride + 8 * c as u32;
    let lo = sw.read32(at);
    let hi = sw.read32(at + 4);
    u64::from(hi) << 32 | u64::from(lo)
}

pub fn port_ctr(sw: &mut Switch, port: u8, c: usize) -> u64 {
    counter(
        sw,
        ctr::port::OFFSET,
        ctr::port::STRIDE,
        usize::from(port),
        c,
    )
}

pub fn reason_ctr(sw: &mut Switch, code: u8) -> u64 {
    counter(
        sw,
        ctr::reason::OFFSET,
        ctr::reason::STRIDE,
        usize::from(code),
        0,
    )
}

pub fn service_ctr(sw: &mut Switch, service: u16, c: usize) -> u64 {
    counter(
        sw,
        ctr::service::OFFSET,
        ctr::service::STRIDE,
        usize::from(service),
        c,
    )
}

pub fn member_ctr(sw: &mut Switch, member: u16, c: usize) -> u64 {
    counter(
        sw,
        ctr::member::OFFSET,
        ctr::member::STRIDE,
        usize::from(member),
        c,
    )
}

pub fn activity_bit(sw: &mut Switch, entry: u32) -> bool {
    sw.read32(region::ACT + 4 * (entry / 32)) >> (entry % 32) & 1 != 0
}

// ---- table entries, built with the register map's field layout ----

fn mac_words(m: [u8; 6]) -> (u32, u32) {
    (
        u32::from(u16::from_be_bytes([m[0], m[1]])),
        u32::from_be_bytes([m[2], m[3], m[4], m[5]]),
    )
}

#[derive(Clone, Copy, Debug, Default)]
pub struct PortEntry {
    pub mac: [u8; 6],
    pub enabled: bool,
    pub no_service_drop: bool,
    pub nh_mac: Option<[u8; 6]>,
}

impl PortEntry {
    pub fn words(&self) -> [u32; table::port::WORDS] {
        use table::port::*;
        let mut w = [0; WORDS];
        let (hi, lo) = mac_words(self.mac);
        MAC_HI.set(&mut w, hi);
        MAC_LO.set(&mut w, lo);
        ENABLED.set(&mut w, self.enabled.into());
        NO_SERVICE_DROP.set(&mut w, self.no_service_drop.into());
        if let Some(nh) = self.nh_mac {
            let (hi, lo) = mac_words(nh);
            NH_MAC_HI.set(&mut w, hi);
            NH_MAC_LO.set(&mut w, lo);
            NH_VALID.set(&mut w, 1);
        }
        w
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ServiceEntry {
    pub vip: u32,
    pub port: u16,
    pub proto: u8,
    pub policy: u8,
    pub indir_base: u16,
    pub indir_log2: u8,
    pub peer_port: u8,
    pub key_offset: u8,
    pub key_len: u8,
}

impl ServiceEntry {
    pub fn words(&self) -> [u32; table::service::WORDS] {
        use table::service::*;
        let mut w = [0; WORDS];
        VIP.set(&mut w, self.vip);
        PORT.set(&mut w, self.port.into());
        PROTO.set(&mut w, self.proto.into());
        POLICY.set(&mut w, self.policy.into());
        VALID.set(&mut w, 1);
        INDIR_BASE.set(&mut w, self.indir_base.into());
        INDIR_LOG2.set(&mut w, self.indir_log2.into());
        PEER_PORT.set(&mut w, self.peer_port.into());
        KEY_OFFSET.set(&mut w, self.key_offset.into());
        KEY_LEN.set(&mut w, self.key_len.into());
        w
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct MemberEntry {
    pub addr: u32,
    pub port: u16,
    pub out_port: u8,
    pub state: u8,
    pub service: u8,
    pub mac: Option<[u8; 6]>,
}

impl MemberEntry {
    pub fn words(&self) -> [u32; table::member::WORDS] {
        use table::member::*;
        let mut w = [0; WORDS];
        ADDR.set(&mut w, self.addr);
        PORT.set(&mut w, self.port.into());
        OUT_PORT.set(&mut w, self.out_port.into());
        STATE.set(&mut w, self.state.into());
        SERVICE.set(&mut w, self.service.into());
        if let Some(m) = self.mac {
            let (hi, lo) = mac_words(m);
            MAC_HI.set(&mut w, hi);
            MAC_LO.set(&mut w, lo);
            MAC_VALID.set(&mut w, 1);
        }
        w
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ConnEntry {
    pub tuple: FiveTuple,
    pub service: u8,
    pub peer_port: u8,
    pub outbound: bool,
    pub member: u16,
}

impl ConnEntry {
    pub fn words(&self) -> [u32; table::conn::WORDS] {
        use table::conn::*;
        let mut w = [0; WORDS];
        SRC_IP.set(&mut w, self.tuple.src_ip);
        DST_IP.set(&mut w, self.tuple.dst_ip);
        SRC_PORT.set(&mut w, self.tuple.src_port.into());
        DST_PORT.set(&mut w, self.tuple.dst_port.into());
        PROTO.set(&mut w, self.tuple.proto.into());
        SERVICE.set(&mut w, self.service.into());
        PEER_PORT.set(&mut w, self.peer_port.into());
        DIR.set(&mut w, self.outbound.into());
        VALID.set(&mut w, 1);
        MEMBER.set(&mut w, self.member.into());
        w
    }
}

// ---- the hash, from the siphasher crate ----

/// `(hash_lo, hash_hi)` of a 5-tuple per docs/pipeline.md section 4.
pub fn oracle_hash(key: [u8; 16], t: &FiveTuple) -> (u32, u32) {
    let mut msg = [0u8; 24];
    msg[0..4].copy_from_slice(&t.src_ip.to_be_bytes());
    msg[4..8].copy_from_slice(&t.dst_ip.to_be_bytes());
    msg[8..10].copy_from_slice(&t.src_port.to_be_bytes());
    msg[10..12].copy_from_slice(&t.dst_port.to_be_bytes());
    msg[12] = t.proto;
    msg[17] = 13;
    sip(key, &msg)
}

/// `(hash_lo, hash_hi)` of a key-hash key.
pub fn oracle_key_hash(key: [u8; 16], data: &[u8]) -> (u32, u32) {
    let mut msg = [0u8; 24];
    msg[..data.len()].copy_from_slice(data);
    msg[16] = 1;
    msg[17] = data.len() as u8;
    sip(key, &msg)
}

fn sip(key: [u8; 16], msg: &[u8; 24]) -> (u32, u32) {
    let k0 = u64::from_le_bytes(key[..8].try_into().unwrap());
    let k1 = u64::from_le_bytes(key[8..].try_into().unwrap());
    let mut h = SipHasher13::new_with_keys(k0, k1);
    h.write(msg);
    let v = h.finish();
    (v as u32, (v >> 32) as u32)
}

/// Connection-table entry index of `way` in the bucket `bank` gives the tuple.
pub fn conn_index(key: [u8; 16], buckets_log2: u8, t: &FiveTuple, bank: u32, way: u32) -> u32 {
    let (lo, hi) = oracle_hash(key, t);
    let h = if bank == 0 { lo } else { hi };
    bank << (buckets_log2 + 2) | (h & ((1 << buckets_log2) - 1)) << 2 | way
}

// ---- frames ----

#[derive(Clone, Debug)]
pub struct FrameSpec {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub vlan: Option<u16>,
    pub tuple: FiveTuple,
    pub ttl: u8,
    pub ip_id: u16,
    pub dscp: u8,
    pub dont_fragment: bool,
    /// TCP flags: SYN, ACK, FIN, RST.
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
    pub seq: u32,
    pub payload: Vec<u8>,
    pub padding: Vec<u8>,
}

impl FrameSpec {
    pub fn new(tuple: FiveTuple) -> FrameSpec {
        FrameSpec {
            src_mac: mac(0xee, 1),
            dst_mac: mac(0, 0),
            vlan: None,
            tuple,
            ttl: 64,
            ip_id: 0x1234,
            dscp: 0,
            dont_fragment: true,
            syn: false,
            ack: true,
            fin: false,
            rst: false,
            seq: 1000,
            payload: b"hello".to_vec(),
            padding: Vec::new(),
        }
    }

    pub fn build(&self) -> Vec<u8> {
        let t = &self.tuple;
        let eth = PacketBuilder::ethernet2(self.src_mac, self.dst_mac);
        let mut iph = Ipv4Header::new(
            0,
            self.ttl,
            IpNumber(t.proto),
            t.src_ip.to_be_bytes(),
            t.dst_ip.to_be_bytes(),
        )
        .unwrap();
        iph.identification = self.ip_id;
        iph.dscp = self.dscp.try_into().unwrap();
        iph.dont_fragment = self.dont_fragment;
        let iph = etherparse::IpHeaders::Ipv4(iph, Default::default());
        let mut out = Vec::new();
        macro_rules! finish {
            ($ip:expr) => {
                if t.proto == TCP {
                    let mut tcp = TcpHeader::new(t.src_port, t.dst_port, self.seq, 4096);
                    tcp.syn = self.syn;
                    tcp.ack = self.ack;
                    tcp.fin = self.fin;
                    tcp.rst = self.rst;
                    $ip.tcp_header(tcp).write(&mut out, &self.payload).unwrap()
                } else {
                    $ip.udp(t.src_port, t.dst_port)
                        .write(&mut out, &self.payload)
                        .unwrap()
                }
            };
        }
        match self.vlan {
            Some(v) => finish!(eth.single_vlan(VlanId::try_new(v).unwrap()).ip(iph)),
            None => finish!(eth.ip(iph)),
        }
        out.extend_from_slice(&self.padding);
        out
    }

    /// Offset of the IPv4 header.
    pub fn l3(&self) -> usize {
        if self.vlan.is_some() {
            18
        } else {
            14
        }
    }
}

/// RFC 1071 checksum of `bytes`, from scratch.
pub fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Recomputes the IPv4 header checksum after a test edited the header at `l3`.
pub fn fix_ip_checksum(frame: &mut [u8], l3: usize) {
    let ihl = usize::from(frame[l3] & 0xf) * 4;
    frame[l3 + 10..l3 + 12].fill(0);
    let c = internet_checksum(&frame[l3..l3 + ihl]);
    frame[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
}

// ---- a standard lab ----

pub const PEER: u32 = 0xcb00_7107; // 203.0.113.7
pub const VIP: u32 = 0x0a00_0064; // 10.0.0.100
pub const HTTP: u16 = 80;
pub const DNS: u16 = 53;
/// Services of the lab.
pub const SVC_TCP: u16 = 0;
pub const SVC_UDP: u16 = 1;
pub const SVC_HOST: u16 = 2;
/// Members 0-3 serve `SVC_TCP` through port 1, members 4-7 `SVC_UDP` through port 2.
pub const TCP_MEMBERS: std::ops::Range<u16> = 0..4;
pub const UDP_MEMBERS: std::ops::Range<u16> = 4..8;
pub const PEER_PORT: u8 = 0;

pub fn lab_geometry() -> Geometry {
    Geometry {
        ports: 4,
        services: 8,
        members: 16,
        conn_buckets_log2: 4,
        indir_slots_log2: 6,
    }
}

pub fn port_mac(p: u8) -> [u8; 6] {
    mac(0xa0, p)
}

pub fn nh_mac(p: u8) -> [u8; 6] {
    mac(0xb0, p)
}

pub fn member_addr(m: u16) -> u32 {
    ip(192, 168, 1, 10 + m as u8)
}

pub fn member_mac(m: u16) -> [u8; 6] {
    mac(0xc0, m as u8)
}

pub fn member_entry(m: u16) -> MemberEntry {
    let tcp = TCP_MEMBERS.contains(&m);
    MemberEntry {
        addr: member_addr(m),
        port: if tcp { 8080 } else { 5353 },
        out_port: if tcp { 1 } else { 2 },
        state: member_state::ACTIVE,
        service: if tcp { SVC_TCP as u8 } else { SVC_UDP as u8 },
        mac: Some(member_mac(m)),
    }
}

pub fn lab_services() -> [ServiceEntry; 3] {
    let base = ServiceEntry {
        vip: VIP,
        indir_log2: 2,
        peer_port: PEER_PORT,
        ..Default::default()
    };
    [
        ServiceEntry {
            port: HTTP,
            proto: TCP,
            policy: policy::MAGLEV,
            indir_base: 0,
            ..base
        },
        ServiceEntry {
            port: DNS,
            proto: UDP,
            policy: policy::KEY_HASH,
            indir_base: 4,
            key_offset: 2,
            key_len: 4,
            ..base
        },
        ServiceEntry {
            port: 443,
            proto: TCP,
            policy: policy::HOST,
            ..base
        },
    ]
}

/// Ports 0-3 enabled with a next hop; services and members above; indirection slot `i` of each
/// service names its `i`-th member.
pub fn lab() -> Switch {
    lab_in(lab_geometry())
}

/// The lab in a switch of geometry `g`.
pub fn lab_in(g: Geometry) -> Switch {
    let mut sw = Switch::new(g);
    set_hash_key(&mut sw, KEY);
    for p in 0..g.ports {
        let e = PortEntry {
            mac: port_mac(p),
            enabled: true,
            no_service_drop: false,
            nh_mac: Some(nh_mac(p)),
        };
        write_entry(&mut sw, table::port::ID, p.into(), &e.words());
    }
    for (i, s) in lab_services().iter().enumerate() {
        write_entry(&mut sw, table::service::ID, i as u32, &s.words());
    }
    for m in TCP_MEMBERS.chain(UDP_MEMBERS) {
        write_entry(
            &mut sw,
            table::member::ID,
            m.into(),
            &member_entry(m).words(),
        );
        set_indir(&mut sw, m.into(), Some(m));
    }
    sw
}

/// A peer's TCP connection to the lab's HTTP service.
pub fn peer_tcp(src_port: u16) -> FiveTuple {
    FiveTuple {
        src_ip: PEER,
        dst_ip: VIP,
        src_port,
        dst_port: HTTP,
        proto: TCP,
    }
}

pub fn peer_udp(src_port: u16) -> FiveTuple {
    FiveTuple {
        src_ip: PEER,
        dst_ip: VIP,
        src_port,
        dst_port: DNS,
        proto: UDP,
    }
}

/// The member the lab's maglev service picks for `t` (slot i names member i).
pub fn maglev_member(t: &FiveTuple) -> u16 {
    let (_, hi) = oracle_hash(KEY, t);
    ((hi >> 16) & 3) as u16
}

// ---- stepping ----

pub fn step(sw: &mut Switch, port: u8, frame: &[u8]) -> anypoint_model::StepOutput {
    let mut out = anypoint_model::StepOutput::default();
    sw.step(port, frame, false, &mut out);
    out
}

/// Steps `frame` on `port` and checks it was punted with `outcome`, counted once in the port's
/// host or drop counter and in the reason counter, and (host) recorded as header + frame.
/// Returns the host record's header.
pub fn expect_punt(
    sw: &mut Switch,
    port: u8,
    frame: &[u8],
    outcome: anypoint_model::Outcome,
) -> Option<anypoint_model::HostHeader> {
    use anypoint_model::Outcome;
    let (reason, is_host) = match outcome {
        Outcome::Host { reason } => (reason, true),
        Outcome::Drop { reason } => (reason, false),
        Outcome::Forward { .. } => panic!("not a punt"),
    };
    let which = if is_host {
        ctr::port::HOST_PACKETS
    } else {
        ctr::port::DROP_PACKETS
    };
    let before = (port_ctr(sw, port, which), reason_ctr(sw, reason));
    let out = step(sw, port, frame);
    assert_eq!(out.outcome, Some(outcome));
    assert_eq!(out.record, None);
    assert_eq!(
        (port_ctr(sw, port, which), reason_ctr(sw, reason)),
        (before.0 + 1, before.1 + 1)
    );
    if !is_host {
        assert!(out.bytes.is_empty());
        return None;
    }
    let h = anypoint_model::HostHeader::decode(&out.bytes).expect("host record header");
    assert_eq!(&out.bytes[32..], frame);
    assert_eq!(
        (h.kind, h.reason, h.in_port, usize::from(h.frame_len)),
        (
            anypoint_model::hostrec::KIND_PUNT,
            reason,
            port,
            frame.len()
        )
    );
    Some(h)
}
