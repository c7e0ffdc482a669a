//! The TOML cluster configuration (`docs/config.md`): parsed field by field so that every error names
//! the file, the field (e.g. `service[1].members[0].out_port`) and the reason.

use anypoint_driver::{MemberConfig, PolicyKind, PortConfig, Proto, ServiceConfig};
use anypoint_model::frame_switch::{self, Policy as FramePolicy};
use anypoint_model::HashKey;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::{Table, Value};

/// Indirection slots per service unless the service sets `indirection_slots`.
pub const DEFAULT_INDIR_LOG2: u8 = 12;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `None`: pick a random key at start.
    pub hash_key: Option<HashKey>,
    pub timeouts: Timeouts,
    pub ports: Vec<PortEntry>,
    pub services: Vec<ServiceEntry>,
    /// `proto = "acp"` services: not in the device's service table (the pipeline punts protocol
    /// 253 towards the host); switched frame by frame on the host, which loads established
    /// connections into the device's ACP block.
    pub acp_services: Vec<AcpServiceEntry>,
}

/// A `[[port]]`: what the device is programmed with, plus the slow path's view of the link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortEntry {
    pub port: PortConfig,
    /// The switch's own address on the link (answers ARP and echo; source of its ARP requests).
    pub addr: Option<IfAddr>,
    /// Peer-side router, resolved by ARP into `port.next_hop_mac`.
    pub next_hop: Option<Ipv4Addr>,
}

impl PortEntry {
    pub fn id(&self) -> u8 {
        self.port.id
    }
}

/// An interface address with its prefix length, `10.77.1.1/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IfAddr {
    pub ip: Ipv4Addr,
    pub prefix: u8,
}

impl IfAddr {
    pub fn parse(s: &str) -> Option<IfAddr> {
        let (ip, prefix) = s.split_once('/')?;
        let prefix: u8 = prefix.parse().ok()?;
        (prefix <= 32).then_some(IfAddr {
            ip: ip.parse().ok()?,
            prefix,
        })
    }

    /// Whether `other` is on this address's subnet.
    pub fn contains(&self, other: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0);
        u32::from(self.ip) & mask == u32::from(other) & mask
    }
}

impl std::fmt::Display for IfAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ip, self.prefix)
    }
}

/// Idle timeouts of connection ageing (`[timeouts]`), by protocol and TCP state, after IPVS's
/// defaults (SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE, UDP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP inserted for its SYN, no segment from the member yet.
    pub tcp_syn: Duration,
    /// TCP established.
    pub tcp: Duration,
    /// TCP after a FIN in either direction.
    pub tcp_fin: Duration,
    /// TCP after a RST.
    pub tcp_rst: Duration,
    pub udp: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp_syn: Duration::from_secs(60),
            tcp: Duration::from_secs(900),
            tcp_fin: Duration::from_secs(120),
            tcp_rst: Duration::from_secs(10),
            udp: Duration::from_secs(300),
        }
    }
}

impl Timeouts {
    /// The `[timeouts]` keys with their values, in the order docs/config.md lists them.
    pub fn entries(&self) -> [(&'static str, Duration); 5] {
        [
            ("tcp_syn", self.tcp_syn),
            ("tcp", self.tcp),
            ("tcp_fin", self.tcp_fin),
            ("tcp_rst", self.tcp_rst),
            ("udp", self.udp),
        ]
    }
}

/// Port towards peers when a service does not name one: the first port with a next hop (by MAC or
/// by address), else the first port.
pub fn default_peer_port(ports: &[PortEntry]) -> u8 {
    ports
        .iter()
        .find(|p| p.port.next_hop_mac.is_some() || p.next_hop.is_some())
        .unwrap_or(&ports[0])
        .id()
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    pub service: ServiceConfig,
    pub members: Vec<MemberConfig>,
}

/// A `proto = "acp"` service (docs/frame-switching.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcpServiceEntry {
    pub name: String,
    pub vip: Ipv4Addr,
    pub port: u16,
    pub policy: FramePolicy,
    /// Frame ring entries per direction and connection (the paper's `w`).
    pub frame_window: usize,
    pub max_holes: usize,
    /// Members in a connection's active set, the ALRM picking which at `add_conn`.
    pub active_set: usize,
    pub members: Vec<MemberConfig>,
}

/// Bounds of `frame_window`: at least a few frames in flight, at most 4096 (98 KiB of rings per
/// connection).
pub const FRAME_WINDOW: (i64, i64) = (16, 4096);
/// Bounds of `max_holes`.
pub const MAX_HOLES: (i64, i64) = (1, 64);
/// Bounds of `active_set`: the ring entry's member field is 3 bits.
pub const ACTIVE_SET: (i64, i64) = (1, frame_switch::MAX_ACTIVE as i64);
/// Largest key offset of an acp `key-hash` service: keys lie within a frame of a 9000-byte MTU.
pub const ACP_MAX_KEY_OFFSET: i64 = 9000;

/// An acp service's policy from its name and key (offset, length); on error the field at fault
/// (`policy` or `key`) and why.
pub fn frame_policy(
    name: &str,
    key: Option<(u16, u8)>,
) -> Result<FramePolicy, (&'static str, String)> {
    match (name, key) {
        ("key-hash", Some((offset, len))) => Ok(FramePolicy::KeyHash { offset, len }),
        ("key-hash", None) => Err(("key", "key-hash needs key = { offset, len }".into())),
        ("round-robin" | "speed-sensitive", Some(_)) => {
            Err(("key", "only a key-hash service takes a key".into()))
        }
        ("round-robin", None) => Ok(FramePolicy::RoundRobin),
        ("speed-sensitive", None) => Ok(FramePolicy::SpeedSensitive),
        (other, _) => Err((
            "policy",
            format!(
                "`{other}` is not one of key-hash, round-robin, speed-sensitive (proto = \"acp\")"
            ),
        )),
    }
}

/// The name of an acp service's policy, as in the config.
pub fn frame_policy_name(p: FramePolicy) -> &'static str {
    match p {
        FramePolicy::KeyHash { .. } => "key-hash",
        FramePolicy::RoundRobin => "round-robin",
        FramePolicy::SpeedSensitive => "speed-sensitive",
    }
}

/// A configuration error: `FILE: FIELD: REASON`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub field: String,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.reason)
        } else {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.field,
                self.reason
            )
        }
    }
}

impl std::error::Error for ConfigError {}

/// An error before the file is attached.
struct FieldError {
    field: String,
    reason: String,
}

type Res<T> = Result<T, FieldError>;

fn err<T>(field: &str, reason: impl Into<String>) -> Res<T> {
    Err(FieldError {
        field: field.to_string(),
        reason: reason.into(),
    })
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            field: String::new(),
            reason: format!("cannot read: {e}"),
        })?;
        Config::parse(&text).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            field: e.0,
            reason: e.1,
        })
    }

    /// Parses config text; the error is (field, reason).
    pub fn parse(text: &str) -> Result<Config, (String, String)> {
        let root: Table = text.parse().map_err(|e: toml::de::Error| {
            (
                String::new(),
                format!("not valid TOML: {}", e.message().trim()) + &line_of(text, e.span()),
            )
        })?;
        parse_root(&root).map_err(|e| (e.field, e.reason))
    }
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| {
        format!(
            " (line {})",
            text[..s.start.min(text.len())].lines().count().max(1)
        )
    })
    .unwrap_or_default()
}

/// A TOML table being read, with its path for error messages and a check for unknown keys.
struct Fields<'a> {
    path: String,
    table: &'a Table,
}

impl<'a> Fields<'a> {
    fn new(path: String, value: &'a Value) -> Res<Fields<'a>> {
        match value.as_table() {
            Some(table) => Ok(Fields { path, table }),
            None => err(&path, "expected a table"),
        }
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn deny_unknown(&self, known: &[&str]) -> Res<()> {
        match self.table.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => err(
                &self.field(k),
                format!("unknown key (expected one of: {})", known.join(", ")),
            ),
            None => Ok(()),
        }
    }

    fn opt(&self, key: &str) -> Option<&'a Value> {
        self.table.get(key)
    }

    fn req(&self, key: &str) -> Res<&'a Value> {
        match self.table.get(key) {
            Some(v) => Ok(v),
            None => err(&self.field(key), "missing"),
        }
    }

    fn str(&self, key: &str) -> Res<Option<&'a str>> {
        match self.opt(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => err(
                &self.field(key),
                format!("expected a string, found {}", other.type_str()),
            ),
        }
    }

    fn req_str(&self, key: &str) -> Res<&'a str> {
        self.req(key)?;
        Ok(self.str(key)?.unwrap())
    }

    fn int(&self, key: &str, min: i64, max: i64) -> Res<Option<i64>> {
        match self.opt(key) {
            None => Ok(None),
            Some(Value::Integer(i)) if (min..=max).contains(i) => Ok(Some(*i)),
            Some(Value::Integer(i)) => err(
                &self.field(key),
                format!("{i} is out of range {min}..={max}"),
            ),
            Some(other) => err(
                &self.field(key),
                format!("expected an integer, found {}", other.type_str()),
            ),
        }
    }

    fn req_int(&self, key: &str, min: i64, max: i64) -> Res<i64> {
        self.req(key)?;
        Ok(self.int(key, min, max)?.unwrap())
    }

    fn parsed<T>(
        &self,
        key: &str,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Res<Option<T>> {
        match self.str(key)? {
            None => Ok(None),
            Some(s) => match parse(s) {
                Some(v) => Ok(Some(v)),
                None => err(&self.field(key), format!("`{s}` is not {what}")),
            },
        }
    }

    fn array(&self, key: &str) -> Res<&'a [Value]> {
        match self.opt(key) {
            None => Ok(&[]),
            Some(Value::Array(a)) => Ok(a),
            Some(other) => err(
                &self.field(key),
                format!("expected an array, found {}", other.type_str()),
            ),
        }
    }
}

/// `02:00:00:00:00:10` (or with `-`).
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return None;
    }
    let mut mac = [0u8; 6];
    for (b, p) in mac.iter_mut().zip(parts) {
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    Some(mac)
}

/// `02:00:00:00:00:10`.
pub fn format_mac(m: &[u8; 6]) -> String {
    m.map(|b| format!("{b:02x}")).join(":")
}

/// 32 hex digits.
/// The inverse of [`parse_hash_key`].
pub fn format_hash_key(key: &HashKey) -> String {
    key.0
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn parse_hash_key(s: &str) -> Option<HashKey> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut b = [0u8; 16];
    for (i, byte) in b.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(HashKey::from_bytes(b))
}

/// Longest service name: names appear in every log line, reply and saved config about the service.
pub const MAX_NAME: usize = 63;

/// A service name: 1 to [`MAX_NAME`] letters, digits, `-`, `_` and `.`.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    let ok = (1..=MAX_NAME).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    ok.then_some(())
        .ok_or("use 1 to 63 letters, digits, `-`, `_` and `.`")
}

/// Which policies take which protocol and key; the error is (offending key, reason).
pub fn check_policy(
    policy: PolicyKind,
    proto: Proto,
    has_key: bool,
) -> Result<(), (&'static str, &'static str)> {
    match (policy, proto, has_key) {
        (PolicyKind::KeyHash, Proto::Tcp, _) => Err(("proto", "key-hash needs proto = \"udp\"")),
        (PolicyKind::KeyHash, _, false) => Err(("key", "key-hash needs key = { offset, len }")),
        (PolicyKind::KeyHash, _, true) | (_, _, false) => Ok(()),
        (_, _, true) => Err(("key", "only a key-hash service takes a key")),
    }
}

/// `log2` of a power-of-two slot count, at most 65536.
pub fn slots_log2(n: i64) -> Result<u8, String> {
    if (1..=65536).contains(&n) && (n as u64).is_power_of_two() {
        Ok(n.trailing_zeros() as u8)
    } else {
        Err(format!("{n} is not a power of two up to 65536"))
    }
}

pub fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::Tcp => "tcp",
        Proto::Udp => "udp",
    }
}

pub fn parse_proto(s: &str) -> Option<Proto> {
    match s {
        "tcp" => Some(Proto::Tcp),
        "udp" => Some(Proto::Udp),
        _ => None,
    }
}

fn parse_root(root: &Table) -> Res<Config> {
    let top = Fields {
        path: String::new(),
        table: root,
    };
    top.deny_unknown(&["switch", "timeouts", "port", "service"])?;
    let hash_key = match top.opt("switch") {
        None => None,
        Some(v) => {
            let sw = Fields::new("switch".into(), v)?;
            sw.deny_unknown(&["hash_key"])?;
            sw.parsed("hash_key", "32 hex digits", parse_hash_key)?
        }
    };
    let timeouts = match top.opt("timeouts") {
        None => Timeouts::default(),
        Some(v) => parse_timeouts(Fields::new("timeouts".into(), v)?)?,
    };
    let mut ports = Vec::new();
    for (i, v) in top.array("port")?.iter().enumerate() {
        let p = parse_port(Fields::new(format!("port[{i}]"), v)?)?;
        if ports.iter().any(|q: &PortEntry| q.id() == p.id()) {
            return err(
                &format!("port[{i}].id"),
                format!("port {} is defined twice", p.id()),
            );
        }
        ports.push(p);
    }
    if ports.is_empty() {
        return err("port", "at least one [[port]] is needed");
    }
    let mut services: Vec<ServiceEntry> = Vec::new();
    let mut acp_services: Vec<AcpServiceEntry> = Vec::new();
    for (i, v) in top.array("service")?.iter().enumerate() {
        let f = Fields::new(format!("service[{i}]"), v)?;
        if f.str("proto")? == Some("acp") {
            let a = parse_acp_service(f, &ports)?;
            let names = services.iter().map(|o| &o.service.name);
            if names
                .chain(acp_services.iter().map(|o| &o.name))
                .any(|n| *n == a.name)
            {
                return err(
                    &format!("service[{i}].name"),
                    format!("service `{}` is defined twice", a.name),
                );
            }
            if acp_services
                .iter()
                .any(|o| (o.vip, o.port) == (a.vip, a.port))
            {
                return err(
                    &format!("service[{i}].vip"),
                    "another service has the same vip, port and proto",
                );
            }
            acp_services.push(a);
            continue;
        }
        let s = parse_service(f, &ports)?;
        let sc = &s.service;
        let names = acp_services.iter().map(|o| &o.name);
        if names
            .chain(services.iter().map(|o| &o.service.name))
            .any(|n| *n == sc.name)
        {
            return err(
                &format!("service[{i}].name"),
                format!("service `{}` is defined twice", sc.name),
            );
        }
        if services.iter().any(|o| {
            (o.service.vip, o.service.port, o.service.proto) == (sc.vip, sc.port, sc.proto)
        }) {
            return err(
                &format!("service[{i}].vip"),
                "another service has the same vip, port and proto",
            );
        }
        services.push(s);
    }
    Ok(Config {
        hash_key,
        timeouts,
        ports,
        services,
        acp_services,
    })
}

fn parse_timeouts(f: Fields) -> Res<Timeouts> {
    let default = Timeouts::default();
    f.deny_unknown(&default.entries().map(|(k, _)| k))?;
    let secs = |key: &str, default: Duration| -> Res<Duration> {
        Ok(f.int(key, 1, 7 * 24 * 3600)?
            .map_or(default, |s| Duration::from_secs(s as u64)))
    };
    Ok(Timeouts {
        tcp_syn: secs("tcp_syn", default.tcp_syn)?,
        tcp: secs("tcp", default.tcp)?,
        tcp_fin: secs("tcp_fin", default.tcp_fin)?,
        tcp_rst: secs("tcp_rst", default.tcp_rst)?,
        udp: secs("udp", default.udp)?,
    })
}

fn parse_port(f: Fields) -> Res<PortEntry> {
    f.deny_unknown(&[
        "id",
        "mac",
        "next_hop_mac",
        "no_service",
        "addr",
        "next_hop",
    ])?;
    let id = f.req_int("id", 0, 7)? as u8;
    f.req("mac")?;
    let mac = f
        .parsed("mac", "a MAC address like 02:00:00:00:00:10", parse_mac)?
        .unwrap();
    let next_hop_mac = f.parsed(
        "next_hop_mac",
        "a MAC address like 02:00:00:00:00:01",
        parse_mac,
    )?;
    let no_service_drop = match f.str("no_service")? {
        None | Some("host") => false,
        Some("drop") => true,
        Some(other) => {
            return err(
                &f.field("no_service"),
                format!("`{other}` is not `host` or `drop`"),
            )
        }
    };
    let addr = f.parsed(
        "addr",
        "an address with prefix like 10.77.1.1/24",
        IfAddr::parse,
    )?;
    let next_hop = f.parsed("next_hop", "an IPv4 address", |s| {
        s.parse::<Ipv4Addr>().ok()
    })?;
    if next_hop.is_some() && next_hop_mac.is_some() {
        return err(
            &f.field("next_hop"),
            "give either next_hop (resolved by ARP) or next_hop_mac, not both",
        );
    }
    Ok(PortEntry {
        port: PortConfig {
            id,
            mac,
            next_hop_mac,
            no_service_drop,
        },
        addr,
        next_hop,
    })
}

/// The `name`, `vip` and `port` every kind of service has.
fn service_address(f: &Fields) -> Res<(String, Ipv4Addr, u16)> {
    let name = f.req_str("name")?.to_string();
    check_name(&name).or_else(|why| err(&f.field("name"), why))?;
    f.req("vip")?;
    let vip = f
        .parsed("vip", "an IPv4 address", |s| s.parse::<Ipv4Addr>().ok())?
        .unwrap();
    let port = f.req_int("port", 1, 65535)? as u16;
    Ok((name, vip, port))
}

fn parse_service(f: Fields, ports: &[PortEntry]) -> Res<ServiceEntry> {
    f.deny_unknown(&[
        "name",
        "vip",
        "port",
        "proto",
        "policy",
        "members",
        "key",
        "peer_port",
        "indirection_slots",
    ])?;
    let (name, vip, port) = service_address(&f)?;
    f.req("proto")?;
    let proto = f
        .parsed("proto", "`tcp`, `udp` or `acp`", parse_proto)?
        .unwrap();
    f.req("policy")?;
    let policy = f
        .parsed(
            "policy",
            "one of maglev, key-hash, round-robin, least-conn",
            PolicyKind::from_name,
        )?
        .unwrap();
    let key = match f.opt("key") {
        None => None,
        Some(v) => {
            let k = Fields::new(f.field("key"), v)?;
            k.deny_unknown(&["offset", "len"])?;
            let offset = k.req_int("offset", 0, 63)?;
            let len = k.req_int("len", 1, 16)?;
            if offset + len > 64 {
                return err(&k.field("len"), "offset + len must be at most 64");
            }
            Some((offset as u8, len as u8))
        }
    };
    check_policy(policy, proto, key.is_some()).or_else(|(key, why)| err(&f.field(key), why))?;
    let peer_port = match f.int("peer_port", 0, 7)? {
        Some(p) => p as u8,
        None => default_peer_port(ports),
    };
    if !ports.iter().any(|p| p.id() == peer_port) {
        return err(
            &f.field("peer_port"),
            format!("port {peer_port} is not configured"),
        );
    }
    let indir_log2 = match f.int("indirection_slots", 1, 65536)? {
        None => DEFAULT_INDIR_LOG2,
        Some(n) => slots_log2(n).or_else(|why| err(&f.field("indirection_slots"), why))?,
    };
    let members = parse_members(&f, ports)?;
    Ok(ServiceEntry {
        service: ServiceConfig {
            name,
            vip,
            port,
            proto,
            policy,
            key,
            peer_port,
            indir_log2,
        },
        members,
    })
}

fn parse_acp_service(f: Fields, ports: &[PortEntry]) -> Res<AcpServiceEntry> {
    f.deny_unknown(&[
        "name",
        "vip",
        "port",
        "proto",
        "policy",
        "key",
        "frame_window",
        "max_holes",
        "active_set",
        "members",
    ])?;
    let (name, vip, port) = service_address(&f)?;
    let key = match f.opt("key") {
        None => None,
        Some(v) => {
            let k = Fields::new(f.field("key"), v)?;
            k.deny_unknown(&["offset", "len"])?;
            let offset = k.req_int("offset", 0, ACP_MAX_KEY_OFFSET)? as u16;
            let len = k.req_int("len", 1, 16)? as u8;
            Some((offset, len))
        }
    };
    let policy = frame_policy(f.req_str("policy")?, key)
        .or_else(|(field, why)| err(&f.field(field), why))?;
    let (lo, hi) = FRAME_WINDOW;
    let frame_window = f
        .int("frame_window", lo, hi)?
        .map_or(frame_switch::DEFAULT_W, |w| w as usize);
    let (lo, hi) = MAX_HOLES;
    let max_holes = f
        .int("max_holes", lo, hi)?
        .map_or(frame_switch::DEFAULT_MAX_HOLES, |h| h as usize);
    let (lo, hi) = ACTIVE_SET;
    let active_set = f
        .int("active_set", lo, hi)?
        .map_or(frame_switch::MAX_ACTIVE, |n| n as usize);
    let members = parse_members(&f, ports)?;
    for (i, m) in members.iter().enumerate() {
        if m.weight == 0 {
            return err(
                &f.field(&format!("members[{i}].weight")),
                "an acp member cannot be drained (weight 0): leave it out",
            );
        }
    }
    Ok(AcpServiceEntry {
        name,
        vip,
        port,
        policy,
        frame_window,
        max_holes,
        active_set,
        members,
    })
}

/// A service's `members`, each listed once.
fn parse_members(f: &Fields, ports: &[PortEntry]) -> Res<Vec<MemberConfig>> {
    let mut members: Vec<MemberConfig> = Vec::new();
    for (i, v) in f.array("members")?.iter().enumerate() {
        let m = parse_member(Fields::new(f.field(&format!("members[{i}]")), v)?, ports)?;
        if members.iter().any(|o| (o.addr, o.port) == (m.addr, m.port)) {
            return err(
                &f.field(&format!("members[{i}]")),
                format!("member {}:{} is listed twice", m.addr, m.port),
            );
        }
        members.push(m);
    }
    Ok(members)
}

fn parse_member(f: Fields, ports: &[PortEntry]) -> Res<MemberConfig> {
    f.deny_unknown(&["addr", "port", "mac", "out_port", "weight"])?;
    f.req("addr")?;
    let addr = f
        .parsed("addr", "an IPv4 address", |s| s.parse::<Ipv4Addr>().ok())?
        .unwrap();
    let port = f.req_int("port", 1, 65535)? as u16;
    let mac = f.parsed("mac", "a MAC address like 02:00:00:00:01:01", parse_mac)?;
    let out_port = f.req_int("out_port", 0, 7)? as u8;
    if !ports.iter().any(|p| p.id() == out_port) {
        return err(
            &f.field("out_port"),
            format!("port {out_port} is not configured"),
        );
    }
    let weight = f.int("weight", 0, 65535)?.unwrap_or(1) as u32;
    Ok(MemberConfig {
        addr,
        port,
        mac,
        out_port,
        weight,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [switch]
        hash_key = "00112233445566778899aabbccddeeff"
        [[port]]
        id = 0
        mac = "02:00:00:00:00:10"
        next_hop_mac = "02:00:00:00:00:01"
        [[port]]
        id = 1
        mac = "02:00:00:00:00:11"
        [[service]]
        name = "web"
        vip = "10.0.0.100"
        port = 80
        proto = "tcp"
        policy = "maglev"
        members = [ { addr = "10.0.1.1", port = 8080, mac = "02:00:00:00:01:01", out_port = 1, weight = 1 } ]
        [[service]]
        name = "game"
        vip = "10.0.0.100"
        port = 9000
        proto = "udp"
        policy = "key-hash"
        key = { offset = 0, len = 8 }
    "#;

    #[test]
    fn parses_the_documented_shape() {
        let c = Config::parse(GOOD).unwrap();
        assert_eq!(
            c.hash_key,
            Some(HashKey::from_bytes([
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
                0xee, 0xff
            ]))
        );
        assert_eq!(c.ports.len(), 2);
        assert_eq!(c.ports[0].port.next_hop_mac, Some([2, 0, 0, 0, 0, 1]));
        assert_eq!(c.ports[1].port.next_hop_mac, None);
        assert_eq!(c.timeouts, Timeouts::default());
        let web = &c.services[0];
        assert_eq!(web.service.vip, Ipv4Addr::new(10, 0, 0, 100));
        assert_eq!(web.service.policy, PolicyKind::Maglev);
        assert_eq!(
            web.service.peer_port, 0,
            "defaults to the port with a next hop"
        );
        assert_eq!(web.service.indir_log2, DEFAULT_INDIR_LOG2);
        assert_eq!(
            web.members,
            vec![MemberConfig {
                addr: Ipv4Addr::new(10, 0, 1, 1),
                port: 8080,
                mac: Some([2, 0, 0, 0, 1, 1]),
                out_port: 1,
                weight: 1
            }]
        );
        assert_eq!(c.services[1].service.key, Some((0, 8)));
        assert_eq!(c.services[1].service.proto, Proto::Udp);
    }

    fn error_of(edit: (&str, &str)) -> (String, String) {
        assert!(GOOD.contains(edit.0), "test edit must apply: {}", edit.0);
        Config::parse(&GOOD.replacen(edit.0, edit.1, 1)).unwrap_err()
    }

    #[test]
    fn errors_name_the_field_and_reason() {
        let cases = [
            (
                ("vip = \"10.0.0.100\"", "vip = \"10.0.0.300\""),
                "service[0].vip",
                "not an IPv4 address",
            ),
            (
                ("out_port = 1", "out_port = 5"),
                "service[0].members[0].out_port",
                "not configured",
            ),
            (
                ("policy = \"maglev\"", "policy = \"random\""),
                "service[0].policy",
                "one of maglev",
            ),
            (
                ("port = 80", "port = 70000"),
                "service[0].port",
                "out of range",
            ),
            (
                ("port = 80", "port = \"80\""),
                "service[0].port",
                "expected an integer",
            ),
            (
                ("mac = \"02:00:00:00:00:10\"", "mac = \"02:00:00\""),
                "port[0].mac",
                "not a MAC",
            ),
            (
                (
                    "hash_key = \"00112233445566778899aabbccddeeff\"",
                    "hash_key = \"0011\"",
                ),
                "switch.hash_key",
                "32 hex",
            ),
            (
                (
                    "key = { offset = 0, len = 8 }",
                    "key = { offset = 0, len = 17 }",
                ),
                "service[1].key.len",
                "out of range",
            ),
            (
                ("key = { offset = 0, len = 8 }", ""),
                "service[1].key",
                "needs key",
            ),
            (
                ("name = \"game\"", "name = \"web\""),
                "service[1].name",
                "defined twice",
            ),
            (
                ("weight = 1", "weight = 1, colour = 2"),
                "service[0].members[0].colour",
                "unknown key",
            ),
            (("id = 1", "id = 0"), "port[1].id", "defined twice"),
            (
                ("proto = \"tcp\"", "proto = \"sctp\""),
                "service[0].proto",
                "`tcp`, `udp` or `acp`",
            ),
        ];
        for (edit, field, reason) in cases {
            let (f, r) = error_of(edit);
            assert_eq!(f, field, "for edit {edit:?}: {r}");
            assert!(
                r.contains(reason),
                "for edit {edit:?}: `{r}` lacks `{reason}`"
            );
        }
    }

    const LINKS: &str = r#"
        [timeouts]
        tcp = 60
        [[port]]
        id = 0
        mac = "02:00:00:00:00:10"
        addr = "10.77.0.1/24"
        next_hop = "10.77.0.2"
        [[port]]
        id = 1
        mac = "02:00:00:00:00:11"
        addr = "10.77.1.1/24"
        [[service]]
        name = "web"
        vip = "10.77.0.100"
        port = 80
        proto = "tcp"
        policy = "maglev"
        members = [ { addr = "10.77.1.11", port = 8080, out_port = 1 } ]
    "#;

    #[test]
    fn port_addresses_next_hops_and_timeouts() {
        let c = Config::parse(LINKS).unwrap();
        let addr = IfAddr::parse("10.77.0.1/24").unwrap();
        assert_eq!(c.ports[0].addr, Some(addr));
        assert!(addr.contains(Ipv4Addr::new(10, 77, 0, 200)));
        assert!(!addr.contains(Ipv4Addr::new(10, 77, 1, 1)));
        assert_eq!(c.ports[0].next_hop, Some(Ipv4Addr::new(10, 77, 0, 2)));
        assert_eq!(c.ports[1].next_hop, None);
        assert_eq!(c.timeouts.tcp, Duration::from_secs(60));
        assert_eq!(c.timeouts.udp, Timeouts::default().udp);
        assert_eq!(
            c.services[0].service.peer_port, 0,
            "the port with a next hop"
        );
        assert_eq!(c.services[0].members[0].mac, None);
        let cases = [
            (
                ("addr = \"10.77.0.1/24\"", "addr = \"10.77.0.1/33\""),
                "port[0].addr",
                "with prefix",
            ),
            (
                (
                    "next_hop = \"10.77.0.2\"",
                    "next_hop = \"10.77.0.2\"\nnext_hop_mac = \"02:00:00:00:00:01\"",
                ),
                "port[0].next_hop",
                "not both",
            ),
            (("tcp = 60", "tcp = 0"), "timeouts.tcp", "out of range"),
            (
                ("tcp = 60", "tcp_close = 60"),
                "timeouts.tcp_close",
                "unknown key",
            ),
            (
                ("tcp = 60", "tcp_rst = 0"),
                "timeouts.tcp_rst",
                "out of range",
            ),
        ];
        for ((from, to), field, reason) in cases {
            let (f, r) = Config::parse(&LINKS.replacen(from, to, 1)).unwrap_err();
            assert_eq!(f, field, "for edit {to}: {r}");
            assert!(r.contains(reason), "for edit {to}: `{r}` lacks `{reason}`");
        }
    }

    const ACP: &str = r#"
        [[port]]
        id = 0
        mac = "02:00:00:00:00:10"
        [[port]]
        id = 1
        mac = "02:00:00:00:00:11"
        [[service]]
        name = "web"
        vip = "10.0.0.100"
        port = 7000
        proto = "tcp"
        policy = "maglev"
        [[service]]
        name = "frames"
        vip = "10.0.0.100"
        port = 7000
        proto = "acp"
        policy = "key-hash"
        key = { offset = 0, len = 4 }
        frame_window = 128
        max_holes = 4
        active_set = 2
        members = [ { addr = "10.0.1.1", port = 7000, out_port = 1, weight = 1 }, { addr = "10.0.1.2", port = 7000, mac = "02:00:00:00:01:02", out_port = 1 } ]
    "#;

    #[test]
    fn acp_services_are_kept_apart_from_the_device_services() {
        let c = Config::parse(ACP).unwrap();
        assert_eq!(c.services.len(), 1, "only tcp and udp go to the device");
        let a = &c.acp_services[0];
        assert_eq!(
            (a.name.as_str(), a.vip, a.port),
            ("frames", Ipv4Addr::new(10, 0, 0, 100), 7000)
        );
        assert_eq!(a.policy, FramePolicy::KeyHash { offset: 0, len: 4 });
        assert_eq!((a.frame_window, a.max_holes, a.active_set), (128, 4, 2));
        assert_eq!(a.members.len(), 2);
        assert_eq!(a.members[1].mac, Some([2, 0, 0, 0, 1, 2]));
        // Defaults, and the other policies.
        let rr = ACP
            .replace(
                "policy = \"key-hash\"\n        key = { offset = 0, len = 4 }",
                "policy = \"round-robin\"",
            )
            .replace(
                "frame_window = 128\n        max_holes = 4\n        active_set = 2\n",
                "",
            );
        let a = &Config::parse(&rr).unwrap().acp_services[0];
        assert_eq!(a.policy, FramePolicy::RoundRobin);
        assert_eq!(
            (a.frame_window, a.max_holes, a.active_set),
            (frame_switch::DEFAULT_W, frame_switch::DEFAULT_MAX_HOLES, 8)
        );
        let ss = rr.replace("round-robin", "speed-sensitive");
        assert_eq!(
            Config::parse(&ss).unwrap().acp_services[0].policy,
            FramePolicy::SpeedSensitive
        );
        // The example parses.
        let example = include_str!("../../examples/acp.toml");
        assert_eq!(Config::parse(example).unwrap().acp_services.len(), 1);

        let cases = [
            (
                "frame_window = 128",
                "frame_window = 8",
                "service[1].frame_window",
                "out of range 16..=4096",
            ),
            (
                "frame_window = 128",
                "frame_window = 5000",
                "service[1].frame_window",
                "out of range",
            ),
            (
                "max_holes = 4",
                "max_holes = 0",
                "service[1].max_holes",
                "out of range 1..=64",
            ),
            (
                "active_set = 2",
                "active_set = 9",
                "service[1].active_set",
                "out of range 1..=8",
            ),
            (
                "key = { offset = 0, len = 4 }",
                "key = { offset = 0, len = 17 }",
                "service[1].key.len",
                "out of range 1..=16",
            ),
            (
                "key = { offset = 0, len = 4 }",
                "key = { offset = 9001, len = 4 }",
                "service[1].key.offset",
                "out of range",
            ),
            (
                "key = { offset = 0, len = 4 }\n",
                "",
                "service[1].key",
                "key-hash needs key",
            ),
            (
                "policy = \"key-hash\"",
                "policy = \"round-robin\"",
                "service[1].key",
                "only a key-hash service",
            ),
            (
                "policy = \"key-hash\"",
                "policy = \"maglev\"",
                "service[1].policy",
                "not one of key-hash, round-robin, speed-sensitive",
            ),
            (
                "max_holes = 4",
                "peer_port = 0",
                "service[1].peer_port",
                "unknown key",
            ),
            (
                "out_port = 1, weight = 1",
                "out_port = 1, weight = 0",
                "service[1].members[0].weight",
                "cannot be drained",
            ),
            (
                "out_port = 1, weight = 1",
                "out_port = 3",
                "service[1].members[0].out_port",
                "not configured",
            ),
            (
                "addr = \"10.0.1.2\"",
                "addr = \"10.0.1.1\"",
                "service[1].members[1]",
                "listed twice",
            ),
            (
                "name = \"frames\"",
                "name = \"web\"",
                "service[1].name",
                "defined twice",
            ),
            (
                "vip = \"10.0.0.100\"\n        port = 7000\n        proto = \"acp\"",
                "vip = \"10.0.0.300\"\n        port = 7000\n        proto = \"acp\"",
                "service[1].vip",
                "not an IPv4 address",
            ),
        ];
        for (from, to, field, reason) in cases {
            assert!(ACP.contains(from), "test edit must apply: {from}");
            let (f, r) = Config::parse(&ACP.replacen(from, to, 1)).unwrap_err();
            assert_eq!(f, field, "for edit {to}: {r}");
            assert!(r.contains(reason), "for edit {to}: `{r}` lacks `{reason}`");
        }
        // A second acp service on the same VIP and port.
        let twice = format!(
            "{ACP}\n[[service]]\nname = \"f2\"\nvip = \"10.0.0.100\"\nport = 7000\nproto = \"acp\"\npolicy = \"round-robin\"\n"
        );
        let (f, r) = Config::parse(&twice).unwrap_err();
        assert_eq!(
            (f.as_str(), r.contains("same vip, port and proto")),
            ("service[2].vip", true),
            "{r}"
        );
    }

    #[test]
    fn syntax_errors_give_the_line() {
        let (field, reason) = Config::parse("[[port]]\nid = 0\nmac = \n").unwrap_err();
        assert_eq!(field, "");
        assert!(
            reason.contains("not valid TOML") && reason.contains("line 3"),
            "{reason}"
        );
    }

    #[test]
    fn load_names_the_file() {
        let e = Config::load(Path::new("/nonexistent/cluster.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/nonexistent/cluster.toml: cannot read"),
            "{e}"
        );
    }
}
