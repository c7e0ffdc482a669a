//! Bulk ACP throughput between two network namespaces on a veth link (root).
//!
//! `cargo run --release -p anypoint-acp --example bench -- [FRAMES] [FRAME_BYTES] [LOSS]`
//! (defaults 200000, 1444, 0): one connection sends FRAMES frames of FRAME_BYTES bytes; the
//! receiver times them from its first frame to the sender's FIN. With LOSS above 0 the link runs
//! through the impairment relay dropping that fraction of ACP packets each way.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Instant;

use acp::testing::{can_run_live, direct, in_ns, relayed, Impair, Profile};
use acp::{Config, Endpoint};

fn arg<T: std::str::FromStr>(i: usize, default: T) -> T {
    std::env::args()
        .nth(i)
        .map(|a| {
            a.parse()
                .unwrap_or_else(|_| panic!("argument {i}: not a number: {a}"))
        })
        .unwrap_or(default)
}

fn main() {
    let frames: u64 = arg(1, 200_000);
    let size: usize = arg(2, 1444);
    let loss: f64 = arg(3, 0.0);
    if !can_run_live("bench") {
        std::process::exit(1);
    }
    // Declared before the relay, so that the relay is dropped first.
    let (c, s);
    // Kept alive for the run.
    let mut _relay = None;
    if loss > 0.0 {
        let r;
        [c, r, s] = relayed("10.88.0.1/24", "10.88.0.2/24");
        let p = Profile {
            loss,
            protocol: Some(acp::wire::PROTOCOL),
            ..Profile::default()
        };
        let imp = in_ns(&r.name, move || Impair::start("ra", "rb", p, p, 1).unwrap());
        _relay = Some((imp, r));
    } else {
        [c, s] = direct("10.88.0.1/24", "10.88.0.2/24");
    }
    let cfg = Config::default();
    let server_addr = Ipv4Addr::new(10, 88, 0, 2);
    let c2 = cfg.clone();
    let server = in_ns(&s.name, move || Endpoint::bind(server_addr, c2).unwrap());
    let client = in_ns(&c.name, move || {
        Endpoint::bind(Ipv4Addr::new(10, 88, 0, 1), cfg).unwrap()
    });
    let listener = server.listen(7000).unwrap();
    let rx = std::thread::spawn(move || {
        let conn = listener.accept().unwrap();
        let mut n = 0u64;
        let mut bytes = 0u64;
        let mut t0 = None;
        while let Some(f) = conn.recv_frame().unwrap() {
            t0.get_or_insert_with(Instant::now);
            n += 1;
            bytes += f.len() as u64;
        }
        (n, bytes, t0.map(|t| t.elapsed()).unwrap_or_default())
    });
    let conn = client
        .connect(SocketAddrV4::new(server_addr, 7000))
        .unwrap();
    let data = vec![0x5a; size];
    for _ in 0..frames {
        conn.send_frame(&data).unwrap();
    }
    conn.close().unwrap();
    let (n, bytes, t) = rx.join().unwrap();
    let stats = conn.stats().unwrap();
    let secs = t.as_secs_f64();
    println!(
        "{n} frames of {size} bytes in {secs:.3} s: {:.0} frames/s, {:.1} MB/s of frame data (loss {loss})",
        n as f64 / secs,
        bytes as f64 / secs / 1e6
    );
    println!("sender: {stats:?}");
}
