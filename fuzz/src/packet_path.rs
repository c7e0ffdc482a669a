//! The packet-path fuzz target: a scenario (`scenario`) runs on the model and every frame must be
//! accounted for exactly once, as seen from outside through the counters and the queues:
//!
//! - a frame received on a port adds 1 to that port's `rx_packets` and its length to `rx_bytes`;
//! - then exactly one of: one port's `tx_packets` +1 and one frame on egress (forwarded), one port's
//!   `host_packets` +1 and one punt record on the host queue, or one port's `drop_packets` +1 and
//!   nothing queued;
//! - the reason counters go up by one for a punt or drop, plus one for a learn or state record
//!   (header only, counted under its own reason), which only a forwarded frame may add to the host
//!   queue;
//! - a forwarded frame has the length it arrived with; a host record carries the frame unchanged.
//!
//! Host injects obey the same rule without the `rx` count (pipeline mode), or count one `tx` and
//! queue the frame as is (direct mode), or count nothing when the switch rejects the record.

use crate::scenario::{decode, Step, GEOMETRY};
use anypoint_model::hostrec::{HostHeader, HEADER_LEN, KIND_LEARN, KIND_PUNT, KIND_STATE};
use anypoint_model::regs::{ctr, reason, region};
use anypoint_model::Switch;

/// Port and reason counters read through the register interface.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Snapshot {
    /// `[port][counter]` in `ctr::port` order.
    ports: Vec<[u64; 6]>,
    reasons: Vec<u64>,
}

fn read64(sw: &mut Switch, offset: u32) -> u64 {
    let lo = sw.read32(region::CTR + offset);
    let hi = sw.read32(region::CTR + offset + 4);
    u64::from(hi) << 32 | u64::from(lo)
}

fn snapshot(sw: &mut Switch) -> Snapshot {
    let ports = (0..u32::from(GEOMETRY.ports))
        .map(|p| {
            let mut c = [0; 6];
            for (i, v) in c.iter_mut().enumerate() {
                *v = read64(sw, ctr::port::OFFSET + p * ctr::port::STRIDE + 8 * i as u32);
            }
            c
        })
        .collect();
    let reasons = (0..32)
        .map(|r| read64(sw, ctr::reason::OFFSET + r * ctr::reason::STRIDE))
        .collect();
    Snapshot { ports, reasons }
}

/// What one frame did, from the counter deltas and the queues.
struct Delta {
    /// Per port: packets counted in `tx`, `drop`, `host`.
    tx: Vec<u64>,
    drop: Vec<u64>,
    host: Vec<u64>,
    rx: Vec<(u64, u64)>,
    reasons: u64,
    /// Learn and state records counted.
    records: u64,
}

fn delta(before: &Snapshot, after: &Snapshot) -> Delta {
    use ctr::port::*;
    let d = |c: usize| -> Vec<u64> {
        before
            .ports
            .iter()
            .zip(&after.ports)
            .map(|(b, a)| a[c].wrapping_sub(b[c]))
            .collect()
    };
    let reasons = before
        .reasons
        .iter()
        .zip(&after.reasons)
        .map(|(b, a)| a.wrapping_sub(*b))
        .collect::<Vec<_>>();
    Delta {
        tx: d(TX_PACKETS),
        drop: d(DROP_PACKETS),
        host: d(HOST_PACKETS),
        rx: d(RX_PACKETS).into_iter().zip(d(RX_BYTES)).collect(),
        reasons: reasons.iter().sum(),
        records: [reason::LEARN, reason::TCP_FIN, reason::TCP_RST]
            .iter()
            .map(|r| reasons[usize::from(*r)])
            .sum(),
    }
}

/// The one port with a count of 1 when every other port has 0, or `None`.
fn single(counts: &[u64]) -> Option<Option<usize>> {
    match counts.iter().filter(|c| **c != 0).count() {
        0 => Some(None),
        1 => counts
            .iter()
            .position(|c| *c != 0)
            .filter(|p| counts[*p] == 1)
            .map(Some),
        _ => None,
    }
}

/// How a frame's accounting broke, with the frame for the report.
fn fail(step: &Step, why: String) -> ! {
    panic!("packet accounting broken: {why}\nstep: {step:02x?}")
}

/// Checks one frame's accounting; `rx_port` is its ingress port (`None`: host inject), `frame` the
/// frame without inject header, `direct` a direct-mode inject.
fn check(
    step: &Step,
    d: &Delta,
    rx_port: Option<u8>,
    frame: &[u8],
    direct: bool,
    egress: &[(u8, Vec<u8>)],
    host: &[Vec<u8>],
) {
    for (p, (packets, bytes)) in d.rx.iter().enumerate() {
        let want = match rx_port {
            Some(rx) if usize::from(rx) == p => (1, frame.len() as u64),
            _ => (0, 0),
        };
        if (*packets, *bytes) != want {
            fail(step, format!("port {p} rx counted {packets}/{bytes}"));
        }
    }
    let (Some(tx), Some(dropped), Some(punted)) = (single(&d.tx), single(&d.drop), single(&d.host))
    else {
        fail(step, "a frame counted more than once on a port".into())
    };
    let outcomes = [tx, dropped, punted].iter().filter(|o| o.is_some()).count();
    if outcomes != 1 {
        fail(step, format!("{outcomes} outcomes counted"));
    }
    if let Some(p) = dropped.or(punted) {
        if direct || rx_port.is_some_and(|rx| usize::from(rx) != p) {
            fail(step, format!("drop or punt counted on port {p}"));
        }
    }
    let records = host
        .iter()
        .filter(|h| h.len() == HEADER_LEN && (h[1] == KIND_LEARN || h[1] == KIND_STATE))
        .count() as u64;
    if records != d.records || records > 1 {
        fail(
            step,
            format!("{records} learn/state records, {} counted", d.records),
        );
    }
    let punt_records = host.len() as u64 - records;
    match (tx, egress) {
        (Some(p), [(out, bytes)]) if usize::from(*out) == p => {
            if bytes.len() != frame.len() || (direct && bytes != frame) {
                fail(step, format!("forwarded {} bytes", bytes.len()));
            }
        }
        (None, []) => {}
        _ => fail(step, format!("tx {tx:?} but {} frames out", egress.len())),
    }
    if punt_records != u64::from(punted.is_some()) {
        fail(step, format!("punt {punted:?} but {punt_records} records"));
    }
    if records > 0 && tx.is_none() {
        fail(
            step,
            "a learn or state record without a forwarded frame".into(),
        );
    }
    let reasons_want = u64::from(tx.is_none() && !direct) + records;
    if d.reasons != reasons_want {
        fail(step, format!("reason counters +{}", d.reasons));
    }
    for h in host.iter().filter(|h| h.get(1) == Some(&KIND_PUNT)) {
        let hdr = HostHeader::decode(h).unwrap_or_else(|| fail(step, "bad host header".into()));
        if &h[HEADER_LEN..] != frame || usize::from(hdr.frame_len) != frame.len() {
            fail(step, "host record does not carry the frame".into());
        }
    }
}

/// Runs fuzzer bytes through the model, checking every frame's accounting (panics on a violation).
/// Returns the number of frames checked.
pub fn run(data: &[u8]) -> usize {
    run_steps(&decode(data))
}

/// [`run`] on decoded steps.
pub fn run_steps(steps: &[Step]) -> usize {
    let mut sw = Switch::new(GEOMETRY);
    let mut frames = 0;
    for step in steps {
        if let Step::Write { offset, value } = *step {
            sw.write32(offset, value);
            continue;
        }
        let before = snapshot(&mut sw);
        let (rx_port, frame, direct, accepted) = match step {
            Step::Write { .. } => unreachable!("handled above"),
            Step::Receive { port, frame } => {
                sw.receive(*port, frame);
                (Some(*port), &frame[..], false, true)
            }
            Step::Inject { record } => {
                let accepted = sw.inject(record).is_ok();
                let direct = record.get(1) == Some(&1);
                (None, &record[4.min(record.len())..], direct, accepted)
            }
        };
        let egress: Vec<_> = std::iter::from_fn(|| sw.pop_egress()).collect();
        let host: Vec<_> = std::iter::from_fn(|| sw.pop_host()).collect();
        let after = snapshot(&mut sw);
        if accepted {
            check(
                step,
                &delta(&before, &after),
                rx_port,
                frame,
                direct,
                &egress,
                &host,
            );
            frames += 1;
        } else if !egress.is_empty() || !host.is_empty() || before != after {
            fail(step, "a rejected inject produced output or counts".into())
        }
    }
    frames
}
