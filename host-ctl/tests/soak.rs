//! Soak (`make soak`, not part of `make test`; root): mixed real traffic (long-lived echo
//! connections, a stream of short connections, UDP datagrams) and control operations (member
//! changes, lists, stats, save, hostile clients) against the daemon for `SOAK_SECONDS` (default
//! 600), sampling the daemon's resident memory and open descriptors every 10 s. After a three-minute
//! warm-up (the closed connections' entries age out after 120 s) both must stay flat: RSS within 2 MiB of its warm-up value, descriptors unchanged.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddrV4, UdpSocket};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// Longer than the lab's TCP timeout (120 s): by then the table holds a steady number of entries.
const WARM_UP: Duration = Duration::from_secs(180);
const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// (resident KiB, open descriptors) of process `pid`.
fn usage(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    // A control client that just finished is closed at the daemon's next wakeup: the least of a
    // few looks is the daemon's own descriptors.
    let fds = (0..5)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(50));
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .unwrap()
                .count()
        })
        .min()
        .unwrap();
    (rss, fds)
}

#[test]
#[ignore = "10-minute soak: make soak"]
fn soak_keeps_memory_and_descriptors_flat() {
    if !can_run_live("soak_keeps_memory_and_descriptors_flat") {
        return;
    }
    let seconds: u64 = std::env::var("SOAK_SECONDS")
        .ok()
        .map(|s| s.parse().expect("SOAK_SECONDS: a number"))
        .unwrap_or(600);
    let backend = std::env::var("SOAK_BACKEND").unwrap_or_else(|_| "model".into());
    let services = format!(
        "[[service]]\nname = \"web\"\nvip = \"{VIP}\"\nport = 80\nproto = \"tcp\"\npolicy = \"maglev\"\n\
         members = [ {{ addr = \"{}\", port = 8080, out_port = 1 }}, {{ addr = \"{}\", port = 8080, out_port = 1 }} ]\n\
         [[service]]\nname = \"game\"\nvip = \"{VIP}\"\nport = 9000\nproto = \"udp\"\npolicy = \"key-hash\"\n\
         key = {{ offset = 0, len = 4 }}\nmembers = [ {{ addr = \"{}\", port = 9000, out_port = 1 }} ]\n",
        server_addr(0),
        server_addr(1),
        server_addr(2)
    );
    let lab = Lab::start(&backend, 3, &services);
    let pid = lab.daemon.proc.0.id();
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim(),
        "anypoint-ctl",
        "the sampled process is the daemon"
    );
    let _servers = lab.echo_servers();
    lab.wait_resolved("web");
    lab.wait_resolved("game");
    let udp = in_ns(&lab.client.name, || UdpSocket::bind("0.0.0.0:0").unwrap());
    let mut long: Vec<_> = (0..50)
        .map(|_| {
            let (s, _) = connect(&lab, 80).unwrap();
            (s.try_clone().unwrap(), BufReader::new(s))
        })
        .collect();
    let member = format!("{}:8080", server_addr(1));
    let start = Instant::now();
    let mut next_sample = start + SAMPLE_EVERY;
    let mut samples: Vec<(u64, u64, usize)> = Vec::new();
    let (mut round, mut short, mut echoes, mut ops) = (0u64, 0u64, 0u64, 0u64);
    while start.elapsed() < Duration::from_secs(seconds) {
        round += 1;
        for (s, r) in &mut long {
            let msg = format!("round {round}\n");
            s.write_all(msg.as_bytes()).unwrap();
            let mut back = String::new();
            r.read_line(&mut back).unwrap();
            assert_eq!(back, msg);
            echoes += 1;
        }
        for _ in 0..5 {
            connect(&lab, 80).expect("a short connection");
            short += 1;
        }
        for k in 0..20u32 {
            let _ = udp.send_to(&k.to_be_bytes(), SocketAddrV4::new(VIP, 9000));
        }
        if round % 10 == 0 {
            // A client that sends half a request and vanishes.
            let mut c = UnixStream::connect(&lab.daemon.socket).unwrap();
            let _ = c.write_all(b"{\"version\":1,\"op\":");
        }
        let weight = (round % 3).to_string();
        let op: Vec<&str> = match round % 6 {
            0 => vec!["member", "set-weight", "web", &member, &weight],
            1 => vec!["conn", "list", "--limit", "10"],
            2 => vec!["stats"],
            3 => vec!["save"],
            4 => vec!["member", "list", "web"],
            _ => vec!["service", "list"],
        };
        lab.ctl(&op);
        ops += 1;
        if Instant::now() >= next_sample {
            let (rss, fds) = usage(pid);
            samples.push((start.elapsed().as_secs(), rss, fds));
            println!(
                "t={:>4}s rss={rss} KiB fds={fds}",
                start.elapsed().as_secs()
            );
            next_sample += SAMPLE_EVERY;
        }
    }
    println!(
        "{backend}: {seconds} s, {echoes} echoes on 50 long connections, {short} short connections, \
         {} datagrams, {ops} control operations",
        round * 20
    );
    let warm: Vec<_> = samples
        .iter()
        .filter(|(t, _, _)| *t >= WARM_UP.as_secs())
        .collect();
    assert!(warm.len() >= 2, "too short to judge: {samples:?}");
    let (_, rss0, fds0) = *warm[0];
    let (_, rss_max, _) = **warm.iter().max_by_key(|s| s.1).unwrap();
    println!(
        "after warm-up: rss {rss0} KiB -> max {rss_max} KiB, fds {fds0} -> {:?}",
        warm.iter()
            .map(|s| s.2)
            .collect::<std::collections::BTreeSet<_>>()
    );
    assert!(rss_max <= rss0 + 2048, "RSS grew: {samples:?}");
    assert!(
        warm.iter().all(|s| s.2 == fds0),
        "descriptors changed: {samples:?}"
    );
}
