//! ACP endpoints over real raw IP sockets (protocol 253) in network namespaces the tests create
//! and delete, directly on a veth link and through the impairment relay. Root only; each test
//! prints SKIP otherwise.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use acp::testing::{can_run_live, direct, in_ns, relayed, Impair, Netns, Profile};
use acp::{Config, Endpoint, Stream};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 2);
const PORT: u16 = 7000;

fn cfg() -> Config {
    Config {
        rto_initial: Duration::from_millis(200),
        rto_min: Duration::from_millis(20),
        // A tail loss waits for the timeout; backed off to the 60 s default cap it would outlast
        // the tests' read timeouts. The link's round trip is well below 1 ms.
        rto_max: Duration::from_secs(2),
        time_wait: Duration::from_millis(200),
        ..Config::default()
    }
}

/// The client's and the server's addresses on their link (`CLIENT`, `SERVER`).
const CLIENT_CIDR: &str = "10.88.0.1/24";
const SERVER_CIDR: &str = "10.88.0.2/24";

/// Frame `i`: its number, then bytes derived from it; 4 to 1444 bytes.
fn frame(i: u32) -> Vec<u8> {
    let len = 4 + (i as usize * 7919) % 1441;
    let mut f = i.to_be_bytes().to_vec();
    f.extend((0..len - 4).map(|k| (k as u32).wrapping_mul(31) as u8 ^ i as u8));
    f
}

fn endpoint(ns: &Netns, addr: Ipv4Addr) -> Endpoint {
    in_ns(&ns.name, move || {
        Endpoint::bind(addr, cfg()).expect("raw socket for protocol 253")
    })
}

/// The server: echoes every frame until the client closes, then closes.
fn echo(server: &Endpoint) -> std::thread::JoinHandle<u32> {
    let mut listener = server.listen(PORT).unwrap();
    listener.set_timeout(Some(Duration::from_secs(10)));
    std::thread::spawn(move || {
        let mut conn = listener.accept().expect("a connection");
        conn.set_timeout(Some(Duration::from_secs(20)));
        let mut n = 0;
        while let Some(f) = conn.recv_frame().expect("frames until the client closes") {
            conn.send_frame(&f).unwrap();
            n += 1;
        }
        conn.close().unwrap();
        conn.wait_closed(Duration::from_secs(10)).unwrap();
        n
    })
}

/// Sends `n` frames and reads their echoes concurrently; checks every echo, in order, once.
fn echo_client(conn: &Stream, n: u32) {
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..n {
                conn.send_frame(&frame(i)).unwrap();
            }
            conn.close().unwrap();
        });
        for i in 0..n {
            let got = conn
                .recv_frame()
                .unwrap()
                .unwrap_or_else(|| panic!("EOF at echo {i}"));
            assert!(got == frame(i), "echo {i} differs");
        }
        assert_eq!(
            conn.recv_frame().unwrap(),
            None,
            "nothing after the last echo"
        );
    });
    conn.wait_closed(Duration::from_secs(10)).unwrap();
}

#[test]
fn ten_thousand_frames_echoed_between_namespaces() {
    if !can_run_live("ten_thousand_frames_echoed_between_namespaces") {
        return;
    }
    let [c, s] = direct(CLIENT_CIDR, SERVER_CIDR);
    let server = endpoint(&s, SERVER);
    let client = endpoint(&c, CLIENT);
    let echoed = echo(&server);
    let mut conn = client.connect(SocketAddrV4::new(SERVER, PORT)).unwrap();
    conn.set_timeout(Some(Duration::from_secs(20)));
    // MTU 1500: 1500 - 20 (IPv4) - 28 (ACP header with a patch) - 8 (frame header).
    assert_eq!(conn.max_frame_data(), 1444);
    echo_client(&conn, 10_000);
    assert_eq!(echoed.join().unwrap(), 10_000);
    assert_eq!((client.bad_packets(), server.bad_packets()), (0, 0));
}

#[test]
fn ten_thousand_frames_through_loss_reordering_and_duplicates() {
    if !can_run_live("ten_thousand_frames_through_loss_reordering_and_duplicates") {
        return;
    }
    let [c, r, s] = relayed(CLIENT_CIDR, SERVER_CIDR);
    let profile = Profile {
        loss: 0.01,
        reorder: 0.02,
        reorder_delay: Duration::from_millis(2),
        duplicate: 0.005,
        delay: Duration::ZERO,
        protocol: Some(acp::wire::PROTOCOL),
    };
    let impair = in_ns(&r.name, move || {
        Impair::start("ra", "rb", profile, profile, 6).unwrap()
    });
    let server = endpoint(&s, SERVER);
    let client = endpoint(&c, CLIENT);
    let echoed = echo(&server);
    let mut conn = client.connect(SocketAddrV4::new(SERVER, PORT)).unwrap();
    conn.set_timeout(Some(Duration::from_secs(20)));
    echo_client(&conn, 10_000);
    assert_eq!(echoed.join().unwrap(), 10_000);
    let counts = impair.counts();
    let stats = conn.stats().unwrap();
    println!("impairment {counts:?}\nclient {stats:?}");
    assert!(
        counts.dropped > 20 && counts.reordered > 20 && counts.duplicated > 5,
        "{counts:?}"
    );
    assert!(
        stats.retransmitted > 0 && stats.fast_retransmits > 0,
        "{stats:?}"
    );
}

#[test]
fn no_listener_refuses_and_abort_resets() {
    if !can_run_live("no_listener_refuses_and_abort_resets") {
        return;
    }
    let [c, s] = direct(CLIENT_CIDR, SERVER_CIDR);
    let server = endpoint(&s, SERVER);
    let client = endpoint(&c, CLIENT);
    let err = client
        .connect(SocketAddrV4::new(SERVER, 9))
        .expect_err("no listener on port 9");
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);

    let mut listener = server.listen(PORT).unwrap();
    listener.set_timeout(Some(Duration::from_secs(5)));
    let accepted = std::thread::spawn(move || {
        let conn = listener.accept().unwrap();
        assert_eq!(conn.recv_frame().unwrap().unwrap(), b"hello");
        conn.abort();
    });
    let mut conn = client.connect(SocketAddrV4::new(SERVER, PORT)).unwrap();
    conn.set_timeout(Some(Duration::from_secs(5)));
    conn.send_frame(b"hello").unwrap();
    accepted.join().unwrap();
    let err = conn.recv_frame().expect_err("reset");
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
}

#[test]
fn dropping_the_endpoint_ends_blocked_calls() {
    if !can_run_live("dropping_the_endpoint_ends_blocked_calls") {
        return;
    }
    let [_c, s] = direct(CLIENT_CIDR, SERVER_CIDR);
    let server = endpoint(&s, SERVER);
    let listener = server.listen(PORT).unwrap();
    let waiting = std::thread::spawn(move || listener.accept().expect_err("no peer").kind());
    std::thread::sleep(Duration::from_millis(100));
    drop(server);
    assert_eq!(waiting.join().unwrap(), ErrorKind::NotConnected);
}
