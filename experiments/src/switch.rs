//! The switch side of a run: `anypoint-ctl run --backend model` in the edge namespace, its TAP ports
//! bridged into the lab, serving one `proto = "acp"` service over the lab's servers.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anypoint_model::frame_switch::{Policy, DEFAULT_MAX_HOLES, DEFAULT_W};

use crate::lab::{server_addr, server_mac, Net, CLIENT, EDGE_UP, PORT, VIP};

/// The policy's name in the daemon's config.
pub fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::KeyHash { .. } => "key-hash",
        Policy::RoundRobin => "round-robin",
        Policy::SpeedSensitive => "speed-sensitive",
    }
}

/// The daemon's config: port 0 faces the client, port 1 the servers; one frame-switched service.
pub fn config(policy: Policy, servers: usize) -> String {
    let key = match policy {
        Policy::KeyHash { offset, len } => format!("key = {{ offset = {offset}, len = {len} }}\n"),
        _ => String::new(),
    };
    let members: Vec<String> = (0..servers)
        .map(|i| {
            format!(
                "  {{ addr = \"{}\", port = {PORT}, mac = \"{}\", out_port = 1, weight = 1 }},",
                server_addr(i),
                server_mac(i)
            )
        })
        .collect();
    format!(
        r#"[[port]]
id = 0
mac = "02:00:00:00:00:10"
addr = "10.77.0.1/24"
next_hop = "{CLIENT}"
[[port]]
id = 1
mac = "02:00:00:00:00:11"
addr = "{EDGE_UP}/24"

[[service]]
name = "frames"
vip = "{VIP}"
port = {PORT}
proto = "acp"
policy = "{policy}"
{key}frame_window = {DEFAULT_W}
max_holes = {DEFAULT_MAX_HOLES}
members = [
{members}
]
"#,
        policy = policy_name(policy),
        members = members.join("\n")
    )
}

/// A running daemon, stopped on drop.
pub struct Daemon {
    child: Child,
    bin: PathBuf,
    pub socket: PathBuf,
}

/// Starts the daemon with [`config`] in `net`'s edge namespace and bridges its ports; the error
/// says why it did not come up (its log when it exited).
pub fn start(bin: &Path, net: &Net, policy: Policy, dir: &Path) -> Result<Daemon, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let cfg = dir.join("switch.toml");
    std::fs::write(&cfg, config(policy, net.servers.len()))
        .map_err(|e| format!("{}: {e}", cfg.display()))?;
    let socket = dir.join("anypoint.sock");
    let log = dir.join("daemon.log");
    let _ = std::fs::remove_file(&socket);
    let stderr = File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let child = net
        .edge
        .cmd(&bin.to_string_lossy())
        .args([
            "run",
            "--backend",
            "model",
            "--port",
            "0=tap:tap0",
            "--port",
            "1=tap:tap1",
        ])
        .arg("--config")
        .arg(&cfg)
        .arg("--socket")
        .arg(&socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| format!("{}: {e}", bin.display()))?;
    let mut d = Daemon {
        child,
        bin: bin.to_path_buf(),
        socket,
    };
    let t0 = Instant::now();
    while !d.socket.exists() {
        if let Ok(Some(status)) = d.child.try_wait() {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let last = text.lines().last().unwrap_or("").trim().to_string();
            return Err(format!("the daemon exited ({status}): {last}"));
        }
        if t0.elapsed() > Duration::from_secs(30) {
            return Err("the daemon's control socket did not appear within 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for (tap, br) in [("tap0", "br0"), ("tap1", "br1")] {
        net.edge.ip(&["link", "set", tap, "master", br]);
    }
    Ok(d)
}

impl Daemon {
    /// Frame ring entries in use, most over the switch's ACP flows (`stats --json`: each acp
    /// service's `max_in_frames` / `max_out_frames`).
    pub fn ring_occupancy(&self) -> Option<u64> {
        largest_field(&self.stats()?, &RING_FIELDS)
    }

    /// The daemon's figures for the frame-switched service (`stats --json`, its `acp` entry):
    /// segments by kind, fast/slow, events, unsent.
    pub fn acp_stats(&self) -> Option<serde_json::Value> {
        self.stats()?.get("acp")?.get(0).cloned()
    }

    /// `anypoint-ctl stats --json` of the running daemon.
    fn stats(&self) -> Option<serde_json::Value> {
        let out = Command::new(&self.bin)
            .args(["stats", "--json", "--socket"])
            .arg(&self.socket)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    }
}

const RING_FIELDS: [&str; 2] = ["max_in_frames", "max_out_frames"];

/// The largest number under any of `names`, anywhere in `v`.
fn largest_field(v: &serde_json::Value, names: &[&str]) -> Option<u64> {
    match v {
        serde_json::Value::Object(m) => m
            .iter()
            .filter_map(|(k, x)| match x.as_u64() {
                Some(n) if names.contains(&k.as_str()) => Some(n),
                _ => largest_field(x, names),
            })
            .max(),
        serde_json::Value::Array(a) => a.iter().filter_map(|x| largest_field(x, names)).max(),
        _ => None,
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signals our own child.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_is_toml_of_the_daemons_shape() {
        let c: toml::Table = config(Policy::KeyHash { offset: 2, len: 4 }, 4)
            .parse()
            .unwrap();
        let ports = c["port"].as_array().unwrap();
        assert_eq!(ports.len(), 2);
        assert_eq!(ports[1]["addr"].as_str(), Some("10.77.1.1/24"));
        let s = &c["service"].as_array().unwrap()[0];
        assert_eq!(s["proto"].as_str(), Some("acp"));
        assert_eq!(s["vip"].as_str(), Some("10.77.0.100"));
        assert_eq!(s["policy"].as_str(), Some("key-hash"));
        assert_eq!(s["key"]["offset"].as_integer(), Some(2));
        assert_eq!(s["key"]["len"].as_integer(), Some(4));
        assert_eq!(s["frame_window"].as_integer(), Some(384));
        assert_eq!(s["max_holes"].as_integer(), Some(8));
        let m = s["members"].as_array().unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(m[3]["addr"].as_str(), Some("10.77.1.14"));
        assert_eq!(m[3]["mac"].as_str(), Some("02:00:00:00:01:0e"));
        assert_eq!(m[3]["out_port"].as_integer(), Some(1));
        let rr: toml::Table = config(Policy::RoundRobin, 2).parse().unwrap();
        let s = &rr["service"].as_array().unwrap()[0];
        assert_eq!(s["policy"].as_str(), Some("round-robin"));
        assert!(s.get("key").is_none());
    }

    #[test]
    fn largest_field_finds_nested_counts() {
        let v = serde_json::json!([{"flow": {"in_frames": 3, "out_frames": 9}}, {"in_frames": 40}]);
        assert_eq!(largest_field(&v, &["in_frames", "out_frames"]), Some(40));
        assert_eq!(
            largest_field(&serde_json::json!({"x": 1}), &["in_frames"]),
            None
        );
    }
}
