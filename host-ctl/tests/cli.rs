//! The CLI verbs against a running daemon, and the daemon's robustness against its clients. The
//! daemon runs with no port attached, so these need no root.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::time::Duration;

const CONFIG: &str = r#"
[switch]
hash_key = "00112233445566778899aabbccddeeff"
[[port]]
id = 0
mac = "02:00:00:00:00:10"
next_hop_mac = "02:00:00:00:00:01"
[[port]]
id = 1
mac = "02:00:00:00:00:11"
addr = "10.0.1.254/24"
[[service]]
name = "web"
vip = "10.0.0.100"
port = 80
proto = "tcp"
policy = "maglev"
members = [ { addr = "10.0.1.1", port = 8080, mac = "02:00:00:00:01:01", out_port = 1 } ]
"#;

fn without_counts(mut services: serde_json::Value) -> serde_json::Value {
    for s in services.as_array_mut().unwrap() {
        s["connections"] = 0.into();
    }
    services
}

#[test]
fn every_verb_with_json() {
    for backend in BACKENDS {
        let dir = TempDir::new();
        let d = Daemon::start(&dir.0, None, backend, CONFIG, &[]);
        let s = d.socket.as_path();
        let mode = std::fs::metadata(s).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the control socket is private");

        let services = ctl_json(s, &["service", "list"]);
        assert_eq!(services[0]["name"], "web");
        assert_eq!(services[0]["vip"], "10.0.0.100");
        ctl_ok(
            s,
            &[
                "service",
                "add",
                "dns",
                "--vip",
                "10.0.0.100",
                "--port",
                "53",
                "--proto",
                "udp",
                "--policy",
                "key-hash",
                "--key",
                "0:4",
            ],
        );
        let services = ctl_json(s, &["service", "list"]);
        assert_eq!(services[1]["name"], "dns");
        assert_eq!(
            services[1]["key"],
            serde_json::json!({"offset": 0, "len": 4})
        );
        assert_eq!(services[1]["peer_port"], 0, "the port with a next hop");
        assert!(ctl_ok(s, &["service", "list"]).starts_with("NAME "));

        ctl_ok(
            s,
            &[
                "member",
                "add",
                "dns",
                "10.0.1.5:53",
                "--weight",
                "3",
                "--mac",
                "02:00:00:00:01:05",
            ],
        );
        let members = ctl_json(s, &["member", "list", "dns"]);
        assert_eq!(members[0]["addr"], "10.0.1.5");
        assert_eq!(
            members[0]["out_port"], 1,
            "the port whose addr covers the member"
        );
        assert_eq!(members[0]["weight"], 3);
        assert_eq!(members[0]["mac"], "02:00:00:00:01:05");
        assert_eq!(members[0]["mac_source"], "config");
        ctl_ok(s, &["member", "set-weight", "dns", "10.0.1.5:53", "7"]);
        assert_eq!(ctl_json(s, &["member", "list", "dns"])[0]["weight"], 7);
        ctl_ok(s, &["member", "drain", "dns", "10.0.1.5:53"]);
        let members = ctl_json(s, &["member", "list", "dns"]);
        assert_eq!(
            (members[0]["weight"].clone(), members[0]["state"].clone()),
            (0.into(), "draining".into())
        );
        assert!(ctl_ok(s, &["member", "list", "dns"]).contains("draining"));

        // An acp service from the CLI: listed with its policy and key, no connections yet.
        ctl_ok(
            s,
            &[
                "service",
                "add",
                "frames",
                "--vip",
                "10.0.0.100",
                "--port",
                "7000",
                "--proto",
                "acp",
                "--policy",
                "key-hash",
                "--key",
                "0:4",
                "--frame-window",
                "128",
            ],
        );
        let frames = ctl_json(s, &["service", "list"])
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "frames")
            .cloned()
            .expect("listed");
        assert_eq!(
            (&frames["proto"], &frames["policy"], &frames["key"]),
            (
                &"acp".into(),
                &"key-hash".into(),
                &serde_json::json!({"offset": 0, "len": 4})
            )
        );
        assert!(ctl_ok(s, &["save"]).contains("frame_window = 128"));
        ctl_ok(s, &["service", "delete", "frames"]);

        let conns = ctl_json(s, &["conn", "list"]);
        assert_eq!(conns, serde_json::json!({"total": 0, "connections": []}));
        ctl_json(s, &["conn", "list", "--service", "web", "--limit", "5"]);
        assert!(ctl_ok(s, &["conn", "list"]).starts_with("SERVICE "));

        let stats = ctl_json(s, &["stats"]);
        assert_eq!(stats["counters"]["ports"].as_array().unwrap().len(), 4);
        assert_eq!(
            stats["counters"]["services"][1]["members"][0]["member"],
            "10.0.1.5:53"
        );
        let rate = ctl_json(s, &["stats", "--rate"]);
        assert_eq!(rate["counters"]["ports"][0]["rx_packets"], 0);
        assert!(ctl_ok(s, &["stats"]).contains("slow path:"));

        // `save` restores: a second daemon from its output lists the same services and members.
        let saved = ctl_ok(s, &["save"]);
        let dir2 = TempDir::new();
        let d2 = Daemon::start(&dir2.0, None, backend, &saved, &[]);
        assert_eq!(
            without_counts(ctl_json(&d2.socket, &["service", "list"])),
            without_counts(ctl_json(s, &["service", "list"]))
        );
        assert_eq!(
            ctl_json(&d2.socket, &["member", "list", "dns"]),
            ctl_json(s, &["member", "list", "dns"])
        );

        ctl_ok(s, &["member", "remove", "dns", "10.0.1.5:53"]);
        assert_eq!(
            ctl_json(s, &["member", "list", "dns"]),
            serde_json::json!([])
        );
        ctl_ok(s, &["service", "delete", "dns"]);
        assert_eq!(
            ctl_json(s, &["service", "list"]).as_array().unwrap().len(),
            1
        );
    }
}

#[test]
fn bad_arguments_give_a_one_line_error_and_exit_1() {
    for backend in BACKENDS {
        let dir = TempDir::new();
        let d = Daemon::start(&dir.0, None, backend, CONFIG, &[]);
        let cases: &[(&[&str], &str)] = &[
            (&["frobnicate"], "unrecognized subcommand"),
            (&["service", "add", "x", "--port", "1"], "required"),
            (&["member", "add", "web", "not-an-address"], "invalid value"),
            (
                &["member", "set-weight", "web", "10.0.1.1:8080", "heavy"],
                "invalid value",
            ),
            (
                &["member", "set-weight", "web", "10.0.1.1:8080", "70000"],
                "weight 70000 is out of range",
            ),
            (
                &[
                    "service", "add", "x", "--vip", "10.0.0.1", "--port", "1", "--proto", "sctp",
                    "--policy", "maglev",
                ],
                "proto `sctp`",
            ),
            (
                &[
                    "service", "add", "x", "--vip", "10.0.0.1", "--port", "1", "--proto", "udp",
                    "--policy", "maglev", "--key", "4",
                ],
                "not OFF:LEN",
            ),
            (
                &["service", "delete", "nosuch"],
                "no service named \"nosuch\"",
            ),
            (&["member", "list", "nosuch"], "no service named \"nosuch\""),
            (
                &["member", "add", "web", "10.0.1.1:8080"],
                "already has member",
            ),
            (
                &["member", "add", "web", "192.168.9.9:80"],
                "no port's addr covers",
            ),
            (
                &["member", "remove", "web", "10.0.1.9:8080"],
                "has no member 10.0.1.9:8080",
            ),
            (&["conn", "list", "--service", "nosuch"], "no service named"),
            (
                &[
                    "service",
                    "add",
                    "f",
                    "--vip",
                    "10.0.0.100",
                    "--port",
                    "7001",
                    "--proto",
                    "acp",
                    "--policy",
                    "maglev",
                ],
                "not one of key-hash, round-robin, speed-sensitive",
            ),
        ];
        for (args, why) in cases {
            let out = ctl(&d.socket, args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{args:?}: one line: {err}");
            assert!(
                err.starts_with("anypoint-ctl: ") && err.contains(why),
                "{args:?}: `{err}` lacks `{why}`"
            );
        }
        let out = Command::new(BIN)
            .args(["stats", "--socket", "/nonexistent/anypoint.sock"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            err.contains("cannot reach the daemon at /nonexistent/anypoint.sock"),
            "{err}"
        );
        assert!(Command::new(BIN)
            .arg("--help")
            .output()
            .unwrap()
            .status
            .success());
    }
}

/// Sends raw bytes and returns the reply line.
fn raw(socket: &std::path::Path, bytes: &[u8]) -> String {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // The daemon may close before reading everything it was sent: ignore the broken pipe.
    let _ = s.write_all(bytes);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    line
}

#[test]
fn the_daemon_survives_bad_requests_and_refuses_a_second_instance() {
    for backend in BACKENDS {
        let dir = TempDir::new();
        let d = Daemon::start(&dir.0, None, backend, CONFIG, &[]);
        let cases: [(Vec<u8>, &str); 6] = [
            (b"hello\n".to_vec(), "malformed request"),
            (b"\xff\xfe\x00\n".to_vec(), "malformed request"),
            (
                br#"{"version":9,"op":"stats"}"#.to_vec(),
                "unsupported protocol version 9",
            ),
            (
                br#"{"version":1,"op":"member-add","service":"web","addr":"1.2.3.4","port":99999}"#
                    .to_vec(),
                "bad request",
            ),
            (
                br#"{"version":1,"op":"service-add"}"#.to_vec(),
                "missing field",
            ),
            (vec![b'x'; 200_000], "request longer than 65536 bytes"),
        ];
        for (bytes, why) in cases {
            let reply: serde_json::Value = serde_json::from_str(&raw(&d.socket, &bytes)).unwrap();
            assert_eq!(reply["ok"], false);
            assert!(
                reply["error"].as_str().unwrap().contains(why),
                "{reply} lacks {why}"
            );
        }
        // A client that connects and goes away says nothing.
        drop(UnixStream::connect(&d.socket).unwrap());
        let ok: serde_json::Value = serde_json::from_str(&raw(
            &d.socket,
            b"{\"version\":1,\"op\":\"service-list\"}\n",
        ))
        .unwrap();
        assert_eq!(ok["ok"], true);

        let out = Command::new(BIN)
            .args(["run", "--config"])
            .arg(dir.0.join("cluster.toml"))
            .arg("--socket")
            .arg(&d.socket)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            err.contains("another anypoint-ctl daemon is already serving"),
            "{err}"
        );
        assert!(
            d.socket.exists(),
            "the refused daemon leaves the socket alone"
        );
        ctl_ok(&d.socket, &["service", "list"]);
    }
}

#[test]
fn a_bad_config_names_file_field_and_reason() {
    let dir = TempDir::new();
    let path = dir.0.join("bad.toml");
    std::fs::write(
        &path,
        CONFIG.replace("addr = \"10.0.1.254/24\"", "addr = \"10.0.1.254\""),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .arg("--socket")
        .arg(dir.0.join("s.sock"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(err.trim(), format!("anypoint-ctl: {}: port[1].addr: `10.0.1.254` is not an address with prefix like 10.77.1.1/24", path.display()));
}
