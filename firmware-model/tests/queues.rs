//! The queueing entry points: receive, inject (pipeline and direct), pop_egress, pop_host.

mod common;

use anypoint_model::hostrec::{KIND_LEARN, KIND_PUNT};
use anypoint_model::regs::{ctr, reason};
use anypoint_model::{HostHeader, InjectError, InjectHeader, InjectMode, Outcome};
use common::*;

fn inject_record(mode: InjectMode, port: u8, frame: &[u8]) -> Vec<u8> {
    [&InjectHeader { mode, port }.encode()[..], frame].concat()
}

#[test]
fn receive_queues_forwarded_frames_host_records_and_learn_records() {
    let mut sw = lab();
    let t = peer_tcp(7000);
    let mut syn = FrameSpec::new(t);
    (syn.syn, syn.ack) = (true, false);
    let syn = syn.build();
    let arp = [
        vec![0xff; 6],
        mac(1, 1).to_vec(),
        vec![0x08, 0x06],
        vec![0; 28],
    ]
    .concat();

    sw.receive(0, &syn);
    sw.receive(1, &arp);
    sw.receive(0, &syn[..3]);

    let mut expected = anypoint_model::StepOutput::default();
    lab().step(0, &syn, false, &mut expected);
    assert_eq!(sw.pop_egress(), Some((1, expected.bytes)));
    assert_eq!(sw.pop_egress(), None);

    let learn = sw.pop_host().unwrap();
    assert_eq!(learn.len(), 32);
    let h = HostHeader::decode(&learn).unwrap();
    assert_eq!(
        (h.kind, h.tuple, h.member),
        (KIND_LEARN, t, maglev_member(&t))
    );
    let punt = sw.pop_host().unwrap();
    let h = HostHeader::decode(&punt).unwrap();
    assert_eq!((h.kind, h.reason, h.in_port), (KIND_PUNT, reason::ARP, 1));
    assert_eq!(&punt[32..], &arp[..]);
    assert_eq!(sw.pop_host(), None);
}

#[test]
fn a_frame_on_a_port_the_switch_lacks_is_ignored() {
    let mut sw = lab();
    let frame = FrameSpec::new(peer_tcp(7100)).build();
    let mut out = anypoint_model::StepOutput::default();
    sw.step(4, &frame, false, &mut out);
    assert_eq!((out.outcome, out.bytes.len(), out.record), (None, 0, None));
    sw.receive(200, &frame);
    assert_eq!((sw.pop_egress(), sw.pop_host()), (None, None));
    for p in 0..8 {
        assert_eq!(port_ctr(&mut sw, p, ctr::port::RX_PACKETS), 0);
    }
}

#[test]
fn step_output_is_reset_between_calls() {
    let mut sw = lab();
    let mut spec = FrameSpec::new(peer_tcp(7200));
    (spec.syn, spec.ack) = (true, false);
    let mut out = anypoint_model::StepOutput::default();
    sw.step(0, &spec.build(), false, &mut out);
    assert!(out.record.is_some());
    sw.step(0, &[0; 4], false, &mut out);
    assert_eq!(
        out.outcome,
        Some(Outcome::Drop {
            reason: reason::RUNT
        })
    );
    assert!(out.bytes.is_empty() && out.record.is_none());
}

#[test]
fn pipeline_inject_runs_the_step_without_counting_rx() {
    let mut sw = lab();
    let t = peer_tcp(7300);
    let frame = FrameSpec::new(t).build();
    sw.inject(&inject_record(InjectMode::Pipeline, 2, &frame))
        .unwrap();
    let (port, bytes) = sw.pop_egress().unwrap();
    assert_eq!(port, 1);
    assert_eq!(
        &bytes[30..34],
        &member_addr(maglev_member(&t)).to_be_bytes()
    );
    assert_eq!(port_ctr(&mut sw, 2, ctr::port::RX_PACKETS), 0);
    assert_eq!(port_ctr(&mut sw, 1, ctr::port::TX_PACKETS), 1);

    // A punt names the inject port as in_port and counts there.
    sw.inject(&inject_record(InjectMode::Pipeline, 3, &frame[..20]))
        .unwrap();
    assert_eq!(sw.pop_host(), None);
    assert_eq!(port_ctr(&mut sw, 3, ctr::port::DROP_PACKETS), 1);
    assert_eq!(port_ctr(&mut sw, 3, ctr::port::RX_PACKETS), 0);
}

#[test]
fn direct_inject_leaves_unchanged_and_counts_tx_only() {
    let mut sw = lab();
    let frame = b"anything at all, even a runt".to_vec();
    sw.inject(&inject_record(InjectMode::Direct, 3, &frame))
        .unwrap();
    assert_eq!(sw.pop_egress(), Some((3, frame.clone())));
    assert_eq!(port_ctr(&mut sw, 3, ctr::port::TX_PACKETS), 1);
    assert_eq!(
        port_ctr(&mut sw, 3, ctr::port::TX_BYTES),
        frame.len() as u64
    );
    assert_eq!(port_ctr(&mut sw, 3, ctr::port::RX_PACKETS), 0);
    assert_eq!(reason_ctr(&mut sw, reason::RUNT), 0);
}

#[test]
fn inject_errors() {
    let mut sw = lab();
    assert_eq!(sw.inject(&[1, 0, 0]), Err(InjectError::Short));
    assert_eq!(sw.inject(&[2, 0, 0, 0]), Err(InjectError::Version(2)));
    assert_eq!(sw.inject(&[1, 2, 0, 0]), Err(InjectError::Mode(2)));
    assert_eq!(sw.inject(&[1, 1, 4, 0, 0xaa]), Err(InjectError::Port(4)));
    assert_eq!(sw.inject(&[1, 0, 4, 0, 0xaa]), Err(InjectError::Port(4)));
    assert_eq!((sw.pop_egress(), sw.pop_host()), (None, None));
    // An empty frame after a good header is a frame (a runt).
    assert_eq!(sw.inject(&[1, 0, 0, 0]), Ok(()));
    assert_eq!(reason_ctr(&mut sw, reason::RUNT), 1);
}
