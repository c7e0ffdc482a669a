//! Real Linux TCP and UDP traffic through the daemon, between network namespaces (root only; each
//! test prints SKIP otherwise). Every test runs on every backend in `common::BACKENDS`.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddrV4, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

fn web(weights: &[u32]) -> String {
    let members: Vec<String> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            format!(
                "{{ addr = \"{}\", port = 8080, out_port = 1, weight = {w} }}",
                server_addr(i)
            )
        })
        .collect();
    format!(
        "[[service]]\nname = \"web\"\nvip = \"{VIP}\"\nport = 80\nproto = \"tcp\"\npolicy = \"maglev\"\nmembers = [ {} ]\n",
        members.join(", ")
    )
}

#[test]
fn http_through_the_vip_spreads_by_weight_and_keeps_the_client_address() {
    if !can_run_live("http_through_the_vip") {
        return;
    }
    for backend in BACKENDS {
        let weights = [1, 1, 2];
        let lab = Lab::start(backend, 3, &web(&weights));
        let mut servers = Vec::new();
        for (i, ns) in lab.servers.iter().enumerate() {
            let root = lab.dir.0.join(format!("www{i}"));
            std::fs::create_dir_all(&root).unwrap();
            write_file(&root.join("id"), &format!("s{i}\n"));
            // Appending, so truncating the log below leaves no hole at python's old offset.
            let log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(lab.dir.0.join(format!("http{i}.log")))
                .unwrap();
            let mut cmd = ns.cmd("python3");
            cmd.args(["-m", "http.server", "8080", "--bind"])
                .arg(server_addr(i).to_string())
                .arg("--directory")
                .arg(&root)
                .stdout(std::process::Stdio::null())
                .stderr(log);
            servers.push(Proc(cmd.spawn().expect("python3 runs")));
        }
        lab.wait_resolved("web");
        // python3 takes a moment to listen, longer while other tests keep both cores busy.
        wait_for("the http servers", Duration::from_secs(30), || {
            (0..3)
                .all(|i| {
                    lab.servers[i]
                        .cmd("curl")
                        .args(["-sf", "--max-time", "1"])
                        .arg(format!("http://{}:8080/id", server_addr(i)))
                        .output()
                        .is_ok_and(|o| o.status.success())
                })
                .then_some(())
        });
        for i in 0..3 {
            std::fs::write(lab.dir.0.join(format!("http{i}.log")), "").unwrap();
        }

        let url = format!("http://{VIP}/id");
        let out = run(lab
            .client
            .cmd("curl")
            .args([
                "-sS",
                "--fail",
                "--max-time",
                "60",
                "--connect-timeout",
                "5",
            ])
            .args([
                "-H",
                "Connection: close",
                "-w",
                "%{remote_ip} %{http_code} %{num_connects} %{local_port}\\n",
            ])
            .args(std::iter::repeat_n(&url, 200)));
        let text = String::from_utf8(out.stdout).unwrap();
        let mut by_server: BTreeMap<String, usize> = BTreeMap::new();
        // Connections curl opened, and their client ports.
        let (mut connects, mut client_ports) = (0, BTreeSet::new());
        let mut lines = text.lines();
        while let Some(body) = lines.next() {
            let w: Vec<&str> = lines.next().unwrap_or_default().split(' ').collect();
            assert_eq!(
                w[..2],
                [&*VIP.to_string(), "200"],
                "replies come from the VIP"
            );
            connects += w[2].parse::<u64>().unwrap();
            client_ports.insert(w[3].to_string());
            *by_server.entry(body.to_string()).or_default() += 1;
        }
        assert_eq!(by_server.values().sum::<usize>(), 200, "{text}");
        let total_weight: u32 = weights.iter().sum();
        for (i, w) in weights.iter().enumerate() {
            let got = by_server.get(&format!("s{i}")).copied().unwrap_or(0);
            let expected = 200.0 * f64::from(*w) / f64::from(total_weight);
            // 200 random source ports: about 4.5 standard deviations of the binomial count.
            assert!(
                (got as f64 - expected).abs() <= 30.0,
                "server {i} got {got} of 200, expected about {expected}: {by_server:?}"
            );
            let log = std::fs::read_to_string(lab.dir.0.join(format!("http{i}.log"))).unwrap();
            let requests: Vec<&str> = log.lines().filter(|l| l.contains("GET /id")).collect();
            assert_eq!(requests.len(), got, "server {i} log");
            assert!(
                requests
                    .iter()
                    .all(|l| l.starts_with(&format!("{CLIENT} "))),
                "server {i} sees the client's address: {log}"
            );
        }
        // Every connection's SYN missed the connection table and was learned, unless it reused
        // a client port of one still there (curl's `num_connects` and `local_port`).
        let stats = lab.json(&["stats"]);
        let learned = stats["slow_path"]["learned"].as_u64().unwrap();
        assert!(
            learned >= client_ports.len() as u64,
            "{connects} connections from {} client ports, {learned} learned: {stats}",
            client_ports.len()
        );

        // The VIP answers ping.
        run(lab
            .client
            .cmd("ping")
            .args(["-c", "2", "-i", "0.2", "-W", "2"])
            .arg(VIP.to_string()));
        assert!(
            lab.json(&["stats"])["slow_path"]["echo_replies"]
                .as_u64()
                .unwrap()
                >= 2
        );
    }
}

/// 20 connections each send a line and read its echo every 20 ms while members change.
#[test]
fn persistent_connections_survive_member_changes() {
    if !can_run_live("persistent_connections_survive_member_changes") {
        return;
    }
    for backend in BACKENDS {
        let lab = Lab::start(backend, 4, &web(&[1, 1, 1]));
        let _servers = lab.echo_servers();
        lab.wait_resolved("web");
        let mut conns: Vec<(std::net::TcpStream, BufReader<std::net::TcpStream>, String)> = (0..20)
            .map(|_| {
                let (s, name) = connect(&lab, 80).expect("connects");
                s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let r = BufReader::new(s.try_clone().unwrap());
                (s, r, name)
            })
            .collect();
        let m = |i: usize| format!("{}:8080", server_addr(i));
        let changes: [(usize, Vec<String>); 3] = [
            (10, vec!["member".into(), "add".into(), "web".into(), m(3)]),
            (
                20,
                vec!["member".into(), "drain".into(), "web".into(), m(0)],
            ),
            (
                30,
                vec![
                    "member".into(),
                    "set-weight".into(),
                    "web".into(),
                    m(1),
                    "5".into(),
                ],
            ),
        ];
        for round in 0..50 {
            for (_, args) in changes.iter().filter(|(r, _)| *r == round) {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                lab.ctl(&args);
            }
            for (k, (s, r, name)) in conns.iter_mut().enumerate() {
                let msg = format!("conn {k} round {round}\n");
                s.write_all(msg.as_bytes())
                    .unwrap_or_else(|e| panic!("conn {k} to {name}, round {round}: {e}"));
                let mut echo = String::new();
                r.read_line(&mut echo).unwrap_or_else(|e| {
                    panic!("conn {k} to {name}, round {round}: stalled or reset: {e}")
                });
                assert_eq!(echo, msg, "conn {k} to {name}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let members = lab.json(&["member", "list", "web"]);
        let states: Vec<(&str, u64)> = members
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["state"].as_str().unwrap(), m["weight"].as_u64().unwrap()))
            .collect();
        assert_eq!(
            states,
            [("draining", 0), ("active", 5), ("active", 1), ("active", 1)]
        );
        // New connections avoid the drained member.
        for _ in 0..10 {
            let (_, name) = connect(&lab, 80).unwrap();
            assert_ne!(name, "s0");
        }
    }
}

#[test]
fn udp_key_hash_is_sticky_and_replies_come_from_the_vip() {
    if !can_run_live("udp_key_hash") {
        return;
    }
    for backend in BACKENDS {
        let services = (0..3)
            .map(|i| {
                format!(
                    "{{ addr = \"{}\", port = 5300, out_port = 1 }}",
                    server_addr(i)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let lab = Lab::start(
            backend,
            3,
            &format!(
                "[[service]]\nname = \"game\"\nvip = \"{VIP}\"\nport = 9000\nproto = \"udp\"\npolicy = \"key-hash\"\nkey = {{ offset = 0, len = 8 }}\nmembers = [ {services} ]\n"
            ),
        );
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        for (i, ns) in lab.servers.iter().enumerate() {
            let sock = in_ns(&ns.name, move || {
                UdpSocket::bind(SocketAddrV4::new(server_addr(i), 5300)).unwrap()
            });
            sock.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 1500];
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    if let Ok((n, from)) = sock.recv_from(&mut buf) {
                        let mut reply = format!("s{i} {from} ").into_bytes();
                        reply.extend_from_slice(&buf[..n]);
                        let _ = sock.send_to(&reply, from);
                    }
                }
            });
        }
        lab.wait_resolved("game");
        let clients: Vec<UdpSocket> = (0..4)
            .map(|_| in_ns(&lab.client.name, || UdpSocket::bind("10.77.0.2:0").unwrap()))
            .collect();
        let mut server_of_key: BTreeMap<u32, String> = BTreeMap::new();
        for round in 0..3 {
            for key in 0..16u32 {
                for c in &clients {
                    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                    let msg = format!("key{key:05}#{round}");
                    c.send_to(msg.as_bytes(), (VIP, 9000)).unwrap();
                    let mut buf = [0u8; 1500];
                    let (n, from) = c
                        .recv_from(&mut buf)
                        .unwrap_or_else(|e| panic!("no reply for key {key}: {e}"));
                    assert_eq!(
                        from,
                        SocketAddrV4::new(VIP, 9000).into(),
                        "the reply comes from the VIP"
                    );
                    let reply = String::from_utf8_lossy(&buf[..n]).to_string();
                    let (server, rest) = reply.split_once(' ').unwrap();
                    let (peer, payload) = rest.split_once(' ').unwrap();
                    assert_eq!(payload, msg);
                    assert_eq!(
                        peer,
                        c.local_addr().unwrap().to_string(),
                        "the server sees the client"
                    );
                    let first = server_of_key
                        .entry(key)
                        .or_insert_with(|| server.to_string());
                    assert_eq!(first, server, "key {key} moved");
                }
            }
        }
        let used: BTreeSet<&String> = server_of_key.values().collect();
        assert!(
            used.len() >= 2,
            "16 keys all on one server: {server_of_key:?}"
        );
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_removed_member_gets_no_new_connections() {
    if !can_run_live("a_removed_member_gets_no_new_connections") {
        return;
    }
    for backend in BACKENDS {
        let lab = Lab::start(backend, 3, &web(&[1, 1, 1]));
        let _servers = lab.echo_servers();
        lab.wait_resolved("web");
        let open: Vec<_> = (0..12).map(|_| connect(&lab, 80).unwrap()).collect();
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, name) in &open {
            *count.entry(name).or_default() += 1;
        }
        let (victim, n) = count
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(v, n)| (v.to_string(), *n))
            .unwrap();
        let i: usize = victim[1..].parse().unwrap();
        let member = format!("{}:8080", server_addr(i));
        let conns = lab.json(&["conn", "list", "--service", "web"]);
        assert_eq!(conns["total"], 12);
        assert_eq!(
            conns["connections"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["member"] == *member)
                .count(),
            n
        );

        let t0 = Instant::now();
        lab.ctl(&["member", "remove", "web", &member]);
        for _ in 0..30 {
            let (_, name) = connect(&lab, 80).expect("new connections succeed at once");
            assert_ne!(name, victim, "a new connection went to the removed member");
        }
        assert!(t0.elapsed() < Duration::from_secs(10));
        let conns = lab.json(&["conn", "list"]);
        assert!(
            conns["connections"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["member"] != *member),
            "its connections are removed"
        );
        assert_eq!(conns["total"], 12 - n + 30);
    }
}

#[test]
fn sigterm_removes_the_taps_and_the_socket() {
    if !can_run_live("sigterm_removes_the_taps_and_the_socket") {
        return;
    }
    for backend in BACKENDS {
        let mut lab = Lab::start(backend, 1, &web(&[1]));
        fn stopped(proc: &mut Proc, log: &std::path::Path) {
            let status = proc
                .terminate(Duration::from_secs(5))
                .expect("stops within 5 s");
            let log = std::fs::read_to_string(log).unwrap_or_default();
            assert!(status.success(), "{status}: {log}");
            assert!(
                log.contains(" INFO SIGTERM: shutting down") && log.contains(" INFO stopped"),
                "{log}"
            );
        }
        stopped(&mut lab.daemon.proc, &lab.daemon.log);
        assert!(!lab.daemon.socket.exists());
        // A simulated device owns the TAPs: they go with it.
        if let Some(device) = &mut lab.daemon.device {
            stopped(&mut device.proc, &device.log);
            assert!(!device.socket.exists());
        }
        let taps = Command::new("ip")
            .args(["-n", &lab.switch.name, "-o", "link", "show"])
            .output()
            .unwrap();
        let taps = String::from_utf8_lossy(&taps.stdout);
        assert!(!taps.contains("tap0") && !taps.contains("tap1"), "{taps}");
    }
}
