//! Control-plane safety against the real daemon (root, namespaces): the socket is root-only; bad
//! requests (names, addresses, weights, sizes) are refused with a message and change nothing;
//! garbage, huge frames, half-sent requests, abrupt disconnects and a crowd of idle clients never
//! disturb forwarding: a long-lived TCP connection through the VIP echoes throughout.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const WEB: &str = r#"
[[service]]
name = "web"
vip = "10.77.0.100"
port = 80
proto = "tcp"
policy = "maglev"
members = [ { addr = "10.77.1.11", port = 8080, out_port = 1 } ]
"#;

/// One request line and its reply line on a fresh connection.
fn ask(socket: &Path, line: &[u8]) -> serde_json::Value {
    let mut s = UnixStream::connect(socket).expect("connect to the control socket");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(line).unwrap();
    s.write_all(b"\n").unwrap();
    let mut reply = String::new();
    BufReader::new(s).read_line(&mut reply).unwrap();
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("reply `{reply}`: {e}"))
}

/// An echo round trip on the long-lived connection: forwarding still works.
fn echo(conn: &mut (TcpStream, BufReader<TcpStream>), what: &str) {
    let msg = format!("still here after {what}\n");
    conn.0.write_all(msg.as_bytes()).unwrap();
    let mut back = String::new();
    conn.1
        .read_line(&mut back)
        .unwrap_or_else(|e| panic!("forwarding broke after {what}: {e}"));
    assert_eq!(back, msg, "after {what}");
}

#[test]
fn the_control_socket_survives_hostile_clients_without_disturbing_forwarding() {
    if !can_run_live("the_control_socket_survives_hostile_clients_without_disturbing_forwarding") {
        return;
    }
    let mut lab = Lab::start("model", 1, WEB);
    let _server = lab.echo_servers();
    lab.wait_resolved("web");
    let (stream, greeting) = connect(&lab, 80).expect("connects through the VIP");
    assert_eq!(greeting, "s0");
    let mut conn = (stream.try_clone().unwrap(), BufReader::new(stream));
    let socket = lab.daemon.socket.clone();

    // Root only: mode 0600, owned by root; another user cannot connect even when the directory
    // lets it through.
    let meta = std::fs::metadata(&socket).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.uid(), 0);
    std::fs::set_permissions(&lab.dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let denied = Command::new(BIN)
        .args(["service", "list", "--socket"])
        .arg(&socket)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(!denied.status.success(), "an unprivileged client got in");
    let why = String::from_utf8_lossy(&denied.stderr);
    assert!(why.contains("ermission denied"), "{why}");

    let services_before = lab.json(&["service", "list"]);
    // Every request validated: each is refused with a message, and nothing changes.
    let bad = [
        r#"{"version":1,"op":"service-add","name":"../etc","vip":"10.0.0.1","port":80,"proto":"tcp","policy":"maglev"}"#.to_string(),
        format!(r#"{{"version":1,"op":"service-add","name":"{}","vip":"10.0.0.1","port":80,"proto":"tcp","policy":"maglev"}}"#, "x".repeat(300)),
        r#"{"version":1,"op":"service-add","name":"","vip":"10.0.0.1","port":80,"proto":"tcp","policy":"maglev"}"#.into(),
        r#"{"version":1,"op":"service-add","name":"a","vip":"10.0.0.256","port":80,"proto":"tcp","policy":"maglev"}"#.into(),
        r#"{"version":1,"op":"service-add","name":"a","vip":"10.0.0.1","port":70000,"proto":"tcp","policy":"maglev"}"#.into(),
        r#"{"version":1,"op":"service-add","name":"a","vip":"10.0.0.1","port":80,"proto":"sctp","policy":"maglev"}"#.into(),
        r#"{"version":1,"op":"service-add","name":"a","vip":"10.0.0.1","port":80,"proto":"udp","policy":"key-hash","key":{"offset":60,"len":8}}"#.into(),
        r#"{"version":1,"op":"service-add","name":"a","vip":"10.0.0.1","port":80,"proto":"tcp","policy":"maglev","slots":3}"#.into(),
        r#"{"version":1,"op":"service-add","name":"a","vip":"10.0.0.1","port":80,"proto":"tcp","policy":"maglev","slots":4294967295}"#.into(),
        r#"{"version":1,"op":"service-add","name":"a","vip":"10.0.0.1","port":80,"proto":"tcp","policy":"maglev","peer_port":7}"#.into(),
        r#"{"version":1,"op":"member-add","service":"web","addr":"10.77.1.12","port":8080,"weight":65536,"out_port":1}"#.into(),
        r#"{"version":1,"op":"member-add","service":"web","addr":"10.77.1.12","port":8080,"out_port":9}"#.into(),
        r#"{"version":1,"op":"member-add","service":"web","addr":"10.77.1.12","port":8080,"out_port":1,"mac":"zz:00:00:00:00:01"}"#.into(),
        r#"{"version":1,"op":"member-add","service":"nope","addr":"10.77.1.12","port":8080,"out_port":1}"#.into(),
        r#"{"version":1,"op":"member-set-weight","service":"web","addr":"10.77.1.11","port":8080,"weight":4294967295}"#.into(),
        r#"{"version":1,"op":"member-remove","service":"web","addr":"10.77.1.99","port":8080}"#.into(),
        r#"{"version":1,"op":"service-delete","name":"nope"}"#.into(),
        r#"{"version":2,"op":"stats"}"#.into(),
        r#"{"op":"stats"}"#.into(),
        r#"{"version":1,"op":"stats","extra":1}"#.into(),
        r#"{"version":1,"op":"conn-list","limit":-1}"#.into(),
        r#"[1,2,3]"#.into(),
        "\u{0}\u{1}garbage\u{ff}".into(),
    ];
    for line in &bad {
        let reply = ask(&socket, line.as_bytes());
        assert_eq!(reply["ok"], false, "accepted: {line}");
        assert!(
            !reply["error"].as_str().unwrap_or("").is_empty(),
            "no message for {line}"
        );
    }
    assert_eq!(lab.json(&["service", "list"]), services_before);
    echo(&mut conn, "invalid requests");

    // A frame larger than the daemon reads: an error reply, then the connection closes.
    let mut s = UnixStream::connect(&socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    let huge = vec![b'x'; 1 << 20];
    let _ = s.write_all(&huge); // the daemon may close before all of it is written
    let mut reply = String::new();
    let _ = BufReader::new(&s).read_line(&mut reply);
    assert!(
        reply.contains("longer than"),
        "reply to a huge frame: {reply}"
    );
    echo(&mut conn, "a huge frame");

    // Binary garbage with newlines, several clients at once.
    let mut clients: Vec<UnixStream> = (0..8)
        .map(|_| UnixStream::connect(&socket).unwrap())
        .collect();
    let mut x = 0x1234_5678u32;
    for c in clients.iter_mut() {
        let junk: Vec<u8> = (0..64 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let _ = c.write_all(&junk);
    }
    drop(clients);
    echo(&mut conn, "binary garbage");

    // Requests cut off mid-line by a disconnect, with and without reading the reply.
    for cut in [1, 10, 40] {
        let line = br#"{"version":1,"op":"member-set-weight","service":"web","addr":"10.77.1.11","port":8080,"weight":0}"#;
        let mut s = UnixStream::connect(&socket).unwrap();
        s.write_all(&line[..cut]).unwrap();
        s.shutdown(std::net::Shutdown::Both).unwrap();
    }
    {
        let mut s = UnixStream::connect(&socket).unwrap();
        s.write_all(b"{\"version\":1,\"op\":\"stats\"}\n").unwrap();
        // gone before the reply is read
    }
    echo(&mut conn, "disconnects mid-request");

    // More idle clients than the daemon serves at once: the extra ones wait in the backlog; the
    // datapath and a fresh client are still served once the crowd leaves.
    let crowd: Vec<UnixStream> = (0..100)
        .filter_map(|_| UnixStream::connect(&socket).ok())
        .collect();
    echo(&mut conn, "100 idle clients");
    drop(crowd);
    let stats = ask(&socket, br#"{"version":1,"op":"stats"}"#);
    assert_eq!(stats["ok"], true, "{stats}");
    // The weight of the member stayed 1: no half request was executed.
    let members = lab.json(&["member", "list", "web"]);
    assert_eq!(members[0]["weight"], 1, "{members}");
    echo(&mut conn, "everything");

    // The daemon never went down.
    assert!(
        matches!(lab.daemon.proc.0.try_wait(), Ok(None)),
        "the daemon exited: {}",
        lab.daemon.log()
    );
}
