//! Property tests of frame-level switching (docs/frame-switching.md section 12): for any seeded
//! loss, duplication and reordering on the client's link, any policy and small frame rings and hole
//! tables, each member reads its frames in order and exactly once, every reply comes back once and
//! in order per member, both connections close, no receiver's window is overrun, and a flow's
//! state never exceeds its bounds.

#[path = "frame_switch/sim.rs"]
mod sim;

use std::time::Duration;

use anypoint_model::frame_switch::Policy;
use proptest::prelude::*;
use sim::{check, Impair, Setup, Sim};

fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        (0u16..8, 1u8..=8).prop_map(|(offset, len)| Policy::KeyHash { offset, len }),
        Just(Policy::RoundRobin),
        Just(Policy::SpeedSensitive),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn members_read_in_order_exactly_once_within_bounds(
        policy in policy(),
        servers in 1usize..=4,
        loss in 0.0..0.08f64,
        dup in 0.0..0.05f64,
        reorder in 0.0..0.1f64,
        w in prop_oneof![Just(16usize), Just(64), Just(384)],
        max_holes in 1usize..=8,
        close_early in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut setup = Setup::new(policy, 400, Impair { loss, dup, reorder }, seed);
        setup.close_early = close_early;
        setup.servers = servers;
        setup.w = w;
        setup.max_holes = max_holes;
        let o = Sim::new(setup).run(Duration::from_secs(900));
        prop_assert!(check(&o, 400, w, max_holes).is_ok(), "{:?}", check(&o, 400, w, max_holes));
        // Flow control: nobody gets a frame beyond the window it advertised (speed-sensitive
        // offers the sum of member windows and may overrun a member when a hole is reserved).
        prop_assert_eq!(o.client_beyond_window, 0);
        if policy != Policy::SpeedSensitive {
            prop_assert_eq!(o.server_beyond_window, 0);
        }
    }

    #[test]
    fn a_removed_member_stalls_nobody(
        loss in 0.0..0.05f64,
        seed in any::<u64>(),
        victim in 0usize..3,
        after in 0usize..300,
    ) {
        let mut setup = Setup::new(Policy::KeyHash { offset: 4, len: 4 }, 400, Impair { loss, dup: 0.01, reorder: 0.02 }, seed);
        setup.remove = Some((victim, after));
        let o = Sim::new(setup).run(Duration::from_secs(900));
        prop_assert!(check(&o, 400, 384, 8).is_ok(), "{:?}", check(&o, 400, 384, 8));
    }
}
