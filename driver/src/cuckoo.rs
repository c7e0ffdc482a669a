//! Cuckoo placement of connection-table entries, computed on the host.
//!
//! The table has two banks of `2^B` buckets with [`WAYS`] ways each. A key may live in bank 0 bucket
//! `hash_lo & mask` or bank 1 bucket `hash_hi & mask`; the entry index is
//! `bank << (B + 2) | bucket << 2 | way` (docs/pipeline.md section 5). When both buckets are full, a
//! breadth-first search finds a short chain of entries that can each move to their other bucket.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::Hash;

/// Ways per bucket (the hardware's `CONN_WAYS`).
pub const WAYS: u32 = 4;
/// Longest chain of displaced entries: each move costs register writes, so chains are kept short.
/// It also bounds the search: at most 8 * (1 + 4 + 16 + 64 + 256) = 2728 slots are visited.
const MAX_CHAIN: usize = 5;

/// One relocation: copy the entry at `from` into `to` (the entry then lives in both until `from` is
/// overwritten by the next step).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Move {
    pub from: u32,
    pub to: u32,
}

/// Where an insert put a key, and the relocations to apply before writing it.
///
/// Applied in order, every `moves[i]` copies an entry into a slot that is free or whose entry was
/// already copied by `moves[i - 1]`, and the new entry goes to `index` last, which `moves.last()`
/// vacated: at no point does the datapath miss a key that was in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub index: u32,
    pub moves: Vec<Move>,
}

/// The host's view of where every key lives.
#[derive(Clone, Debug)]
pub struct CuckooTable<K> {
    buckets_log2: u32,
    /// Per entry index: the key and its 64-bit hash.
    slots: Vec<Option<(K, u64)>>,
    index: HashMap<K, u32>,
}

impl<K: Copy + Eq + Hash> CuckooTable<K> {
    pub fn new(buckets_log2: u8) -> Self {
        let buckets_log2 = u32::from(buckets_log2);
        CuckooTable {
            buckets_log2,
            slots: vec![None; (2 * WAYS as usize) << buckets_log2],
            index: HashMap::new(),
        }
    }

    /// Entries in both banks.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Entry index of `key`, if present.
    pub fn get(&self, key: &K) -> Option<u32> {
        self.index.get(key).copied()
    }

    /// First entry index of the bucket that `hash` selects in `bank`.
    pub fn bucket_base(&self, hash: u64, bank: u32) -> u32 {
        let mask = (1u64 << self.buckets_log2) - 1;
        let word = if bank == 0 { hash } else { hash >> 32 };
        bank << (self.buckets_log2 + 2) | ((word & mask) as u32) << 2
    }

    /// Places `key` (with its flow hash), relocating other keys if both its buckets are full.
    /// `None` when no slot is reachable within the search bounds (the table is effectively full).
    /// A key already present keeps its place.
    pub fn insert(&mut self, key: K, hash: u64) -> Option<Placement> {
        if let Some(index) = self.get(&key) {
            return Some(Placement {
                index,
                moves: Vec::new(),
            });
        }
        let placement = match self.direct_slot(hash) {
            Some(index) => Placement {
                index,
                moves: Vec::new(),
            },
            None => self.search(hash)?,
        };
        for m in &placement.moves {
            let entry = self.slots[m.from as usize].take();
            let (moved, _) = entry.expect("a move starts at an occupied slot");
            self.index.insert(moved, m.to);
            self.slots[m.to as usize] = entry;
        }
        self.slots[placement.index as usize] = Some((key, hash));
        self.index.insert(key, placement.index);
        Some(placement)
    }

    /// Forgets `key`; returns the entry index it occupied.
    pub fn remove(&mut self, key: &K) -> Option<u32> {
        let index = self.index.remove(key)?;
        self.slots[index as usize] = None;
        Some(index)
    }

    fn free_way(&self, base: u32) -> Option<u32> {
        (base..base + WAYS).find(|&i| self.slots[i as usize].is_none())
    }

    fn free_ways(&self, base: u32) -> usize {
        (base..base + WAYS)
            .filter(|&i| self.slots[i as usize].is_none())
            .count()
    }

    /// A free way in the emptier of the two candidate buckets (bank 0 on a tie): spreading the load
    /// keeps both choices open for later keys.
    fn direct_slot(&self, hash: u64) -> Option<u32> {
        let [b0, b1] = [self.bucket_base(hash, 0), self.bucket_base(hash, 1)];
        let base = if self.free_ways(b1) > self.free_ways(b0) {
            b1
        } else {
            b0
        };
        self.free_way(base)
    }

    /// Breadth-first search for the shortest chain ending in a free slot. Nodes are occupied slots;
    /// the successors of a slot are the ways of its key's other bucket.
    fn search(&self, hash: u64) -> Option<Placement> {
        // (slot, parent node, chain length)
        let mut nodes: Vec<(u32, Option<usize>, usize)> = Vec::new();
        let mut seen = HashSet::new();
        let mut queue = VecDeque::new();
        for bank in 0..2 {
            let base = self.bucket_base(hash, bank);
            for slot in base..base + WAYS {
                seen.insert(slot);
                queue.push_back(nodes.len());
                nodes.push((slot, None, 1));
            }
        }
        while let Some(node) = queue.pop_front() {
            let (slot, _, chain) = nodes[node];
            let (_, key_hash) = self.slots[slot as usize].expect("search visits occupied slots");
            let other = self.bucket_base(key_hash, 1 - (slot >> (self.buckets_log2 + 2)));
            if let Some(free) = self.free_way(other) {
                return Some(Self::unwind(&nodes, node, free));
            }
            if chain == MAX_CHAIN {
                continue;
            }
            for next in other..other + WAYS {
                if seen.insert(next) {
                    queue.push_back(nodes.len());
                    nodes.push((next, Some(node), chain + 1));
                }
            }
        }
        None
    }

    /// The moves along the chain from `last` back to its root, last displaced entry first.
    fn unwind(nodes: &[(u32, Option<usize>, usize)], last: usize, free: u32) -> Placement {
        let mut moves = Vec::new();
        let mut to = free;
        let mut node = Some(last);
        while let Some(n) = node {
            let (slot, parent, _) = nodes[n];
            moves.push(Move { from: slot, to });
            to = slot;
            node = parent;
        }
        Placement { index: to, moves }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rng::rng;
    use proptest::prelude::Rng;

    /// The two buckets a key may use, computed from the spec's formula.
    fn allowed(b: u32, hash: u64, index: u32) -> bool {
        let mask = (1u64 << b) - 1;
        let bank0 = ((hash & mask) as u32) << 2;
        let bank1 = (1 << (b + 2)) | (((hash >> 32) & mask) as u32) << 2;
        (bank0..bank0 + 4).contains(&index) || (bank1..bank1 + 4).contains(&index)
    }

    /// Inserts random keys until the first failure; returns the table and the hashes inserted.
    fn fill(b: u8, seed: u64) -> (CuckooTable<u64>, Vec<u64>) {
        let mut rng = rng(seed);
        let mut table = CuckooTable::new(b);
        let mut hashes = Vec::new();
        for _ in 0..=table.capacity() {
            let hash = rng.next_u64();
            if table.insert(hashes.len() as u64, hash).is_none() {
                return (table, hashes);
            }
            hashes.push(hash);
        }
        panic!("more keys placed than the table has entries");
    }

    #[test]
    fn load_factor_before_first_failed_insert() {
        for b in [10u8, 13] {
            let (table, hashes) = fill(b, u64::from(b));
            let capacity = 8 << b;
            assert_eq!(table.capacity(), capacity);
            let load = hashes.len() as f64 / capacity as f64;
            println!(
                "cuckoo B={b}: {} of {capacity} entries ({:.2} %) before the first failed insert",
                hashes.len(),
                100.0 * load
            );
            assert!(load >= 0.95, "B={b}: load factor {load:.4} < 0.95");
            for (key, &hash) in hashes.iter().enumerate() {
                let index = table
                    .get(&(key as u64))
                    .expect("every inserted key is found");
                assert!(allowed(u32::from(b), hash, index), "key {key} at {index}");
            }
        }
    }

    /// Replays every placement on a plain array of keys and checks that after every single copy each
    /// key inserted so far is still in one of its candidate buckets.
    #[test]
    fn relocations_never_hide_a_key() {
        let b = 6u8;
        let mut rng = rng(7);
        let mut table = CuckooTable::new(b);
        let mut hw: Vec<Option<u64>> = vec![None; 8 << b];
        let mut hashes: Vec<u64> = Vec::new();
        let mut relocated = 0;
        let visible = |hw: &[Option<u64>], hashes: &[u64]| {
            hashes.iter().enumerate().all(|(key, &hash)| {
                hw.iter()
                    .enumerate()
                    .any(|(i, k)| *k == Some(key as u64) && allowed(u32::from(b), hash, i as u32))
            })
        };
        while hashes.len() <= table.capacity() {
            let key = hashes.len() as u64;
            let hash = rng.next_u64();
            let Some(p) = table.insert(key, hash) else {
                break;
            };
            for m in &p.moves {
                assert!(hw[m.from as usize].is_some());
                hw[m.to as usize] = hw[m.from as usize];
                assert!(visible(&hw, &hashes));
                relocated += 1;
            }
            hashes.push(hash);
            hw[p.index as usize] = Some(key);
            assert!(visible(&hw, &hashes));
            assert!(p.moves.len() <= MAX_CHAIN);
        }
        assert!(
            hashes.len() < table.capacity(),
            "the fill ended with a failed insert"
        );
        assert!(relocated > 0, "the fill exercised relocation");
        // The replayed array holds exactly the table's placement.
        for (key, _) in hashes.iter().enumerate() {
            let index = table.get(&(key as u64)).unwrap();
            assert_eq!(hw[index as usize], Some(key as u64));
        }
    }

    #[test]
    fn remove_frees_the_slot_and_reinsert_reuses_it() {
        let mut table = CuckooTable::new(4);
        // hash_lo bucket 3, hash_hi bucket 5: bank 0 index 12..16 is the emptier-or-equal choice.
        let hash = 5u64 << 32 | 3;
        let p = table.insert(1u32, hash).unwrap();
        assert_eq!(
            p,
            Placement {
                index: 12,
                moves: vec![]
            }
        );
        assert_eq!(
            table.insert(1u32, hash).unwrap().index,
            12,
            "present key stays"
        );
        assert_eq!(table.len(), 1);
        // The second key goes to bank 1 (bucket 5 has 4 free ways, bucket 3 has 3).
        assert_eq!(table.insert(2u32, hash).unwrap().index, (1 << 6) | 5 << 2);
        assert_eq!(table.remove(&1), Some(12));
        assert_eq!(table.remove(&1), None);
        assert_eq!(table.get(&1), None);
        assert_eq!(table.insert(3u32, hash).unwrap().index, 12);
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn full_candidate_buckets_displace_a_key_to_its_other_bucket() {
        // B = 1, index = bank << 3 | bucket << 2 | way. Key 10 may use bank 0 bucket 0 or bank 1
        // bucket 1 (index 12..16); both are empty, so it takes index 0 (bank 0 on a tie).
        let mut table = CuckooTable::new(1);
        let movable = 1u64 << 32;
        assert_eq!(table.insert(10u32, movable).unwrap().index, 0);
        // Keys 0..7 may only use bank 0 bucket 0 and bank 1 bucket 0: they fill the rest of both.
        let same = 0u64;
        for k in 0..7 {
            assert!(table.insert(k, same).unwrap().moves.is_empty());
        }
        // Key 9 has the same two buckets, both full: key 10 moves to its other bucket first.
        let p = table.insert(9, same).unwrap();
        assert_eq!(p.moves, vec![Move { from: 0, to: 12 }]);
        assert_eq!(p.index, 0);
        assert_eq!(table.get(&10), Some(12));
        assert_eq!(table.get(&9), Some(0));
        // Now every key reachable from these buckets has nowhere to go.
        assert_eq!(table.insert(8, same), None);
        assert_eq!(table.len(), 9);
    }
}
