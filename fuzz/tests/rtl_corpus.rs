//! The Verilated RTL sees the fuzzers' traffic: every packet-path corpus input, then valid but
//! strange frames (zero-length payloads, frames of exactly and one past `MAX_FRAME`, all 256 TCP
//! flag combinations, every VLAN priority and DEI bit, IP IDs, every TOS byte), run on the model
//! and on the RTL (both data widths, random ingress gaps and egress backpressure) and must come out
//! bit for bit the same, with the same counters and activity bits.

mod common;

use anypoint_fuzz::scenario::{decode, Step};
use anypoint_model::regs::reg;
use common::{cluster_tables, odd_frame, run_steps, Odd};
use std::path::Path;
use verilator_tests::rtl::Width;

fn corpus(width: Width) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/packet_path");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut frames, mut forwarded) = (0, 0);
    for (i, path) in files.iter().enumerate() {
        let steps = decode(&std::fs::read(path).unwrap());
        let (f, fwd) = run_steps(width, i as u64 + 1, &steps)
            .unwrap_or_else(|e| panic!("{} (DATA_WIDTH={}): {e}", path.display(), width.bits()));
        frames += f;
        forwarded += fwd;
    }
    eprintln!(
        "DATA_WIDTH={}: {} corpus inputs, {frames} frames ({forwarded} forwarded), RTL = model",
        width.bits(),
        files.len()
    );
    assert!(
        frames > 1000 && forwarded > 100,
        "{frames} frames, {forwarded} forwarded"
    );
}

#[test]
fn corpus_on_rtl_64() {
    corpus(Width::W64);
}

#[test]
fn corpus_on_rtl_512() {
    corpus(Width::W512);
}

fn strange_traffic() -> Vec<Step> {
    let mut steps = cluster_tables();
    let base = Odd {
        vlan: None,
        tos: 0,
        ip_id: 1,
        tcp_flags: Some(0x02),
        payload: 0,
        client: 1,
    };
    let mut frames = Vec::new();
    for flags in 0..=255u8 {
        frames.push(Odd {
            tcp_flags: Some(flags),
            client: flags,
            ..base
        });
    }
    for tci in (0..16u16)
        .map(|pd| pd << 12 | 0x123)
        .chain([0, 0xffff, 0x0fff, 1])
    {
        frames.push(Odd {
            vlan: Some(tci),
            ..base
        });
        frames.push(Odd {
            vlan: Some(tci),
            tcp_flags: None,
            payload: 12,
            ..base
        });
    }
    for tos in 0..=255u8 {
        frames.push(Odd { tos, ..base });
    }
    for ip_id in [0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff] {
        frames.push(Odd { ip_id, ..base });
        frames.push(Odd {
            ip_id,
            tcp_flags: None,
            ..base
        });
    }
    let odd = |o: Odd| Step::Receive {
        port: 0,
        frame: odd_frame(o),
    };
    steps.extend(frames.into_iter().map(odd));
    // Zero-length payloads (UDP and TCP, with and without a tag) are in the sets above; frames of
    // exactly MAX_FRAME bytes and one more, at the reset limit and at 1514.
    for (max, vlan) in [(9022usize, None), (9022, Some(5 << 13)), (1514, None)] {
        steps.push(Step::Write {
            offset: reg::MAX_FRAME,
            value: max as u32,
        });
        let hdr = 14 + if vlan.is_some() { 4 } else { 0 } + 20 + 20;
        for payload in [max - hdr, max - hdr + 1] {
            steps.push(odd(Odd {
                vlan,
                payload,
                tcp_flags: Some(0x10),
                ..base
            }));
        }
    }
    steps
}

#[test]
fn strange_traffic_on_rtl() {
    let steps = strange_traffic();
    for width in [Width::W64, Width::W512] {
        let (frames, forwarded) = run_steps(width, 7, &steps)
            .unwrap_or_else(|e| panic!("DATA_WIDTH={}: {e}", width.bits()));
        eprintln!(
            "DATA_WIDTH={}: {frames} strange frames ({forwarded} forwarded), RTL = model",
            width.bits()
        );
        // SYNs and datagrams to the VIP are forwarded: the rewrite path saw the odd fields.
        assert!(forwarded > 400, "only {forwarded} forwarded");
    }
}
