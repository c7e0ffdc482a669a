//! The ACP segment fuzz target: any bytes given to the segment parser (`acp::wire`) give a segment
//! or an error naming the fault, never a panic. A segment that parses is whole frames, re-encodes
//! (canonical options, unknown flag bits and options dropped) to bytes no longer than the input that
//! parse back to the same segment, and gets a checksum that verifies; it is then fed to a
//! connection engine (`acp::conn`) on a simulated clock, whose acks, timers and delivered frames must
//! stay within what the segment carried.

use acp::conn::{Config, Connection, Time};
use acp::wire::{self, Flags, Header, Segment};
use std::net::Ipv4Addr;
use std::time::Duration;

const A: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 1);
const B: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 2);
/// Our ISN in the simulated connection.
const ISS: u32 = 0x8000_0000;
/// Bound on segments one engine step may emit: its queued acks and a few control segments.
const MAX_OUTPUT: usize = 128;

/// Checks one input (panics on a violation).
pub fn run(data: &[u8]) {
    // The checksum functions take any bytes.
    wire::verify_checksum(A, B, data);
    let seg = match wire::parse_segment(data) {
        Ok(seg) => seg,
        Err(e) => {
            assert!(!e.to_string().is_empty(), "an error without a reason");
            return;
        }
    };
    let total: usize = seg.frames().map(|f| f.wire_len()).sum();
    assert_eq!(
        total,
        seg.payload.len(),
        "the frames do not tile the payload"
    );

    let mut again = Vec::new();
    wire::emit_header(&seg.header, &mut again);
    again.extend_from_slice(seg.payload);
    assert!(again.len() <= data.len(), "re-encoding grew the segment");
    assert_eq!(
        wire::parse_segment(&again),
        Ok(seg),
        "encode then parse changed the segment"
    );
    let mut sent = Vec::new();
    wire::emit_segment(&seg.header, seg.payload, A, B, &mut sent);
    assert!(wire::verify_checksum(A, B, &sent), "emitted checksum fails");

    engine(&seg);
}

/// A small receive buffer, so that frames beyond the window are dropped rather than held.
fn config() -> Config {
    Config {
        recv_buffer: 4096,
        send_buffer: 4096,
        ..Config::default()
    }
}

/// Feeds the segment to an engine that expects it: a listener for a SYN, otherwise a connection
/// established with a peer whose next byte is the segment's sequence number.
fn engine(seg: &Segment) {
    let h = seg.header;
    let mut now = Duration::ZERO;
    let mut conn = if h.flags.has(Flags::SYN) && !h.flags.has(Flags::ACK) {
        Connection::accept(config(), &h, ISS)
    } else {
        let mut c = Connection::connect(config(), h.dst_port, h.src_port, ISS);
        drain(&mut c, now);
        let synack = Header {
            src_port: h.src_port,
            dst_port: h.dst_port,
            seq: h.seq.wrapping_sub(1),
            ack: ISS.wrapping_add(1),
            flags: Flags::SYN | Flags::ACK,
            window: 0xffff,
            ..Header::default()
        };
        c.on_segment(
            now,
            &Segment {
                header: synack,
                payload: &[],
            },
        );
        assert!(c.is_established(), "the simulated handshake failed");
        drain(&mut c, now);
        c
    };
    conn.send_frame(b"request").ok();
    conn.on_segment(now, seg);
    let frames: Vec<&[u8]> = seg
        .frames()
        .filter(|f| !f.is_null())
        .map(|f| f.data)
        .collect();
    let mut delivered = 0;
    // Timers until the engine gives up or goes quiet (retransmissions, persist probes, TIME-WAIT).
    for _ in 0..32 {
        drain(&mut conn, now);
        while let Some(f) = conn.recv_frame() {
            assert!(
                frames.contains(&f.data.as_slice()),
                "delivered a frame the segment did not carry"
            );
            delivered += 1;
        }
        let Some(at) = conn.poll_at() else { break };
        now = now.max(at);
        conn.on_timer(now);
    }
    assert!(
        delivered <= frames.len(),
        "delivered {delivered} of {} frames",
        frames.len()
    );
}

/// Sends what the engine has to send; it must run dry.
fn drain(conn: &mut Connection, now: Time) {
    for _ in 0..MAX_OUTPUT {
        let Some(out) = conn.poll_transmit(now) else {
            return;
        };
        let total: usize = wire::parse_segment(&{
            let mut b = Vec::new();
            wire::emit_segment(&out.header, &out.payload, B, A, &mut b);
            b
        })
        .expect("the engine emits a segment that parses")
        .frames()
        .map(|f| f.wire_len())
        .sum();
        assert_eq!(total, out.payload.len());
    }
    panic!("more than {MAX_OUTPUT} segments from one step");
}
