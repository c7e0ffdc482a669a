//! ACP connections switched frame by frame through the daemon (`proto = "acp"`, the host slow path
//! of docs/frame-switching.md): a real ACP client (acp::Endpoint) in the client namespace, three
//! ACP servers behind the switch, the client's link impaired by acp::testing::Impair. Root only;
//! each test prints SKIP otherwise. The oracles are what the applications read.

mod common;

use acp::{Config, Endpoint, Stream};
use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddrV4;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The daemon's in-process backends: the reference model and the Verilated RTL.
const ACP_BACKENDS: &[&str] = &["model", "rtl"];
const PORT: u16 = 7000;
const SERVERS: usize = 3;
/// Distinct request keys.
const KEYS: u32 = 64;

fn service(policy: &str) -> String {
    let members: Vec<String> = (0..SERVERS)
        .map(|i| {
            format!(
                "{{ addr = \"{}\", port = {PORT}, out_port = 1 }}",
                server_addr(i)
            )
        })
        .collect();
    format!(
        "[[service]]\nname = \"frames\"\nvip = \"{VIP}\"\nport = {PORT}\nproto = \"acp\"\n{policy}\nmembers = [ {} ]\n",
        members.join(", ")
    )
}

fn key_hash() -> String {
    service("policy = \"key-hash\"\nkey = { offset = 0, len = 4 }")
}

fn cfg() -> Config {
    Config {
        rto_initial: Duration::from_millis(500),
        rto_min: Duration::from_millis(100),
        // The switch has no timers: a hole at the tail of the exchange waits for the client's
        // timeout, and without new data to time (Karn) its backed-off RTO would reach the 60 s
        // default cap, as long as the reads' 60 s timeout. This lab's round trip is well below 1 ms.
        rto_max: Duration::from_secs(2),
        time_wait: Duration::from_millis(200),
        ..Config::default()
    }
}

/// Request `i`: its key, its index, then 0 to 299 bytes derived from it.
fn request(i: u32) -> Vec<u8> {
    let mut f = (i % KEYS).to_be_bytes().to_vec();
    f.extend_from_slice(&i.to_be_bytes());
    f.extend((0..(i as usize * 7919) % 300).map(|k| (k as u8) ^ (i as u8)));
    f
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// Requests each server read, in the order it read them.
type Reads = Vec<Arc<Mutex<Vec<u32>>>>;

/// One ACP server per server namespace on port 7000, taking `conns` connections, each on its own
/// thread: for each request it reads it records the index (after checking the request's bytes)
/// and answers `[server][index]` plus padding; closes when the client has. Threads of a server
/// that stops hearing from the switch end on their own.
fn servers(lab: &Lab, conns: usize) -> Reads {
    (0..SERVERS)
        .map(|i| {
            let reads = Arc::new(Mutex::new(Vec::new()));
            let ep = in_ns(&lab.servers[i].name, move || {
                Endpoint::bind(server_addr(i), cfg()).expect("raw socket for protocol 253")
            });
            // Listening before the client connects: a SYN to no listener gets a RST.
            let mut listener = ep.listen(PORT).expect("listens");
            let r = reads.clone();
            std::thread::spawn(move || {
                let _ep = ep;
                listener.set_timeout(Some(Duration::from_secs(120)));
                let served: Vec<_> = (0..conns)
                    .map_while(|_| listener.accept().ok())
                    .map(|conn| {
                        let r = r.clone();
                        std::thread::spawn(move || serve(i, conn, &r))
                    })
                    .collect();
                for s in served {
                    let _ = s.join();
                }
            });
            reads
        })
        .collect()
}

/// Server `i`'s side of one connection.
fn serve(i: usize, mut conn: Stream, reads: &Mutex<Vec<u32>>) -> std::io::Result<()> {
    conn.set_timeout(Some(Duration::from_secs(60)));
    while let Some(f) = conn.recv_frame()? {
        let i_req = be32(&f, 4);
        assert_eq!(f, request(i_req), "server {i}: request {i_req} corrupted");
        reads.lock().unwrap().push(i_req);
        let mut reply = vec![i as u8];
        reply.extend_from_slice(&i_req.to_be_bytes());
        reply.resize(5 + (i_req as usize * 31) % 200, 0xa5);
        conn.send_frame(&reply)?;
    }
    conn.close()?;
    conn.wait_closed(Duration::from_secs(30))
}

/// The client's connection to the VIP.
fn client(lab: &Lab) -> (Endpoint, Stream) {
    let ep = in_ns(&lab.client.name, || {
        Endpoint::bind(CLIENT, cfg()).expect("raw socket for protocol 253")
    });
    let mut conn = ep
        .connect(SocketAddrV4::new(VIP, PORT))
        .expect("connects to the VIP");
    conn.set_timeout(Some(Duration::from_secs(60)));
    (ep, conn)
}

/// Sends requests `0..n`, closes, and reads replies `(server, index)` until the merged stream
/// ends; `during(replies so far)` runs after each reply. With `hold = Some((k, go))` the sender
/// stops after request `k - 1` until `go` fires, so what `during` changes is in place before
/// requests `k..n` leave the client.
fn exchange(
    conn: &Stream,
    n: u32,
    hold: Option<(u32, mpsc::Receiver<()>)>,
    during: impl FnMut(usize),
) -> Result<Vec<(u8, u32)>, String> {
    exchange_from(conn, 0, n, hold, during)
}

/// [`exchange`] with requests `first..first + n`.
fn exchange_from(
    conn: &Stream,
    first: u32,
    n: u32,
    hold: Option<(u32, mpsc::Receiver<()>)>,
    mut during: impl FnMut(usize),
) -> Result<Vec<(u8, u32)>, String> {
    std::thread::scope(|s| {
        s.spawn(move || {
            for i in first..first + n {
                if let Some((k, go)) = &hold {
                    if i == *k {
                        go.recv().expect("the reader releases the sender");
                    }
                }
                conn.send_frame(&request(i))
                    .unwrap_or_else(|e| panic!("request {i}: {e}"));
            }
            conn.close().unwrap();
        });
        let mut replies = Vec::new();
        loop {
            match conn.recv_frame() {
                Ok(Some(f)) => {
                    replies.push(reply_of(&f));
                    during(replies.len());
                }
                Ok(None) => return Ok(replies),
                Err(e) => return Err(format!("after {} replies: {e}", replies.len())),
            }
        }
    })
}

/// What the applications saw, checked against each other: every reply once, each server's replies
/// exactly the requests it read and in its order (`removed`: some of them, in order; the others
/// were lost with it), every request read, and no request read by two live servers.
fn check(replies: &[(u8, u32)], reads: &[Vec<u32>], n: u32, removed: Option<usize>) {
    let mut seen = BTreeSet::new();
    for r in replies {
        assert!(seen.insert(r.1), "reply {} arrived twice", r.1);
    }
    for (s, read) in reads.iter().enumerate() {
        let got: Vec<u32> = replies
            .iter()
            .filter(|r| usize::from(r.0) == s)
            .map(|r| r.1)
            .collect();
        if Some(s) == removed {
            // Its replies lost on the client's link became null frames: the rest, in order.
            let mut left = read.iter();
            assert!(
                got.iter().all(|g| left.any(|r| r == g)),
                "server {s}: its replies in the order it read the requests"
            );
        } else {
            assert_eq!(&got, read, "server {s}: replies = requests read, in order");
        }
    }
    let mut owner: BTreeMap<u32, usize> = BTreeMap::new();
    for (s, read) in reads.iter().enumerate() {
        for &i in read {
            if let Some(o) = owner.insert(i, s) {
                assert!(
                    Some(o) == removed || Some(s) == removed,
                    "request {i} read by live servers {o} and {s}"
                );
            }
        }
    }
    assert_eq!(
        owner.keys().copied().collect::<Vec<u32>>(),
        (0..n).collect::<Vec<u32>>(),
        "every request read"
    );
}

/// Each server read its requests in the client's order; each key stayed on one server and the
/// keys used every server.
fn check_in_order_by_key(reads: &[Vec<u32>]) {
    let mut server_of_key: BTreeMap<u32, usize> = BTreeMap::new();
    for (s, read) in reads.iter().enumerate() {
        assert!(
            read.windows(2).all(|w| w[0] < w[1]),
            "server {s} out of order"
        );
        for &i in read {
            let first = *server_of_key.entry(i % KEYS).or_insert(s);
            assert_eq!(first, s, "key {} on servers {first} and {s}", i % KEYS);
        }
    }
    let used: BTreeSet<usize> = server_of_key.values().copied().collect();
    assert_eq!(used.len(), SERVERS, "{server_of_key:?}");
}

/// The exchange's replies; a stalled one fails with what each end got and the switch's counters.
fn done(
    lab: &Lab,
    reads: &Reads,
    conn: &Stream,
    r: Result<Vec<(u8, u32)>, String>,
) -> Vec<(u8, u32)> {
    r.unwrap_or_else(|e| {
        let read: Vec<usize> = reads.iter().map(|r| r.lock().unwrap().len()).collect();
        panic!(
            "{e}; servers read {read:?}; client {:?} {:?}; switch {}; members {}",
            conn.state(),
            conn.stats(),
            lab.json(&["stats"]),
            lab.json(&["member", "list", "frames"])
        )
    })
}

fn snapshot(reads: &Reads) -> Vec<Vec<u32>> {
    reads.iter().map(|r| r.lock().unwrap().clone()).collect()
}

/// The acp service's counters from `stats --json`, printed for the record.
fn acp_stats(lab: &Lab, backend: &str, what: &str) -> serde_json::Value {
    let stats = lab.json(&["stats"]);
    let a = stats["acp"][0].clone();
    eprintln!(
        "{backend} {what}: fast {} slow {} device {} {} loads refused {} sent {} unsent {} flows {} kinds {} events {}",
        a["fast"],
        a["slow"],
        a["device"],
        a["device_segments"],
        a["device_loads_refused"],
        a["sent"],
        a["unsent"],
        a["flows"],
        a["segments"],
        a["events"]
    );
    a
}

fn lossy() -> Profile {
    Profile {
        loss: 0.01,
        reorder: 0.01,
        reorder_delay: Duration::from_millis(3),
        protocol: Some(acp::wire::PROTOCOL),
        ..Profile::default()
    }
}

#[test]
fn ten_thousand_keyed_requests_through_a_lossy_client_link() {
    if !can_run_live("ten_thousand_keyed_requests_through_a_lossy_client_link") {
        return;
    }
    for backend in ACP_BACKENDS {
        let lab = Lab::start(backend, SERVERS, &key_hash());
        let relay = lab.impair_client(lossy(), lossy(), 7);
        lab.wait_resolved("frames");
        let reads = servers(&lab, 1);
        let (_ep, conn) = client(&lab);
        let n = 10_000;
        let t0 = Instant::now();
        let replies = done(&lab, &reads, &conn, exchange(&conn, n, None, |_| {}));
        let elapsed = t0.elapsed();
        let reads = snapshot(&reads);
        check(&replies, &reads, n, None);
        check_in_order_by_key(&reads);
        assert_eq!(replies.len(), n as usize);
        let impaired = relay.counts();
        assert!(
            impaired.dropped > 0 && impaired.reordered > 0,
            "{impaired:?}"
        );
        let a = acp_stats(
            &lab,
            backend,
            &format!("{n} requests in {elapsed:?}, {impaired:?}"),
        );
        assert!(a["segments"]["split"].as_u64().unwrap() > 0, "{a}");
        assert!(a["segments"]["hole_open"].as_u64().unwrap() > 0, "{a}");
        // Acks and single frames both ways: the device's engine (the RTL's on rtl).
        let device = &a["device_segments"];
        for kind in ["in_ack", "out_ack", "out_data"] {
            assert!(device[kind].as_u64().is_some_and(|n| n > 0), "{kind}: {a}");
        }
        let members = lab.json(&["member", "list", "frames"]);
        assert!(members
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["in_packets"].as_u64().unwrap() > 0));
    }
}

#[test]
fn a_member_removed_mid_connection_leaves_the_rest_serving_it() {
    if !can_run_live("a_member_removed_mid_connection_leaves_the_rest_serving_it") {
        return;
    }
    for backend in ACP_BACKENDS {
        let lab = Lab::start(backend, SERVERS, &key_hash());
        let _relay = lab.impair_client(lossy(), lossy(), 11);
        lab.wait_resolved("frames");
        let reads = servers(&lab, 1);
        let (_ep, conn) = client(&lab);
        let n = 4_000;
        let victim = 1;
        let member = format!("{}:{PORT}", server_addr(victim));
        let mut removed_at = None;
        // Requests from 2,000 on leave after the removal: the victim's keys among them must
        // go to the others.
        let (go, hold) = mpsc::channel();
        let r = exchange(&conn, n, Some((2_000, hold)), |got| {
            if got == 1_500 {
                lab.ctl(&["member", "remove", "frames", &member]);
                removed_at = Some(reads[victim].lock().unwrap().len());
                go.send(()).unwrap();
            }
        });
        let replies = done(&lab, &reads, &conn, r);
        let reads = snapshot(&reads);
        check(&replies, &reads, n, Some(victim));
        let removed_at = removed_at.expect("removed during the exchange");
        assert!(
            reads[victim].len() < n as usize / 3,
            "the removed server read {} of {n} (it had {removed_at} when removed)",
            reads[victim].len()
        );
        // Its keys moved to the others: requests with a key it had were read by live servers
        // after it went.
        let victim_keys: BTreeSet<u32> = reads[victim].iter().map(|i| i % KEYS).collect();
        let last = *reads[victim].iter().max().unwrap();
        let moved = reads
            .iter()
            .enumerate()
            .filter(|(s, _)| *s != victim)
            .flat_map(|(_, r)| r.iter())
            .filter(|&&i| i > last && victim_keys.contains(&(i % KEYS)))
            .count();
        assert!(moved > 0, "no key of the removed server moved");
        acp_stats(&lab, backend, "member removed");
        let members = lab.json(&["member", "list", "frames"]);
        assert_eq!(members.as_array().unwrap().len(), SERVERS - 1);
    }
}

#[test]
fn a_retransmission_storm_still_delivers_everything_once_in_order() {
    if !can_run_live("a_retransmission_storm_still_delivers_everything_once_in_order") {
        return;
    }
    for backend in ACP_BACKENDS {
        let lab = Lab::start(backend, SERVERS, &key_hash());
        let storm = Profile {
            loss: 0.05,
            reorder: 0.2,
            reorder_delay: Duration::from_millis(5),
            duplicate: 0.3,
            protocol: Some(acp::wire::PROTOCOL),
            ..Profile::default()
        };
        let relay = lab.impair_client(storm, storm, 13);
        lab.wait_resolved("frames");
        let reads = servers(&lab, 1);
        let (_ep, conn) = client(&lab);
        let n = 3_000;
        // A blackout of the client's link after 1,000 replies: the client times out and sends
        // its window again, the switch sees everything twice or more.
        let r = exchange(&conn, n, None, |got| {
            if got == 1_000 {
                lab.switch.ip(&["link", "set", "c", "down"]);
                std::thread::sleep(Duration::from_secs(2));
                lab.switch.ip(&["link", "set", "c", "up"]);
            }
        });
        let replies = done(&lab, &reads, &conn, r);
        let reads = snapshot(&reads);
        check(&replies, &reads, n, None);
        check_in_order_by_key(&reads);
        let impaired = relay.counts();
        assert!(impaired.duplicated > 0, "{impaired:?}");
        let a = acp_stats(&lab, backend, &format!("storm {impaired:?}"));
        assert!(a["segments"]["stale"].as_u64().unwrap() > 0, "{a}");
    }
}

/// A reply's (server, request index).
fn reply_of(f: &[u8]) -> (u8, u32) {
    (f[0], be32(f, 1))
}

/// Sends requests `range` and reads as many replies `(server, index)`; the connection stays open.
/// `one_by_one`: each request waits for the reply before it.
fn batch(conn: &Stream, range: std::ops::Range<u32>, one_by_one: bool) -> Vec<(u8, u32)> {
    let reply = |k: u32| match conn.recv_frame() {
        Ok(Some(f)) => reply_of(&f),
        got => panic!("reply {k}: {got:?}"),
    };
    let send = |i: u32| {
        conn.send_frame(&request(i))
            .unwrap_or_else(|e| panic!("request {i}: {e}"))
    };
    if one_by_one {
        return range
            .map(|i| {
                send(i);
                reply(i)
            })
            .collect();
    }
    std::thread::scope(|s| {
        let sent = range.clone();
        s.spawn(move || sent.for_each(send));
        range.map(reply).collect()
    })
}

/// The device's own ACP block behind vfio-user (`sim-device`, both datapaths), then a reset behind
/// the daemon's back (SIGUSR1: power-on state, the block's records gone): the connection the block
/// held is forgotten and the client's next segment is answered with a reset; a new connection is
/// switched whole, the block taking its segments again (its count of given-back records and its
/// neighbour table restarted with the daemon's, docs/frame-switching.md section 10). Each
/// connection sends a batch of requests, packed several to a segment (the host's), then requests
/// one at a time, at once: one frame a segment, the block's once the daemon has loaded the flow,
/// which it tries after each record it reads (the fence refusing it while a record of the flow is
/// queued), with no pause for a quiet link.
#[test]
fn the_device_block_over_vfio_user_and_a_reset_behind_the_daemon() {
    if !can_run_live("the_device_block_over_vfio_user_and_a_reset_behind_the_daemon") {
        return;
    }
    // Request indices of the second connection: a multiple of KEYS, so keys stay where they were.
    const SECOND: u32 = 1 << 20;
    let (first, n) = (100, 200);
    let taken = |a: &serde_json::Value, kind: &str| a["device_segments"][kind].as_u64();
    for backend in ["vfio-user:model", "vfio-user:rtl"] {
        let lab = Lab::start(backend, SERVERS, &key_hash());
        lab.wait_resolved("frames");
        let reads = servers(&lab, 2);
        let (ep, conn) = client(&lab);
        batch(&conn, 0..first, false);
        batch(&conn, first..n, true);
        let before = acp_stats(&lab, backend, "before the reset");
        for kind in ["in_ack", "out_ack", "out_data"] {
            assert!(taken(&before, kind) > Some(0), "{kind}: {before}");
        }
        // The one-at-a-time requests' 400 segments: the block's from the first request on (393
        // to 399 in runs on both datapaths), the daemon loading the flow before it sends.
        let device = before["device"].as_u64().unwrap();
        assert!(device >= 300, "the block took {device} segments: {before}");
        // `stats` reads the block's counts and leaves the flow loaded: the next request is the
        // block's.
        batch(&conn, n..n + 1, true);
        let again = acp_stats(&lab, backend, "one more request");
        let one_more = taken(&before, "in_data").map(|k| k + 1);
        assert_eq!(taken(&again, "in_data"), one_more, "{again}");

        lab.daemon.device.as_ref().unwrap().signal(libc::SIGUSR1);
        wait_for("the reset to be recovered", Duration::from_secs(10), || {
            (lab.json(&["stats"])["slow_path"]["resets"].as_u64() == Some(1)).then_some(())
        });
        let after = acp_stats(&lab, backend, "after the reset");
        assert_eq!(after["device_flows_lost"], 1, "{after}");
        assert_eq!(after["flows"], 0, "{after}");
        conn.send_frame(&request(n + 1)).unwrap();
        let err = conn.recv_frame().expect_err("the connection is reset");
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
        drop((conn, ep));

        let first_reads: Vec<usize> = snapshot(&reads).iter().map(Vec::len).collect();
        let (_ep, conn) = client(&lab);
        let mut replies = batch(&conn, SECOND..SECOND + first, false);
        replies.extend(batch(&conn, SECOND + first..SECOND + n, true));
        let r = exchange_from(&conn, SECOND + n, 0, None, |_| {});
        replies.extend(done(&lab, &reads, &conn, r));
        let replies: Vec<(u8, u32)> = replies.iter().map(|&(s, i)| (s, i - SECOND)).collect();
        let reads: Vec<Vec<u32>> = snapshot(&reads)
            .iter()
            .zip(first_reads)
            .map(|(r, k)| r[k..].iter().map(|i| i - SECOND).collect())
            .collect();
        check(&replies, &reads, n, None);
        check_in_order_by_key(&reads);
        let end = acp_stats(&lab, backend, "second connection");
        for kind in ["in_ack", "out_ack", "out_data"] {
            assert!(
                taken(&end, kind) > taken(&before, kind),
                "the block took {kind} segments again: {end}"
            );
        }
    }
}

/// Whether a flow whose peer is `peer` shares a fence bucket with a busy end: the VIP, a server,
/// or `other` (docs/pipeline.md section 12). Such a flow's loads wait for the busy end's records.
fn shares_a_bucket(peer: SocketAddrV4, other: SocketAddrV4) -> bool {
    let bucket = |a: SocketAddrV4| anypoint_model::acp_fence_bucket(*a.ip(), a.port());
    let busy = (0..SERVERS)
        .map(|i| SocketAddrV4::new(server_addr(i), PORT))
        .chain([SocketAddrV4::new(VIP, PORT), other]);
    busy.map(bucket).any(|b| b == bucket(peer))
}

/// Two connections over vfio-user: one streams 3,000 pipelined requests, packed several to a
/// segment (the host's, its records always queued), while the other sends 300 requests one at a
/// time. The quiet connection's flow is loaded beside the busy one's records (the fence counts by
/// bucket of address and port, and the daemon loads after each segment it handles), so the block
/// takes its segments from the start; every reply comes back on both.
#[test]
fn a_quiet_connection_is_the_blocks_beside_a_busy_one() {
    if !can_run_live("a_quiet_connection_is_the_blocks_beside_a_busy_one") {
        return;
    }
    const BUSY: u32 = 1 << 20;
    let backend = "vfio-user:model";
    let lab = Lab::start(backend, SERVERS, &key_hash());
    lab.wait_resolved("frames");
    let _reads = servers(&lab, 3);
    let (ep, busy) = client(&lab);
    let busy_addr = SocketAddrV4::new(CLIENT, busy.local_port());
    // A quiet connection whose peer shares no bucket with the busy ends (one in about 13 would).
    let quiet = std::iter::repeat_with(|| ep.connect(SocketAddrV4::new(VIP, PORT)).unwrap())
        .take(2)
        .find(|c| !shares_a_bucket(SocketAddrV4::new(CLIENT, c.local_port()), busy_addr))
        .expect("one of two connections in a bucket of its own");
    let (mut quiet, mut busy) = (quiet, busy);
    quiet.set_timeout(Some(Duration::from_secs(60)));
    busy.set_timeout(Some(Duration::from_secs(60)));
    let (busy_replies, quiet_replies) = std::thread::scope(|s| {
        let streaming = s.spawn(|| batch(&busy, BUSY..BUSY + 3000, false));
        let q = batch(&quiet, 0..300, true);
        (streaming.join().unwrap(), q)
    });
    let indices = |r: &[(u8, u32)]| r.iter().map(|&(_, i)| i).collect::<Vec<_>>();
    assert_eq!(indices(&quiet_replies), (0..300).collect::<Vec<_>>());
    let mut busy_got = indices(&busy_replies);
    busy_got.sort_unstable();
    assert_eq!(busy_got, (BUSY..BUSY + 3000).collect::<Vec<_>>());
    let a = acp_stats(&lab, backend, "two connections");
    // The quiet connection's 1,200 segments are all of kinds the block takes, the busy one's
    // mostly not: the block took the quiet one's, less those before its first load.
    let device = a["device"].as_u64().unwrap();
    assert!(device >= 1000, "the block took {device} segments: {a}");
    drop(ep);
}
