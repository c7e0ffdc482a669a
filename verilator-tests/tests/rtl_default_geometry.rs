//! The build of the model's default geometry (cargo feature `replay-geometry`, used by the daemon's
//! `rtl` backend and `anypoint-ctl replay --backend rtl`): capability registers and the last table
//! entries against the model, and the seeded random scoreboard (src/scoreboard.rs) at this geometry:
//! random tables using high services, members, buckets and indirection slots, changed between
//! batches, frames on every port and host injects, with random ingress gaps and egress and host
//! backpressure, every output compared with the model bit for bit.
//!
//! The daemon runs this build in real time, against its ACP peers' retransmission timers: a build
//! that simulates much slower than the test geometry's stalls host-ctl's acp_live retransmission
//! storm (timing round 4 did, 4 times slower than round 3, with the same logic); the benchmark
//! `sim-rate` measures its clock rate against the test geometry's.
//!
//! `ANYPOINT_SEED` picks the scoreboard's seed (hex; `random` for a fresh one, printed),
//! `ANYPOINT_PACKETS` its frames (default 6000), `ANYPOINT_FST` a waveform file.
#![cfg(feature = "replay-geometry")]

use anypoint_model::regs::{reg, region};
use anypoint_model::{Geometry, Switch};
use verilator_tests::rtl::RtlSwitch;
use verilator_tests::scoreboard;

#[test]
fn default_geometry_matches_the_model() {
    let mut rtl = RtlSwitch::with_default_geometry();
    let mut model = Switch::new(Geometry::default());
    assert_eq!(rtl.geometry(), Geometry::default());
    for a in [0u32, 4, 8, 12, 16, 20, 24, 28, 32] {
        assert_eq!(rtl.read32(a), model.read32(a), "register {a:#x}");
    }
    // The last connection entry and the last indirection slot exist.
    let mut ops = vec![];
    for i in 0..5 {
        ops.push((reg::TBL_WDATA + 4 * i, 0x0102_0304 * (i + 1)));
    }
    ops.push((reg::TBL_CMD, 1 << 30 | 3 << 24 | 65535));
    ops.push((reg::TBL_CMD, 2 << 30 | 3 << 24 | 65535));
    ops.push((region::INDIR + 4 * 65535, 0x8000_0007));
    for (a, v) in ops {
        rtl.write32(a, v);
        model.write32(a, v);
    }
    for a in [
        reg::TBL_RDATA,
        reg::TBL_RDATA + 16,
        region::INDIR + 4 * 65535,
        reg::TBL_STATUS,
    ] {
        assert_eq!(rtl.read32(a), model.read32(a), "register {a:#x}");
    }
}

#[test]
fn default_geometry_random_scoreboard() {
    let seed = scoreboard::env_seed(0xdefa_0175_eed0_0001);
    let packets = scoreboard::env_packets(6_000);
    let fst = std::env::var("ANYPOINT_FST").ok();
    eprintln!("default geometry scoreboard seed={seed:#x}");
    let g = Geometry::default();
    match scoreboard::run_default_geometry(seed, packets, fst.as_deref()) {
        Ok(s) => {
            eprintln!(
                "default geometry: {} frames, {} egress, {} host records, {} cycles, reasons seen {:#x}, \
                 highest service {} and member {} in a host record",
                s.frames, s.egress, s.host, s.cycles, s.reasons_seen(), s.max_service, s.max_member
            );
            // The decisions reached the upper halves of the tables the test geometry lacks.
            assert!(
                s.max_member >= g.members / 2,
                "member {} the highest",
                s.max_member
            );
            assert!(
                s.max_service >= g.services / 2,
                "service {} the highest",
                s.max_service
            );
            // Every decision of section 3: no service, host policy, the indirection's empty slot
            // or inactive member, a connection's member down, an outbound reply without a
            // connection, learn records of indirection forwards, state records of connection ones.
            use anypoint_model::regs::reason::*;
            for code in [
                NO_SERVICE,
                HOST_POLICY,
                NO_MEMBER,
                MEMBER_DOWN,
                OUTBOUND_NO_CONN,
                LEARN,
                TCP_FIN,
            ] {
                assert!(
                    s.reasons_seen() & (1 << code) != 0,
                    "reason {code} never seen"
                );
            }
        }
        Err(e) => panic!("{e}"),
    }
}
