//! Per-connection consistency under membership churn, with real Linux TCP between namespaces (root
//! only): 200 long-lived connections (more opened during the churn, so SYNs meet slot changes) echo
//! continuously while members are added, drained, re-weighted and removed several times a second.
//! No connection whose member is still configured may see a reset, a stall or another server.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const SERVERS: usize = 4;
const CONNECTIONS: usize = 200;
/// Between member changes: 5 per second.
const CHANGE_EVERY: Duration = Duration::from_millis(200);
const CHURN: Duration = Duration::from_secs(8);

struct Conn {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
    server: usize,
}

fn open(lab: &Lab) -> Conn {
    let (stream, name) = connect(lab, 80).expect("connects through the VIP");
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    Conn {
        reader: BufReader::new(stream.try_clone().unwrap()),
        stream,
        server: name[1..].parse().expect("greeting s<i>"),
    }
}

fn member(i: usize) -> String {
    format!("{}:8080", server_addr(i))
}

#[test]
fn two_hundred_connections_survive_member_churn_without_a_reset() {
    if !can_run_live("two_hundred_connections_survive_member_churn_without_a_reset") {
        return;
    }
    for backend in BACKENDS {
        let services = format!(
            "[[service]]\nname = \"web\"\nvip = \"{VIP}\"\nport = 80\nproto = \"tcp\"\npolicy = \"maglev\"\nmembers = [ {} ]\n",
            (0..3)
                .map(|i| format!("{{ addr = \"{}\", port = 8080, out_port = 1 }}", server_addr(i)))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let lab = Lab::start(backend, SERVERS, &services);
        let _servers = lab.echo_servers();
        lab.wait_resolved("web");
        let mut conns: Vec<Conn> = (0..CONNECTIONS).map(|_| open(&lab)).collect();
        // Server 3 comes and goes; the others are drained, re-weighted and restored.
        let changes: Vec<Vec<String>> = [
            vec!["add", "web", &member(3)],
            vec!["set-weight", "web", &member(1), "3"],
            vec!["drain", "web", &member(0)],
            vec!["set-weight", "web", &member(2), "2"],
            vec!["set-weight", "web", &member(0), "1"],
            vec!["remove", "web", &member(3)],
            vec!["set-weight", "web", &member(1), "1"],
            vec!["set-weight", "web", &member(2), "1"],
        ]
        .iter()
        .map(|c| c.iter().map(|s| s.to_string()).collect())
        .collect();
        let (mut present, mut applied, mut echoes, mut opened, mut lost) =
            ([true, true, true, false], 0, 0u64, 0, 0);
        let start = Instant::now();
        let mut next_change = start + CHANGE_EVERY;
        while start.elapsed() < CHURN {
            for k in 0..conns.len() {
                if Instant::now() >= next_change {
                    let change = &changes[applied % changes.len()];
                    let mut args = vec!["member"];
                    args.extend(change.iter().map(String::as_str));
                    lab.ctl(&args);
                    if change[0] == "add" {
                        present[3] = true;
                    } else if change[0] == "remove" {
                        present[3] = false;
                        // Connections to a removed member end; the client closes them.
                        let before = conns.len();
                        conns.retain(|c| c.server != 3);
                        lost += before - conns.len();
                    }
                    applied += 1;
                    next_change += CHANGE_EVERY;
                    // New connections right after each change meet fresh slots.
                    for _ in 0..2 {
                        conns.push(open(&lab));
                        opened += 1;
                    }
                    break;
                }
                let c = &mut conns[k];
                assert!(present[c.server]);
                let msg = format!("conn {k} echo {echoes}\n");
                c.stream.write_all(msg.as_bytes()).unwrap_or_else(|e| {
                    panic!("{backend}: conn {k} to s{}: write failed: {e}", c.server)
                });
                let mut back = String::new();
                c.reader.read_line(&mut back).unwrap_or_else(|e| {
                    panic!(
                        "{backend}: conn {k} to s{}: reset or stalled after {applied} changes: {e}",
                        c.server
                    )
                });
                assert_eq!(back, msg, "{backend}: conn {k} to s{}", c.server);
                echoes += 1;
            }
        }
        // Every connection still open answers once more, from its own server.
        for c in &mut conns {
            c.stream.write_all(b"last\n").unwrap();
            let mut back = String::new();
            c.reader.read_line(&mut back).unwrap();
            assert_eq!(back, "last\n");
        }
        println!(
            "{backend}: {} connections open at the end ({opened} opened during the churn, {lost} \
             closed with their removed member), {applied} member changes in {:?}, {echoes} \
             echoes, no reset",
            conns.len(),
            start.elapsed()
        );
        assert!(
            applied as f64 >= CHURN.as_secs_f64() * 2.0,
            "{applied} changes"
        );
        assert!(conns.len() >= CONNECTIONS);
    }
}
