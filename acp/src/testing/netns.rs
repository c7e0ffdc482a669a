//! Network namespaces created and deleted by the test that uses them.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// True when the process can build namespaces (root with CAP_NET_ADMIN); otherwise prints why
/// `test` is skipped.
pub fn can_run_live(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let why = if unsafe { libc::geteuid() } != 0 {
        "needs root for network namespaces, raw sockets and TAP devices"
    } else if !has_net_admin() {
        "root, but without CAP_NET_ADMIN (a restricted container?)"
    } else {
        return true;
    };
    println!("SKIP {test}: {why}");
    false
}

/// Whether CAP_NET_ADMIN (bit 12) is in this process's effective capabilities.
fn has_net_admin() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps >> 12 & 1 == 1)
}

/// Runs `ip ARGS`, panicking with its stderr when it fails.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("ip {args:?}: {e} (install iproute2)"));
    assert!(
        out.status.success(),
        "ip {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace with `lo` up, deleted on drop. Names are unique per process and call.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "acp{}-{}{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        // One of this name can only be left by a killed process that had this pid: take its place.
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// A command run inside the namespace.
    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// `ip -n NS ARGS`.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A veth pair: `a_if` in `a` with `a_addr` (CIDR, or none), `b_if` in `b` likewise; both up.
pub fn veth(
    a: &Netns,
    a_if: &str,
    a_addr: Option<&str>,
    b: &Netns,
    b_if: &str,
    b_addr: Option<&str>,
) {
    a.ip(&[
        "link", "add", a_if, "type", "veth", "peer", "name", b_if, "netns", &b.name,
    ]);
    for (ns, ifname, addr) in [(a, a_if, a_addr), (b, b_if, b_addr)] {
        if let Some(addr) = addr {
            ns.ip(&["addr", "add", addr, "dev", ifname]);
        }
        ns.ip(&["link", "set", ifname, "up"]);
    }
}

/// Client and server namespaces on one veth link: `eth0` in each, with addresses `client` and
/// `server` (CIDR).
pub fn direct(client: &str, server: &str) -> [Netns; 2] {
    let (c, s) = (Netns::new("c"), Netns::new("s"));
    veth(&c, "eth0", Some(client), &s, "eth0", Some(server));
    [c, s]
}

/// Client and server namespaces joined through a relay namespace whose two veth ends, `ra`
/// (client side) and `rb` (server side), have no address: the impairment relay bridges them.
pub fn relayed(client: &str, server: &str) -> [Netns; 3] {
    let (c, r, s) = (Netns::new("c"), Netns::new("r"), Netns::new("s"));
    veth(&c, "eth0", Some(client), &r, "ra", None);
    veth(&r, "rb", None, &s, "eth0", Some(server));
    [c, r, s]
}

/// Runs `f` on a thread inside the namespace named `ns`: sockets it creates belong to that
/// namespace for their whole life, whichever thread uses them later.
pub fn spawn_in<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let file = File::open(format!("/run/netns/{ns}")).expect("namespace exists");
    std::thread::spawn(move || {
        // SAFETY: setns on this thread only, with a namespace descriptor we own.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
}

/// `spawn_in`, joined.
pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    spawn_in(ns, f).join().expect("thread in namespace")
}
