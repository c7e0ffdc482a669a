//! `acp-proxy`, the baseline the Anypoint paper measures the switch against: it terminates the
//! peer's ACP connection, opens one ACP connection to each server and forwards every peer frame to
//! the server that the switch's own per-frame ALRM picks (docs/frame-switching.md section 4). Unlike
//! the switch it holds payload: a frame stays in its buffers until the server acknowledges it, and
//! those bytes are what experiment 2 measures. Traffic is one way, peer to servers, as in the
//! experiments.

use std::io;
use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acp::{Buffered, Endpoint, Listener, Stream};
use anypoint_model::frame_switch::{FrameAlrm, LegView, Policy};
use anypoint_model::HashKey;

/// One server connection as the forwarder sees it.
pub trait Leg {
    /// Bytes the connection's send buffer takes now without waiting.
    fn room(&self) -> io::Result<usize>;
    /// Queues a frame, waiting while the send buffer is full.
    fn send(&self, frame: &[u8]) -> io::Result<()>;
}

impl Leg for Stream {
    fn room(&self) -> io::Result<usize> {
        self.send_room()
    }

    fn send(&self, frame: &[u8]) -> io::Result<()> {
        self.send_frame(frame)
    }
}

impl<L: Leg + ?Sized> Leg for Arc<L> {
    fn room(&self) -> io::Result<usize> {
        (**self).room()
    }

    fn send(&self, frame: &[u8]) -> io::Result<()> {
        (**self).send(frame)
    }
}

/// Per-frame forwarding by a frame-switch policy. Speed-sensitive steering becomes least-loaded:
/// a leg's open window is the room left in its send buffer, so the frame goes to the server whose
/// queue is shortest.
pub struct Forwarder {
    alrm: FrameAlrm,
    policy: Policy,
    views: Vec<LegView>,
    /// Frames sent to each leg.
    pub sent: Vec<u64>,
}

impl Forwarder {
    pub fn new(policy: Policy, key: HashKey, legs: usize) -> Forwarder {
        let view = LegView {
            live: true,
            open: 0,
        };
        Forwarder {
            alrm: policy.alrm(key),
            policy,
            views: vec![view; legs],
            sent: vec![0; legs],
        }
    }

    /// Sends `frame` to the leg the policy picks and returns its index.
    pub fn forward(&mut self, legs: &[impl Leg], frame: &[u8]) -> io::Result<usize> {
        if legs.len() != self.views.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} legs, forwarder built for {}",
                    legs.len(),
                    self.views.len()
                ),
            ));
        }
        // Only speed-sensitive steering reads the windows; the others would pay a lock per leg.
        if self.policy == Policy::SpeedSensitive {
            for (v, leg) in self.views.iter_mut().zip(legs) {
                v.open = u32::try_from(leg.room()?).unwrap_or(u32::MAX);
            }
        }
        let i = self
            .alrm
            .redirect(frame, &self.views)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no servers"))?;
        legs[i].send(frame)?;
        self.sent[i] += 1;
        Ok(i)
    }
}

/// The proxy's connections, for sampling the bytes it holds while it runs.
#[derive(Clone, Default)]
pub struct Gauge(Arc<Mutex<Vec<Arc<Stream>>>>);

impl Gauge {
    fn add(&self, s: Arc<Stream>) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(s);
    }

    /// Frame bytes held in all the proxy's connections now (a closed one holds nothing).
    pub fn held(&self) -> Buffered {
        let conns = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut sum = Buffered::default();
        for b in conns.iter().filter_map(|s| s.buffered().ok()) {
            sum.send += b.send;
            sum.unacked += b.unacked;
            sum.recv += b.recv;
        }
        sum
    }
}

/// What the proxy forwards where.
#[derive(Clone, Debug)]
pub struct Spec {
    pub policy: Policy,
    pub key: HashKey,
    pub servers: Vec<SocketAddrV4>,
    /// How long closing waits for the servers to take every frame and close.
    pub drain_limit: Duration,
}

/// Serves one peer connection taken from `listener`, connecting to the servers through `upstream`,
/// until the peer closes and every server took its frames; returns the frames sent to each server.
pub fn serve_one(
    listener: &Listener,
    upstream: &Endpoint,
    spec: &Spec,
    gauge: &Gauge,
) -> io::Result<Vec<u64>> {
    let peer = Arc::new(listener.accept()?);
    gauge.add(peer.clone());
    let mut legs = Vec::new();
    for s in &spec.servers {
        let leg = Arc::new(upstream.connect(*s)?);
        gauge.add(leg.clone());
        legs.push(leg);
    }
    let mut fwd = Forwarder::new(spec.policy, spec.key, legs.len());
    while let Some(frame) = peer.recv_frame()? {
        fwd.forward(&legs, &frame)?;
    }
    for leg in &legs {
        leg.close()?;
    }
    for leg in &legs {
        leg.wait_closed(spec.drain_limit)?;
    }
    peer.close()?;
    Ok(fwd.sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A leg that records frames and reports a fixed room.
    struct Fake {
        room: usize,
        got: RefCell<Vec<Vec<u8>>>,
    }

    impl Leg for Fake {
        fn room(&self) -> io::Result<usize> {
            Ok(self.room)
        }

        fn send(&self, frame: &[u8]) -> io::Result<()> {
            self.got.borrow_mut().push(frame.to_vec());
            Ok(())
        }
    }

    fn legs(rooms: &[usize]) -> Vec<Fake> {
        rooms
            .iter()
            .map(|&room| Fake {
                room,
                got: RefCell::new(Vec::new()),
            })
            .collect()
    }

    fn frame(key: u32, n: u32) -> Vec<u8> {
        let mut f = key.to_be_bytes().to_vec();
        f.extend(n.to_be_bytes());
        f
    }

    const KEY: HashKey = HashKey([1, 2, 3, 4]);

    #[test]
    fn round_robin_sends_each_frame_once_in_turn() {
        let l = legs(&[0, 0, 0]);
        let mut f = Forwarder::new(Policy::RoundRobin, KEY, 3);
        let picks: Vec<usize> = (0..7)
            .map(|n| f.forward(&l, &frame(0, n)).unwrap())
            .collect();
        assert_eq!(picks, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(f.sent, [3, 2, 2]);
        assert_eq!(*l[1].got.borrow(), [frame(0, 1), frame(0, 4)]);
    }

    #[test]
    fn key_hash_keeps_a_key_on_one_server_and_spreads_keys() {
        let l = legs(&[0; 4]);
        let mut f = Forwarder::new(Policy::KeyHash { offset: 0, len: 4 }, KEY, 4);
        for key in 0..64 {
            let first = f.forward(&l, &frame(key, 0)).unwrap();
            for n in 1..4 {
                assert_eq!(f.forward(&l, &frame(key, n)).unwrap(), first, "key {key}");
            }
        }
        assert!(f.sent.iter().all(|&n| n > 0), "{:?}", f.sent);
        assert_eq!(f.sent.iter().sum::<u64>(), 256);
    }

    #[test]
    fn least_loaded_picks_the_most_room_and_the_first_on_a_tie() {
        let l = legs(&[10, 5000, 70, 5000]);
        let mut f = Forwarder::new(Policy::SpeedSensitive, KEY, 4);
        assert_eq!(f.forward(&l, &frame(0, 0)).unwrap(), 1);
        let l = legs(&[10, 5, 7000, 70]);
        assert_eq!(f.forward(&l, &frame(0, 1)).unwrap(), 2);
    }

    #[test]
    fn a_leg_count_other_than_the_forwarders_is_refused() {
        let mut f = Forwarder::new(Policy::RoundRobin, KEY, 3);
        let err = f.forward(&legs(&[0, 0]), &frame(0, 0)).unwrap_err();
        assert!(err.to_string().contains("2 legs"), "{err}");
    }
}
