//! Per-frame ALRMs of frame-level switching (docs/frame-switching.md section 4): which member of a
//! connection's active set takes the first copy of each peer frame. Retransmissions never come back
//! here (the frame ring remembers the decision), so a policy only has to be deterministic for the
//! frames it sees.

use crate::hash::{key_hash, HashKey, MAX_KEY_LEN};

/// Most members in a connection's active set (the ring's member field is 3 bits).
pub const MAX_ACTIVE: usize = 8;

/// What a policy sees of one member of the active set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegView {
    /// Removed members take no frames.
    pub live: bool,
    /// Bytes the member's advertised window still has room for.
    pub open: u32,
}

/// What `add_conn` sees of a live member: its id and the connections the switch holds with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberLoad {
    pub id: u16,
    pub conns: u32,
}

/// A service's per-frame policy (the config's `policy` of a `proto = "acp"` service).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Hash of `len` (1 to 16) bytes at `offset` in the frame data: one key, one member. A removed
    /// member's keys move to the live members; other keys stay.
    KeyHash { offset: u16, len: u8 },
    /// Live members in turn, frame by frame.
    RoundRobin,
    /// The member with the most open window; the peer is offered the sum of the members' windows.
    SpeedSensitive,
}

impl Policy {
    /// Whether the peer may be offered the sum of member windows: only when every frame goes to a
    /// member whose window takes it.
    pub fn offers_sum(self) -> bool {
        self == Policy::SpeedSensitive
    }

    /// The per-connection ALRM (one per connection, as in the paper).
    pub fn alrm(self, key: HashKey) -> FrameAlrm {
        FrameAlrm {
            policy: self,
            key,
            turn: 0,
        }
    }
}

/// The ALRM of one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameAlrm {
    policy: Policy,
    key: HashKey,
    /// Round robin: frames redirected so far.
    turn: u32,
}

impl FrameAlrm {
    /// The ALRM with `turn` frames redirected (a device's copy of it, read back).
    pub fn resume(policy: Policy, key: HashKey, turn: u32) -> FrameAlrm {
        FrameAlrm { policy, key, turn }
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    pub fn key(&self) -> HashKey {
        self.key
    }

    pub fn turn(&self) -> u32 {
        self.turn
    }

    /// The paper's `add_conn`: the active set of a new connection, `size` (1 to [`MAX_ACTIVE`]) of
    /// the `live` members (in id order) or all of them when fewer, in leg order. `turn` counts the
    /// connections opened before. Key hash takes the same set, in id order, for every connection
    /// while all live members fit, so a key goes to the same member on every connection; more
    /// members than fit, and round robin, take `size` in id order from a start that moves on by one
    /// per connection; speed-sensitive takes those holding the fewest connections (ties from the
    /// moving start), so a member added later catches up.
    pub fn add_conn(&mut self, live: &[MemberLoad], size: usize, turn: usize) -> Vec<u16> {
        let n = live.len();
        let size = size.clamp(1, MAX_ACTIVE).min(n);
        let start = match self.policy {
            Policy::KeyHash { .. } if size == n => 0,
            _ => turn % n.max(1),
        };
        let mut order: Vec<&MemberLoad> = (0..n).map(|k| &live[(start + k) % n]).collect();
        if self.policy == Policy::SpeedSensitive {
            order.sort_by_key(|m| m.conns);
        }
        order[..size].iter().map(|m| m.id).collect()
    }

    /// The leg (index into `legs`) for the first copy of a frame whose data is `data`; `None` when
    /// no leg is live.
    pub fn redirect(&mut self, data: &[u8], legs: &[LegView]) -> Option<usize> {
        let live: Vec<usize> = (0..legs.len()).filter(|&i| legs[i].live).collect();
        if live.is_empty() {
            return None;
        }
        Some(match self.policy {
            Policy::KeyHash { offset, len } => {
                let start = (offset as usize).min(data.len());
                let end = (start + (len as usize).min(MAX_KEY_LEN)).min(data.len());
                let h = key_hash(&self.key, &data[start..end]);
                // Over the whole set, so keys of live members stay put when one is removed; only
                // the removed member's keys hash again, over the live ones.
                let first = (h % legs.len() as u64) as usize;
                if legs[first].live {
                    first
                } else {
                    live[((h >> 32) % live.len() as u64) as usize]
                }
            }
            Policy::RoundRobin => {
                self.turn = self.turn.wrapping_add(1);
                live[(self.turn.wrapping_sub(1) % live.len() as u32) as usize]
            }
            // Most open window, lowest index on a tie.
            Policy::SpeedSensitive => *live
                .iter()
                .max_by(|&&a, &&b| legs[a].open.cmp(&legs[b].open).then(b.cmp(&a)))
                .expect("live is not empty"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn legs(open: &[u32]) -> Vec<LegView> {
        open.iter()
            .map(|&o| LegView {
                live: true,
                open: o,
            })
            .collect()
    }

    #[test]
    fn key_hash_is_sticky_per_key_and_skips_dead_legs() {
        let mut a = Policy::KeyHash { offset: 4, len: 4 }.alrm(HashKey([1, 2, 3, 4]));
        let l = legs(&[0, 0, 0]);
        let mut seen = [0usize; 3];
        for k in 0u32..300 {
            let mut data = vec![0xee; 4];
            data.extend_from_slice(&k.to_be_bytes());
            let m = a.redirect(&data, &l).unwrap();
            // Only the key bytes count: other bytes do not move the frame.
            data[0] = 0x11;
            assert_eq!(a.redirect(&data, &l), Some(m));
            seen[m] += 1;
        }
        assert!(seen.iter().all(|&n| n > 60), "{seen:?}");
        let mut dead = l.clone();
        dead[1].live = false;
        for k in 0u32..100 {
            let data = [0, 0, 0, 0, 0, 0, 0, k as u8];
            let before = a.redirect(&data, &l).unwrap();
            let after = a.redirect(&data, &dead).unwrap();
            assert_ne!(after, 1);
            if before != 1 {
                assert_eq!(after, before, "a live member's key moved");
            }
        }
    }

    fn loads(conns: &[u32]) -> Vec<MemberLoad> {
        conns
            .iter()
            .enumerate()
            .map(|(i, &c)| MemberLoad {
                id: 10 + i as u16,
                conns: c,
            })
            .collect()
    }

    #[test]
    fn add_conn_picks_the_active_set_by_policy() {
        let key = HashKey::default();
        let kh = Policy::KeyHash { offset: 0, len: 4 };
        // Key hash: one set, in id order, for every connection while the members fit.
        for turn in 0..5 {
            assert_eq!(
                kh.alrm(key).add_conn(&loads(&[0; 3]), 8, turn),
                [10, 11, 12]
            );
        }
        // More than fit: a window moving by one member per connection.
        assert_eq!(kh.alrm(key).add_conn(&loads(&[0; 4]), 2, 3), [13, 10]);
        let rr = Policy::RoundRobin;
        assert_eq!(rr.alrm(key).add_conn(&loads(&[0; 3]), 8, 4), [11, 12, 10]);
        assert_eq!(rr.alrm(key).add_conn(&loads(&[0; 3]), 1, 2), [12]);
        // Speed-sensitive: the fewest connections first, ties from the moving start.
        let ss = Policy::SpeedSensitive;
        assert_eq!(ss.alrm(key).add_conn(&loads(&[5, 0, 2, 0]), 2, 0), [11, 13]);
        assert_eq!(
            ss.alrm(key).add_conn(&loads(&[5, 0, 2, 0]), 3, 2),
            [13, 11, 12]
        );
        // At least one member, at most MAX_ACTIVE, none without live members.
        assert_eq!(rr.alrm(key).add_conn(&loads(&[0; 3]), 0, 0), [10]);
        assert_eq!(
            rr.alrm(key).add_conn(&loads(&[0; 12]), 99, 0).len(),
            MAX_ACTIVE
        );
        assert!(ss.alrm(key).add_conn(&[], 8, 1).is_empty());
    }

    #[test]
    fn round_robin_cycles_over_live_legs() {
        let mut a = Policy::RoundRobin.alrm(HashKey::default());
        let mut l = legs(&[0, 0, 0]);
        let got: Vec<_> = (0..6).map(|_| a.redirect(b"x", &l).unwrap()).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2]);
        l[0].live = false;
        let got: Vec<_> = (0..4).map(|_| a.redirect(b"x", &l).unwrap()).collect();
        assert!(got.iter().all(|&i| i != 0));
        assert_eq!(a.redirect(b"x", &[]), None);
    }

    #[test]
    fn speed_sensitive_takes_the_most_open_window() {
        let mut a = Policy::SpeedSensitive.alrm(HashKey::default());
        assert_eq!(a.redirect(b"", &legs(&[10, 30, 30])), Some(1));
        let mut l = legs(&[10, 30, 5]);
        l[1].live = false;
        assert_eq!(a.redirect(b"", &l), Some(0));
    }
}
