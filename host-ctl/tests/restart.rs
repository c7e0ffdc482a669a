//! A daemon restart keeps connections (root, namespaces): with `--state`, the table is written at
//! shutdown and restored at start, so connections pinned to a member the hash would no longer pick
//! (here: a drained member) survive a SIGTERM and a new daemon started from `anypoint-ctl save`.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

#[test]
fn connections_survive_a_daemon_restart() {
    if !can_run_live("connections_survive_a_daemon_restart") {
        return;
    }
    let state_dir = TempDir::new();
    let state = state_dir.0.join("state.json");
    let state_arg = state.to_str().unwrap();
    let members: Vec<String> = (0..3)
        .map(|i| {
            format!(
                "{{ addr = \"{}\", port = 8080, out_port = 1 }}",
                server_addr(i)
            )
        })
        .collect();
    let services = format!(
        "[[service]]\nname = \"web\"\nvip = \"{VIP}\"\nport = 80\nproto = \"tcp\"\npolicy = \"maglev\"\nmembers = [ {} ]\n",
        members.join(", ")
    );
    let mut lab = Lab::start_with("model", 3, &services, &["--state", state_arg]);
    let _servers = lab.echo_servers();
    lab.wait_resolved("web");
    let mut conns: Vec<_> = (0..30)
        .map(|_| {
            let (s, name) = connect(&lab, 80).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            (s.try_clone().unwrap(), BufReader::new(s), name)
        })
        .collect();
    let on_s2 = conns.iter().filter(|c| c.2 == "s2").count();
    assert!(on_s2 > 0, "no connection on s2");
    // Drained: s2's connections now live only by their table entries.
    lab.ctl(&[
        "member",
        "drain",
        "web",
        &format!("{}:8080", server_addr(2)),
    ]);
    let saved = lab.ctl(&["save"]);
    lab.restart("model", &saved, &["--state", state_arg]);
    assert!(
        lab.daemon
            .log()
            .contains("30 connections restored, 0 skipped"),
        "{}",
        lab.daemon.log()
    );
    lab.wait_resolved("web");
    assert_eq!(lab.json(&["conn", "list"])["total"], 30);
    for (k, (s, r, name)) in conns.iter_mut().enumerate() {
        let msg = format!("conn {k} after the restart\n");
        s.write_all(msg.as_bytes()).unwrap();
        let mut back = String::new();
        r.read_line(&mut back)
            .unwrap_or_else(|e| panic!("conn {k} to {name}: broken by the restart: {e}"));
        assert_eq!(back, msg, "conn {k} to {name}");
    }
    println!("30 connections ({on_s2} on the drained member) survived the restart");
}
