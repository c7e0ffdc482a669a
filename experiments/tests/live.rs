//! Transfers of the experiments in real namespaces (root; each test prints SKIP otherwise): the
//! proxy forwards every frame once, to the server its policy names; a delayed path shows up in the
//! bytes it holds; a switch that cannot start gives a "not measured" reason instead of a panic.

use std::path::Path;

use acp::testing::can_run_live;
use anypoint_experiments::lab::{client_frame, Edge};
use anypoint_experiments::runs::{Transfer, FRAME_BYTES, PROXY_KEY, SERVERS};
use anypoint_model::frame_switch::Policy;
use anypoint_model::hash::key_hash;

fn transfer(edge: Edge, policy: Policy, rtt_ms: f64, frames: u32) -> Transfer {
    Transfer {
        edge,
        policy,
        rtt_ms,
        slow: None,
        frames,
    }
}

#[test]
fn the_proxy_sends_each_key_to_its_server() {
    if !can_run_live("the_proxy_sends_each_key_to_its_server") {
        return;
    }
    let frames = 3000;
    let policy = Policy::KeyHash { offset: 0, len: 4 };
    let run = transfer(Edge::Proxy, policy, 0.0, frames)
        .run(Path::new("unused"), Path::new("unused"))
        .expect("the proxy transfer runs");
    // Independent of the forwarder: the key hash of each frame's first 4 bytes, modulo the servers.
    let mut expect = vec![0u64; SERVERS];
    for n in 0..frames {
        let key = &client_frame(n, FRAME_BYTES)[..4];
        expect[(key_hash(&PROXY_KEY, key) % SERVERS as u64) as usize] += 1;
    }
    assert_eq!(run.frames_per_server, expect);
    assert!(run.seconds > 0.0);
    assert!(run.peak_bytes > 0 && run.peak_unacked.is_some());
    assert_eq!(run.ring_peak, None);
}

#[test]
fn a_delayed_path_leaves_bytes_unacknowledged_in_the_proxy() {
    if !can_run_live("a_delayed_path_leaves_bytes_unacknowledged_in_the_proxy") {
        return;
    }
    let run = transfer(Edge::Proxy, Policy::RoundRobin, 20.0, 4000)
        .run(Path::new("unused"), Path::new("unused"))
        .expect("the proxy transfer runs");
    assert_eq!(run.frames_per_server, [1000; 4]);
    // 20 ms of round trip at any rate this machine reaches holds tens of frames in flight.
    let unacked = run.peak_unacked.unwrap();
    assert!(unacked >= 20 * 1032, "{run:?}");
    assert!(run.peak_bytes >= unacked, "{run:?}");
    // The first round trips alone take 20 ms each.
    assert!(run.seconds > 0.04, "{run:?}");
}

#[test]
fn a_switch_that_does_not_start_is_not_measured() {
    if !can_run_live("a_switch_that_does_not_start_is_not_measured") {
        return;
    }
    let work = std::env::temp_dir().join(format!("anypoint-exp-test-{}", std::process::id()));
    let err = transfer(Edge::Switch, Policy::RoundRobin, 0.0, 100)
        .run(Path::new("/nonexistent/anypoint-ctl"), &work)
        .unwrap_err();
    let _ = std::fs::remove_dir_all(&work);
    assert!(err.contains("/nonexistent/anypoint-ctl"), "{err}");
}
