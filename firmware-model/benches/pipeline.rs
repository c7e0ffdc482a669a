//! Pipeline throughput: 64-byte TCP frames of 1024 connections that hit the connection table.

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::hint::black_box;

use anypoint_model::regs::table;
use anypoint_model::{Geometry, Outcome, StepOutput, Switch};
use common::*;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const CONNECTIONS: u16 = 1024;
const FRAME_LEN: usize = 64;

/// The lab at full size with one inbound connection entry per frame, and the frames.
fn setup() -> (Switch, Vec<Vec<u8>>) {
    let g = Geometry::default();
    let mut sw = lab_in(g);
    let mut used = HashSet::new();
    let mut frames = Vec::new();
    for i in 0..CONNECTIONS {
        let t = peer_tcp(10_000 + i);
        let index = (0..2)
            .flat_map(|bank| (0..4).map(move |way| (bank, way)))
            .map(|(bank, way)| conn_index(KEY, g.conn_buckets_log2, &t, bank, way))
            .find(|idx| used.insert(*idx))
            .expect("a free way in either bucket");
        let e = ConnEntry {
            tuple: t,
            service: SVC_TCP as u8,
            peer_port: PEER_PORT,
            outbound: false,
            member: i % 4,
        };
        write_entry(&mut sw, table::conn::ID, index, &e.words());
        let mut spec = FrameSpec::new(t);
        spec.payload = vec![0x42; FRAME_LEN - 14 - 20 - 20];
        frames.push(spec.build());
    }
    (sw, frames)
}

fn pipeline(c: &mut Criterion) {
    let (mut sw, frames) = setup();
    let mut out = StepOutput::default();
    for f in &frames {
        assert_eq!(f.len(), FRAME_LEN);
        sw.step(0, f, false, &mut out);
        assert_eq!(out.outcome, Some(Outcome::Forward { port: 1 }));
    }
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(frames.len() as u64));
    group.bench_function("tcp_64B_conn_hit", |b| {
        b.iter(|| {
            for f in &frames {
                sw.step(0, black_box(f), false, &mut out);
                black_box(&out);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
