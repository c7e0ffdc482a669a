//! The ACP block of a whole device (the model's `Switch` or the Verilated `anypoint_top`) as a
//! frame-switch [`Engine`]: slots, rings and neighbours through the daemon's engine over its
//! registers (`anypoint_driver::acp_offload`, fenced loads), each segment in as a frame on an
//! Ethernet port and out as the frames the block sends or the host record it gives back. Every
//! frame sent is checked against the neighbour table (port, both MACs) and re-parsed by
//! etherparse (IPv4 header and its checksum).
//! Before every second segment a decoy goes in that the block must pass to the host untouched: the
//! same segment in an 802.1Q-tagged frame, as IP protocol 252, or cut to 19 bytes (shorter than an
//! ACP header).

use std::net::Ipv4Addr;

use anypoint_driver::access::{Backend, PacketIo, RegisterAccess};
use anypoint_driver::acp::{self, Neighbour};
use anypoint_driver::acp_offload::Shared;
use anypoint_model::frame_switch::fast::{
    Engine, Entries, FlowRecord, Ring, RingEntry, TakenCount,
};
use anypoint_model::frame_switch::Packet;
use anypoint_model::hostrec::HEADER_LEN;
use anypoint_model::regs::{reason, reg, table::port};
use etherparse::{IpNumber, Ipv4Header, Ipv4HeaderSlice};

/// The port segments arrive on, and the MACs of the frames that carry them there.
const IN_PORT: u8 = 0;
const IN_SRC_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const IN_DST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const PROTO_ACP: u8 = 253;

/// Port `p`'s MAC, as programmed in the port table.
fn port_mac(p: u8) -> [u8; 6] {
    [0x02, 0xaa, 0, 0, 0, p]
}

/// Counts of what the block did with the segments sent through it.
#[derive(Clone, Copy, Debug, Default)]
pub struct BlockStats {
    pub taken: u64,
    pub given_back: u64,
    pub frames: u64,
}

pub struct DeviceEngine<B> {
    pub dev: Shared<B>,
    /// The block's slots as the daemon drives them.
    slots: Box<dyn Engine>,
    ports: u8,
    /// The routes given to `slots`, which writes them to the neighbour table as it loads.
    nbrs: Vec<Neighbour>,
    sends: u64,
    /// An address given no neighbour entry: the block drops what it sends there.
    pub unroutable: Option<Ipv4Addr>,
    pub stats: BlockStats,
    /// Segments given back by fence bucket, counted here ([`fence_bucket`]).
    given_in: [u32; 64],
}

/// The fence bucket of an address and port (docs/pipeline.md section 12), bit by bit: bit `i` of
/// the 48 (address high, port low) flips bit `i mod 6` of the bucket.
fn fence_bucket(addr: Ipv4Addr, port: u16) -> usize {
    let bytes: Vec<u8> = addr
        .octets()
        .into_iter()
        .chain(port.to_be_bytes())
        .collect();
    (0..48)
        .filter(|i| bytes[5 - i / 8] >> (i % 8) & 1 == 1)
        .fold(0, |b, i| b ^ (1 << (i % 6)))
}

impl<B: Backend + 'static> DeviceEngine<B> {
    /// Programs every port's MAC (enabled) and leaves the neighbour table empty.
    pub fn new(dev: B) -> DeviceEngine<B> {
        let mut dev = Shared::new(dev);
        let slots = dev.acp_engine().expect("a device with an ACP block");
        let ports = dev.read32(reg::NUM_PORTS) as u8;
        for p in 0..ports {
            let mac = port_mac(p);
            let mut e = [0u32; port::WORDS];
            port::MAC_LO.set(&mut e, u32::from_be_bytes(mac[2..6].try_into().unwrap()));
            port::MAC_HI.set(&mut e, u16::from_be_bytes([mac[0], mac[1]]).into());
            port::ENABLED.set(&mut e, 1);
            for (i, w) in e.iter().enumerate() {
                dev.write32(reg::TBL_WDATA + 4 * i as u32, *w);
            }
            dev.write32(
                reg::TBL_CMD,
                reg::TBL_CMD_TABLE.place(port::ID)
                    | reg::TBL_CMD_INDEX.place(p.into())
                    | reg::TBL_CMD_OP.place(1),
            );
        }
        DeviceEngine {
            dev,
            slots,
            ports,
            nbrs: Vec::new(),
            sends: 0,
            unroutable: None,
            stats: BlockStats::default(),
            given_in: [0; 64],
        }
    }

    /// A route for the record's peer (port 0) and each member (the last port), each with a MAC
    /// of its own, unless the address has one.
    fn add_routes(&mut self, rec: &FlowRecord) {
        let members = rec.legs[..usize::from(rec.nlegs)]
            .iter()
            .map(|l| *l.member.ip());
        for (k, addr) in std::iter::once(*rec.peer.ip()).chain(members).enumerate() {
            if self.nbrs.iter().any(|n| n.addr == addr) || self.unroutable == Some(addr) {
                continue;
            }
            let n = Neighbour {
                addr,
                port: if k == 0 { 0 } else { self.ports - 1 },
                mac: [0x02, 0xbb, 0, 0, self.nbrs.len() as u8, k as u8],
            };
            self.slots.route(n.addr, n.port, n.mac);
            self.nbrs.push(n);
        }
    }

    /// The packet of a frame the block sent on `port`, checked against the neighbour table.
    fn parse_sent(&self, port: u8, frame: &[u8]) -> Packet {
        let ip = Ipv4HeaderSlice::from_slice(&frame[14..]).expect("an IPv4 header");
        let dst = ip.destination_addr();
        let n = self
            .nbrs
            .iter()
            .find(|n| n.addr == dst)
            .unwrap_or_else(|| panic!("a frame to {dst}, which has no neighbour entry"));
        assert_eq!(
            (port, &frame[..6]),
            (n.port, &n.mac[..]),
            "port and MAC of {dst}"
        );
        assert_eq!(frame[6..12], port_mac(port), "source MAC");
        assert_eq!(frame[12..14], [0x08, 0x00], "EtherType");
        let h = ip.to_header();
        assert_eq!(
            h.header_checksum,
            h.calc_header_checksum(),
            "IPv4 header checksum"
        );
        assert_eq!(
            (h.ihl(), h.protocol, h.time_to_live),
            (5, IpNumber(PROTO_ACP), 64)
        );
        assert!(h.dont_fragment && !h.more_fragments && h.identification == 0);
        let end = 14 + usize::from(h.total_len);
        assert!(frame.len() == end.max(60) && frame[end..].iter().all(|&b| b == 0));
        Packet {
            src: ip.source_addr(),
            dst,
            segment: frame[34..end].to_vec(),
        }
    }
}

/// The frame that carries `pkt` to the device.
fn carrier(pkt: &Packet) -> Vec<u8> {
    let mut ip = Ipv4Header::new(
        pkt.segment.len() as u16,
        64,
        IpNumber(PROTO_ACP),
        pkt.src.octets(),
        pkt.dst.octets(),
    )
    .expect("a segment that fits an IPv4 packet");
    ip.header_checksum = ip.calc_header_checksum();
    let mut f = [&IN_DST_MAC[..], &IN_SRC_MAC, &[0x08, 0x00]].concat();
    f.extend_from_slice(&ip.to_bytes());
    f.extend_from_slice(&pkt.segment);
    f.resize(f.len().max(60), 0);
    f
}

/// The decoy sent before segment number `n` (every second one, the three kinds in turn).
fn decoy(pkt: &Packet, n: u64) -> Option<Vec<u8>> {
    let mut f = carrier(pkt);
    match n % 6 {
        1 => {
            let tag = [0x81, 0x00, 0x00, 0x07];
            f.splice(12..12, tag);
        }
        3 => {
            f[23] = 252;
            fix_ip_checksum(&mut f);
        }
        5 => {
            let short = Packet {
                segment: pkt.segment[..19.min(pkt.segment.len())].to_vec(),
                ..pkt.clone()
            };
            f = carrier(&short);
        }
        _ => return None,
    }
    Some(f)
}

fn fix_ip_checksum(f: &mut [u8]) {
    f[24..26].fill(0);
    let h = Ipv4HeaderSlice::from_slice(&f[14..]).unwrap().to_header();
    f[24..26].copy_from_slice(&h.calc_header_checksum().to_be_bytes());
}

/// The slots' engine, but segments go in as frames.
impl<B: Backend + 'static> Engine for DeviceEngine<B> {
    fn slots(&self) -> usize {
        self.slots.slots()
    }
    fn ring_entries(&self) -> usize {
        self.slots.ring_entries()
    }
    fn load(&mut self, slot: usize, rec: &FlowRecord, in_flight: &Entries) -> bool {
        self.add_routes(rec);
        self.slots.load(slot, rec, in_flight)
    }
    fn unload(&mut self, slot: usize) {
        self.slots.unload(slot)
    }
    fn read(&mut self, slot: usize) -> FlowRecord {
        self.slots.read(slot)
    }
    fn ring(&mut self, slot: usize, ring: Ring, idx: u16) -> RingEntry {
        self.slots.ring(slot, ring, idx)
    }
    fn taken(&mut self, slot: usize) -> TakenCount {
        self.slots.taken(slot)
    }
    fn send(&mut self, pkt: &Packet) -> Result<Vec<Packet>, Packet> {
        self.sends += 1;
        if let Some(decoy) = decoy(pkt, self.sends) {
            self.dev.receive(IN_PORT, &decoy);
            assert_eq!(self.dev.pop_egress(), None, "a frame sent for a decoy");
            let rec = self.dev.pop_host().expect("the decoy's host record");
            assert_eq!(&rec[HEADER_LEN..], &decoy[..], "the decoy's record");
            assert_eq!(self.dev.pop_host(), None, "one record for the decoy");
        }
        let frame = carrier(pkt);
        self.dev.receive(IN_PORT, &frame);
        let mut sent = Vec::new();
        while let Some((port, f)) = self.dev.pop_egress() {
            sent.push(self.parse_sent(port, &f));
        }
        let host: Vec<Vec<u8>> = std::iter::from_fn(|| self.dev.pop_host()).collect();
        if host.is_empty() {
            self.stats.taken += 1;
            self.stats.frames += sent.len() as u64;
            return Ok(sent);
        }
        assert!(sent.is_empty(), "frames sent for a segment given back");
        assert_eq!(host.len(), 1, "one host record per segment");
        let (hdr, f) = host[0].split_at(HEADER_LEN);
        assert_eq!(
            (hdr[2], f),
            (reason::L4_OTHER, &frame[..]),
            "the record given back"
        );
        self.stats.given_back += 1;
        assert_eq!(
            u64::from(acp::given(&mut self.dev)),
            self.stats.given_back,
            "ACP_GIVEN: the segments given back (decoys are not offered)"
        );
        let s = &pkt.segment;
        let ends = [
            fence_bucket(pkt.src, u16::from_be_bytes([s[0], s[1]])),
            fence_bucket(pkt.dst, u16::from_be_bytes([s[2], s[3]])),
        ];
        self.given_in[ends[0]] += 1;
        if ends[1] != ends[0] {
            self.given_in[ends[1]] += 1;
        }
        for b in ends {
            assert_eq!(
                acp::given_in(&mut self.dev, b),
                self.given_in[b],
                "ACP_BUCKET_GIVEN[{b}]: the segments given back from or to an end in the bucket"
            );
        }
        Err(pkt.clone())
    }
}
