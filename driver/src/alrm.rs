//! ALRM routing plugins after the Anypoint paper's upcalls.
//!
//! One plugin per service. `maglev` and `key-hash` only fill the hardware indirection table (the
//! pipeline then picks members by itself); `round-robin` and `least-conn` are hardware `host`
//! policies whose [`Alrm::redirect`] picks the member of each new connection punted to the host.

use crate::maglev::{self, Member};
use anypoint_model::FiveTuple;
use std::collections::{HashMap, VecDeque};

/// The paper's upcalls, plus the indirection-table fill. Upcalls must be deterministic, bounded in
/// cost and non-blocking.
pub trait Alrm: Send {
    /// Config name of the policy.
    fn name(&self) -> &'static str;
    /// The service was created.
    fn init(&mut self) {}
    /// The service is going away: drop all state.
    fn uninit(&mut self) {}
    /// Picks the member for a frame of a connection without a table entry; `None` when no member
    /// takes new connections. A frame of a connection seen before and not yet retired (a
    /// retransmission) gets the same member.
    fn redirect(&mut self, conn: &FiveTuple, frame: &[u8], members: &[Member]) -> Option<u16>;
    /// Frames of `conn` will not come back to [`Alrm::redirect`] (its connection entry is in place,
    /// or the connection is gone): forget the decision.
    fn retire(&mut self, _conn: &FiveTuple) {}
    /// A connection to `member` was inserted.
    fn add_conn(&mut self, _member: u16) {}
    /// A connection to `member` was removed.
    fn rm_conn(&mut self, _member: u16) {}
    /// Brings the service's indirection table to the members' shares. False (table untouched)
    /// when the policy does not use the hardware indirection table.
    fn fill_indirection(&mut self, members: &[Member], slots: &mut [Option<u16>]) -> bool;
}

/// The plugin for a policy's config name: `maglev`, `key-hash`, `round-robin`, `least-conn`.
pub fn by_name(name: &str) -> Option<Box<dyn Alrm>> {
    Some(match name {
        "maglev" => Box::new(TableFill { name: "maglev" }),
        "key-hash" => Box::new(TableFill { name: "key-hash" }),
        "round-robin" => Box::<RoundRobin>::default(),
        "least-conn" => Box::<LeastConn>::default(),
        _ => return None,
    })
}

/// `maglev` and `key-hash`: the hardware hashes (the 5-tuple, or a payload key) into the
/// indirection table, which this plugin fills by weighted Maglev. New connections never reach the
/// host for a decision.
struct TableFill {
    name: &'static str,
}

impl Alrm for TableFill {
    fn name(&self) -> &'static str {
        self.name
    }
    fn redirect(&mut self, _conn: &FiveTuple, _frame: &[u8], _members: &[Member]) -> Option<u16> {
        None
    }
    fn fill_indirection(&mut self, members: &[Member], slots: &mut [Option<u16>]) -> bool {
        maglev::rebalance(slots, members);
        true
    }
}

/// Decisions kept until retired, so a retransmitted frame gets the member its first copy got. Bounded:
/// the oldest decision is forgotten first.
#[derive(Default)]
struct Decisions {
    member: HashMap<FiveTuple, u16>,
    /// Oldest first; holds exactly the keys of `member`.
    order: VecDeque<FiveTuple>,
}

impl Decisions {
    const MAX: usize = 4096;

    /// The earlier decision for `conn` while that member still takes new connections, else
    /// `pick()` remembered.
    fn decide(
        &mut self,
        conn: &FiveTuple,
        members: &[Member],
        pick: impl FnOnce() -> Option<u16>,
    ) -> Option<u16> {
        if let Some(&m) = self.member.get(conn) {
            if members.iter().any(|x| x.id == m && x.weight > 0) {
                return Some(m);
            }
            self.retire(conn);
        }
        let m = pick()?;
        if self.order.len() == Self::MAX {
            let oldest = self.order.pop_front().expect("MAX > 0");
            self.member.remove(&oldest);
        }
        self.member.insert(*conn, m);
        self.order.push_back(*conn);
        Some(m)
    }

    fn retire(&mut self, conn: &FiveTuple) {
        if self.member.remove(conn).is_some() {
            // Usually retired right after it was decided: search from the newest end.
            let at = self.order.iter().rposition(|c| c == conn).expect("in sync");
            self.order.remove(at);
        }
    }

    fn clear(&mut self) {
        *self = Decisions::default();
    }
}

/// Smooth weighted round robin: every pick adds each member's weight to its credit, takes the member
/// with the most credit (lowest id on a tie) and charges it the total weight. Members of weight 0
/// (draining) get nothing.
#[derive(Default)]
struct RoundRobin {
    credit: HashMap<u16, i64>,
    decisions: Decisions,
}

impl RoundRobin {
    fn pick(credits: &mut HashMap<u16, i64>, members: &[Member]) -> Option<u16> {
        credits.retain(|id, _| members.iter().any(|m| m.id == *id));
        let mut total = 0;
        let mut best: Option<(i64, u16)> = None;
        for m in members.iter().filter(|m| m.weight > 0) {
            let credit = credits.entry(m.id).or_insert(0);
            *credit += i64::from(m.weight);
            total += i64::from(m.weight);
            if best.is_none_or(|(c, id)| *credit > c || (*credit == c && m.id < id)) {
                best = Some((*credit, m.id));
            }
        }
        let (_, id) = best?;
        *credits.get_mut(&id).expect("credited above") -= total;
        Some(id)
    }
}

impl Alrm for RoundRobin {
    fn name(&self) -> &'static str {
        "round-robin"
    }
    fn uninit(&mut self) {
        self.credit.clear();
        self.decisions.clear();
    }
    fn redirect(&mut self, conn: &FiveTuple, _frame: &[u8], members: &[Member]) -> Option<u16> {
        let credits = &mut self.credit;
        self.decisions
            .decide(conn, members, || Self::pick(credits, members))
    }
    fn retire(&mut self, conn: &FiveTuple) {
        self.decisions.retire(conn);
    }
    fn fill_indirection(&mut self, _members: &[Member], _slots: &mut [Option<u16>]) -> bool {
        false
    }
}

/// The member with the fewest connections per unit of weight (lowest id on a tie); members of weight
/// 0 (draining) get nothing.
#[derive(Default)]
struct LeastConn {
    conns: HashMap<u16, u64>,
    decisions: Decisions,
}

impl LeastConn {
    fn pick(conns: &HashMap<u16, u64>, members: &[Member]) -> Option<u16> {
        let load = |m: &Member| (conns.get(&m.id).copied().unwrap_or(0), u64::from(m.weight));
        members
            .iter()
            .filter(|m| m.weight > 0)
            .min_by(|a, b| {
                let ((ca, wa), (cb, wb)) = (load(a), load(b));
                // ca / wa vs cb / wb, without division.
                (ca * wb).cmp(&(cb * wa)).then(a.id.cmp(&b.id))
            })
            .map(|m| m.id)
    }
}

impl Alrm for LeastConn {
    fn name(&self) -> &'static str {
        "least-conn"
    }
    fn uninit(&mut self) {
        self.conns.clear();
        self.decisions.clear();
    }
    fn redirect(&mut self, conn: &FiveTuple, _frame: &[u8], members: &[Member]) -> Option<u16> {
        let conns = &self.conns;
        self.decisions
            .decide(conn, members, || Self::pick(conns, members))
    }
    fn retire(&mut self, conn: &FiveTuple) {
        self.decisions.retire(conn);
    }
    fn add_conn(&mut self, member: u16) {
        *self.conns.entry(member).or_insert(0) += 1;
    }
    fn rm_conn(&mut self, member: u16) {
        if let Some(n) = self.conns.get_mut(&member) {
            *n = n.saturating_sub(1);
        }
    }
    fn fill_indirection(&mut self, _members: &[Member], _slots: &mut [Option<u16>]) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: u16, weight: u32) -> Member {
        Member {
            id,
            weight,
            hash: u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15),
        }
    }

    fn conn(i: u16) -> FiveTuple {
        FiveTuple {
            src_ip: 0x0a00_0001,
            dst_ip: 0x0a00_0064,
            src_port: 1000 + i,
            dst_port: 80,
            proto: 6,
        }
    }

    /// Picks for `n` new connections, each retired right away (its entry was inserted).
    fn picks(alrm: &mut dyn Alrm, members: &[Member], n: u16) -> Vec<u16> {
        (0..n)
            .map(|i| {
                let m = alrm.redirect(&conn(i), &[], members).unwrap();
                alrm.add_conn(m);
                alrm.retire(&conn(i));
                m
            })
            .collect()
    }

    #[test]
    fn names_round_trip() {
        for name in ["maglev", "key-hash", "round-robin", "least-conn"] {
            assert_eq!(by_name(name).unwrap().name(), name);
        }
        assert!(by_name("random").is_none());
    }

    #[test]
    fn table_policies_fill_and_host_policies_do_not() {
        let members = [member(1, 1), member(2, 1)];
        for name in ["maglev", "key-hash"] {
            let mut slots = vec![None; 64];
            assert!(by_name(name)
                .unwrap()
                .fill_indirection(&members, &mut slots));
            assert_eq!(slots.iter().filter(|s| **s == Some(1)).count(), 32);
            assert_eq!(slots.iter().filter(|s| **s == Some(2)).count(), 32);
        }
        for name in ["round-robin", "least-conn"] {
            let mut slots = vec![Some(7); 4];
            assert!(!by_name(name)
                .unwrap()
                .fill_indirection(&members, &mut slots));
            assert_eq!(slots, vec![Some(7); 4]);
        }
    }

    #[test]
    fn round_robin_cycles_by_weight_and_skips_draining() {
        let mut rr = by_name("round-robin").unwrap();
        let equal = [member(3, 1), member(1, 1), member(2, 1), member(4, 0)];
        assert_eq!(picks(&mut *rr, &equal, 6), [1, 2, 3, 1, 2, 3]);
        let mut rr = by_name("round-robin").unwrap();
        let weighted = [member(1, 2), member(2, 1)];
        assert_eq!(picks(&mut *rr, &weighted, 6), [1, 2, 1, 1, 2, 1]);
        let draining = [member(1, 0)];
        assert_eq!(rr.redirect(&conn(99), &[], &draining), None);
    }

    #[test]
    fn least_conn_balances_connections_per_weight() {
        let mut lc = by_name("least-conn").unwrap();
        let members = [member(1, 2), member(2, 1), member(3, 0)];
        // 0/2 vs 0/1: tie, lowest id; then 1/2 vs 0/1 -> 2; 1/2 vs 1/1 -> 1; 2/2 vs 1/1 tie -> 1.
        assert_eq!(picks(&mut *lc, &members, 4), [1, 2, 1, 1]);
        lc.rm_conn(1);
        lc.rm_conn(1);
        lc.rm_conn(1);
        // 0/2 vs 1/1 -> 1.
        assert_eq!(lc.redirect(&conn(50), &[], &members), Some(1));
    }

    #[test]
    fn a_retransmission_gets_the_same_member_until_retired() {
        for name in ["round-robin", "least-conn"] {
            let mut alrm = by_name(name).unwrap();
            let members = [member(1, 1), member(2, 1)];
            let first = alrm.redirect(&conn(1), b"syn", &members).unwrap();
            assert_eq!(
                alrm.redirect(&conn(1), b"syn", &members),
                Some(first),
                "{name}"
            );
            alrm.add_conn(first);
            alrm.retire(&conn(1));
            assert_ne!(
                alrm.redirect(&conn(1), b"syn", &members),
                Some(first),
                "{name}"
            );
        }
    }

    #[test]
    fn a_retransmission_goes_elsewhere_once_its_member_drains_or_leaves() {
        let mut rr = by_name("round-robin").unwrap();
        let members = [member(1, 1), member(2, 1)];
        assert_eq!(rr.redirect(&conn(1), &[], &members), Some(1));
        assert_eq!(
            rr.redirect(&conn(1), &[], &[member(1, 0), member(2, 1)]),
            Some(2)
        );
        assert_eq!(rr.redirect(&conn(1), &[], &[member(3, 1)]), Some(3));
        assert_eq!(
            rr.redirect(&conn(1), &[], &[member(1, 1), member(3, 1)]),
            Some(3)
        );
    }

    #[test]
    fn decisions_are_bounded_oldest_first() {
        let mut d = Decisions::default();
        // Every id in 0..=MAX takes connections.
        let all: Vec<Member> = (0..=Decisions::MAX as u16).map(|i| member(i, 1)).collect();
        for i in 0..=Decisions::MAX as u16 {
            d.decide(&conn(i), &all, || Some(i));
        }
        assert_eq!(d.member.len(), Decisions::MAX);
        assert_eq!(
            d.decide(&conn(0), &all, || Some(7)),
            Some(7),
            "the oldest was forgotten"
        );
        assert_eq!(d.decide(&conn(2), &all, || Some(7)), Some(2));
        d.retire(&conn(2));
        assert_eq!(d.order.len(), d.member.len());
    }
}
