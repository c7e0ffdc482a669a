//! Weighted Maglev-style filling of a power-of-two indirection table, with minimal disruption.
//!
//! Every member has its own permutation of the slots (Maglev: `offset + j * skip`, `skip` odd so it
//! visits every slot of a power-of-two table) and a quota of slots proportional to its weight. Members
//! take turns claiming their next preferred free slot until each holds its quota. Starting from the
//! current table instead of an empty one, and freeing only the slots of members gone or over quota,
//! keeps every other flow on its member when the membership changes.

use anypoint_model::hash::siphash13;
use anypoint_model::HashKey;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::net::Ipv4Addr;

/// A member as the fill sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Member {
    pub id: u16,
    /// Share of the slots; 0 gets none.
    pub weight: u32,
    /// Seeds the member's slot permutation ([`member_hash`]).
    pub hash: u64,
}

/// Fixed rather than the device's flow-hash key so that a member's slot preferences, and with them
/// the table, do not change when the flow-hash key does.
const MEMBER_HASH_KEY: HashKey = HashKey([0x6e79_7061, 0x746e_696f, 0x6c67_616d, 0x0000_7665]);

/// The permutation seed of the member at `addr:port`.
pub fn member_hash(addr: Ipv4Addr, port: u16) -> u64 {
    let mut msg = [0u8; 24];
    msg[..4].copy_from_slice(&addr.octets());
    msg[4..6].copy_from_slice(&port.to_be_bytes());
    siphash13(&MEMBER_HASH_KEY, &msg)
}

/// Brings `table` (length a power of two) to the members' weighted shares while moving as few slots
/// as possible: slots of members that are gone or over quota are freed (those the member prefers
/// least), then members below quota take turns claiming their next preferred free slot. From an
/// empty table this is plain weighted Maglev.
pub fn rebalance(table: &mut [Option<u16>], members: &[Member]) {
    assert!(table.len().is_power_of_two(), "table size must be 2^k");
    let mut members = members.to_vec();
    members.sort_by_key(|m| m.id);
    let quota = quotas(table.len(), &members);
    let prefs: Vec<Permutation> = members
        .iter()
        .map(|m| Permutation::new(m.hash, table.len()))
        .collect();

    let mut held: Vec<Vec<usize>> = vec![Vec::new(); members.len()];
    for (slot, owner) in table.iter_mut().enumerate() {
        match owner.and_then(|id| members.binary_search_by_key(&id, |m| m.id).ok()) {
            Some(i) => held[i].push(slot),
            None => *owner = None,
        }
    }
    for (i, slots) in held.iter_mut().enumerate() {
        if slots.len() > quota[i] {
            slots.sort_by_key(|&s| prefs[i].rank(s));
            for &s in &slots[quota[i]..] {
                table[s] = None;
            }
            slots.truncate(quota[i]);
        }
    }

    let mut next = vec![0usize; members.len()];
    let mut hungry: Vec<usize> = (0..members.len())
        .filter(|&i| held[i].len() < quota[i])
        .collect();
    while !hungry.is_empty() {
        hungry.retain(|&i| {
            let slot = loop {
                let s = prefs[i].slot(next[i]);
                next[i] += 1;
                if table[s].is_none() {
                    break s;
                }
            };
            table[slot] = Some(members[i].id);
            held[i].push(slot);
            held[i].len() < quota[i]
        });
    }
}

/// Slots per member (same order as `members`), summing to `slots` unless every weight is 0.
///
/// Highest averages (Sainte-Lague): each slot in turn goes to the member with the largest
/// `weight / (2 * held + 1)`, ties to the lowest id. Unlike largest-remainder rounding this is
/// monotone: removing or adding a member never lowers or raises, respectively, anyone else's
/// quota, which minimal disruption relies on.
fn quotas(slots: usize, members: &[Member]) -> Vec<usize> {
    let mut quota = vec![0; members.len()];
    let mut heap: BinaryHeap<Claim> = members
        .iter()
        .enumerate()
        .filter(|(_, m)| m.weight > 0)
        .map(|(index, m)| Claim {
            weight: u64::from(m.weight),
            held: 0,
            id: m.id,
            index,
        })
        .collect();
    for _ in 0..slots {
        let Some(mut top) = heap.pop() else { break };
        quota[top.index] += 1;
        top.held += 1;
        heap.push(top);
    }
    quota
}

/// A member's claim on the next slot, ordered by `weight / (2 * held + 1)` then lowest id.
#[derive(PartialEq, Eq)]
struct Claim {
    weight: u64,
    held: u64,
    id: u16,
    index: usize,
}

impl Ord for Claim {
    fn cmp(&self, other: &Self) -> Ordering {
        // weight_a / (2 held_a + 1) vs weight_b / (2 held_b + 1), without division.
        (self.weight * (2 * other.held + 1))
            .cmp(&(other.weight * (2 * self.held + 1)))
            .then(other.id.cmp(&self.id))
    }
}

impl PartialOrd for Claim {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Maglev slot permutation `slot(j) = (offset + j * skip) mod M` of a `M = 2^k` table.
struct Permutation {
    offset: usize,
    skip: usize,
    /// `skip^-1 mod M`, to find a slot's position in the permutation.
    inverse: usize,
    mask: usize,
}

impl Permutation {
    fn new(hash: u64, size: usize) -> Self {
        let mask = size - 1;
        let skip = (hash >> 32) as usize & mask | 1;
        Permutation {
            offset: hash as u32 as usize & mask,
            skip,
            inverse: odd_inverse(skip as u64) as usize & mask,
            mask,
        }
    }

    /// The member's `j`-th preferred slot.
    fn slot(&self, j: usize) -> usize {
        self.offset.wrapping_add(j.wrapping_mul(self.skip)) & self.mask
    }

    /// Position of `slot` in the member's preference order (0 = most preferred).
    fn rank(&self, slot: usize) -> usize {
        slot.wrapping_sub(self.offset).wrapping_mul(self.inverse) & self.mask
    }
}

/// Multiplicative inverse of an odd number modulo 2^64 (Newton's iteration doubles the correct low
/// bits each step, starting from 3).
fn odd_inverse(a: u64) -> u64 {
    let mut x = a;
    for _ in 0..5 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::rng;
    use proptest::prelude::Rng;

    fn members(weights: &[u32], seed: u64) -> Vec<Member> {
        let mut rng = rng(seed);
        weights
            .iter()
            .enumerate()
            .map(|(i, &weight)| Member {
                id: 10 + i as u16,
                weight,
                hash: rng.next_u64(),
            })
            .collect()
    }

    fn filled(size: usize, members: &[Member]) -> Vec<Option<u16>> {
        let mut table = vec![None; size];
        rebalance(&mut table, members);
        table
    }

    fn count(table: &[Option<u16>], id: u16) -> usize {
        table.iter().filter(|&&s| s == Some(id)).count()
    }

    #[test]
    fn permutation_visits_every_slot_and_rank_inverts_it() {
        let p = Permutation::new(0x1234_5678_9abc_def0, 64);
        let mut seen = [false; 64];
        for j in 0..64 {
            let s = p.slot(j);
            assert!(!seen[s]);
            seen[s] = true;
            assert_eq!(p.rank(s), j);
        }
        assert_eq!(odd_inverse(12345).wrapping_mul(12345), 1);
    }

    #[test]
    fn exact_shares_when_weights_divide_the_table() {
        let m = members(&[1, 3], 1);
        let table = filled(4096, &m);
        assert_eq!(count(&table, 10), 1024);
        assert_eq!(count(&table, 11), 3072);
        let m = members(&[5, 5, 5, 5, 0], 2);
        let table = filled(4096, &m);
        for id in 10..14 {
            assert_eq!(count(&table, id), 1024);
        }
        assert_eq!(count(&table, 14), 0, "weight 0 gets no slot");
    }

    #[test]
    fn no_weight_empties_the_table() {
        let mut table = filled(256, &members(&[2, 1], 3));
        rebalance(&mut table, &members(&[0, 0], 3));
        assert!(table.iter().all(|s| s.is_none()));
    }

    #[test]
    fn flows_spread_within_5_percent_of_the_weights() {
        let weights = [1u32, 2, 3, 4, 7];
        let m = members(&weights, 4);
        let table = filled(4096, &m);
        let mut flows = [0u64; 5];
        let mut rng = rng(5);
        let n = 100_000;
        for _ in 0..n {
            // The hardware picks slot (hash_hi >> 16) & mask.
            let slot = (rng.next_u64() >> 48) as usize & 4095;
            flows[usize::from(table[slot].unwrap() - 10)] += 1;
        }
        let total: u32 = weights.iter().sum();
        for (i, &w) in weights.iter().enumerate() {
            let expected = n as f64 * f64::from(w) / f64::from(total);
            let error = (flows[i] as f64 - expected).abs() / expected;
            assert!(
                error <= 0.05,
                "member {i}: {} flows, expected {expected:.0}",
                flows[i]
            );
        }
    }

    #[test]
    fn removing_a_member_moves_only_its_flows() {
        let all = members(&[3, 5, 7, 11, 13], 6);
        for gone in 0..all.len() {
            let before = filled(1024, &all);
            let mut after = before.clone();
            let rest: Vec<Member> = all
                .iter()
                .copied()
                .filter(|m| m.id != all[gone].id)
                .collect();
            rebalance(&mut after, &rest);
            let mut moved = 0;
            for (b, a) in before.iter().zip(&after) {
                assert!(a.is_some() && *a != Some(all[gone].id));
                if *b == Some(all[gone].id) {
                    moved += 1;
                } else {
                    assert_eq!(a, b, "a flow not on the removed member moved");
                }
            }
            assert_eq!(moved, count(&before, all[gone].id));
        }
    }

    #[test]
    fn adding_a_member_moves_flows_only_to_it() {
        let all = members(&[3, 5, 7, 11, 13], 7);
        for added in 0..all.len() {
            let rest: Vec<Member> = all
                .iter()
                .copied()
                .filter(|m| m.id != all[added].id)
                .collect();
            let before = filled(1024, &rest);
            let mut after = before.clone();
            rebalance(&mut after, &all);
            for (b, a) in before.iter().zip(&after) {
                assert!(
                    a == b || *a == Some(all[added].id),
                    "a flow moved to an old member"
                );
            }
            // It gets its full share (Sainte-Lague: 1024 * w / 39, rounded).
            let share = 1024.0 * f64::from(all[added].weight) / 39.0;
            assert!((count(&after, all[added].id) as f64 - share).abs() <= 1.0);
        }
    }

    #[test]
    fn raising_a_weight_moves_flows_only_to_that_member() {
        let before_w = members(&[4, 4, 4], 8);
        let mut after_w = before_w.clone();
        after_w[1].weight = 8;
        let before = filled(4096, &before_w);
        let mut after = before.clone();
        rebalance(&mut after, &after_w);
        for (b, a) in before.iter().zip(&after) {
            assert!(a == b || *a == Some(11));
        }
        assert_eq!(count(&after, 11), 2048);
        assert_eq!(count(&after, 10), 1024);
    }

    #[test]
    fn fill_is_deterministic_and_independent_of_member_order() {
        let m = members(&[2, 9, 4, 1], 9);
        let mut reversed = m.clone();
        reversed.reverse();
        assert_eq!(filled(2048, &m), filled(2048, &reversed));
    }
}
