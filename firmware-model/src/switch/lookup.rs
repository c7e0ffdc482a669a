//! Table lookups of section 3 and 5: connection (cuckoo, two banks), service and member match.

use super::tables::{Tables, CONN_WAYS};
use crate::regs::{member_state, table};
use crate::FiveTuple;

impl Tables {
    /// The connection entry whose key is `t`, marking it active. Candidates are the ways of bank 0
    /// bucket `hash_lo & mask` and bank 1 bucket `hash_hi & mask`, in index order, so the lowest
    /// matching index wins.
    pub fn lookup_conn(&mut self, t: &FiveTuple, hash: u64) -> Option<usize> {
        use table::conn::*;
        let b = self.conn_buckets_log2;
        let mask = (1u32 << b) - 1;
        let ways = CONN_WAYS as usize;
        let matches = |e: &[u32; WORDS]| {
            VALID.get(e) != 0
                && SRC_IP.get(e) == t.src_ip
                && DST_IP.get(e) == t.dst_ip
                && SRC_PORT.get(e) == u32::from(t.src_port)
                && DST_PORT.get(e) == u32::from(t.dst_port)
                && PROTO.get(e) == u32::from(t.proto)
        };
        let buckets = [hash as u32 & mask, (hash >> 32) as u32 & mask];
        let hit = (0..2).find_map(|bank| {
            let first = bank << (b + 2) | (buckets[bank] as usize) << 2;
            (first..first + ways).find(|&i| matches(&self.conns[i]))
        })?;
        self.activity[hit / 32] |= 1 << (hit % 32);
        Some(hit)
    }

    /// The lowest-numbered valid service for `t`'s destination.
    pub fn match_service(&self, t: &FiveTuple) -> Option<u16> {
        use table::service::*;
        let i = self.services.iter().position(|e| {
            VALID.get(e) != 0
                && VIP.get(e) == t.dst_ip
                && PROTO.get(e) == u32::from(t.proto)
                && PORT.get(e) == u32::from(t.dst_port)
        })?;
        Some(i as u16)
    }

    /// The lowest-numbered member in use that `t` comes from, in a service of `t`'s protocol.
    pub fn match_member(&self, t: &FiveTuple) -> Option<u16> {
        use table::member::*;
        let i = self.members.iter().position(|e| {
            STATE.get(e) != u32::from(member_state::UNUSED)
                && ADDR.get(e) == t.src_ip
                && PORT.get(e) == u32::from(t.src_port)
                && self.service(SERVICE.get(e) as u16).proto == t.proto
        })?;
        Some(i as u16)
    }
}
