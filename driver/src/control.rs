//! The control plane: services and members by name, connections, and host-queue handling.

use crate::access::Backend;
use crate::alrm::{self, Alrm};
use crate::counters::{Counters, ServiceNames};
use crate::entries;
use crate::maglev;
use crate::tables::{self, Table, Tables};
use anypoint_model::regs::{self, member_state, policy, reg};
use anypoint_model::{FiveTuple, Geometry, HashKey};
use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

mod host_queue;

/// How long a soft reset of a device of geometry `g` may take: its table sweep (one entry per
/// cycle, indirection slots alongside) plus the counter clear, at a 100 MHz clock or faster
/// (docs/hardware.md, Reset).
pub fn soft_reset_settle(g: &Geometry) -> std::time::Duration {
    let entries = u64::from(g.ports)
        + u64::from(g.services)
        + u64::from(g.members)
        + (8u64 << g.conn_buckets_log2);
    let counters = 16_384;
    let cycles = entries.max(1 << g.indir_slots_log2) + counters;
    std::time::Duration::from_nanos(cycles * 10)
}

/// Errors of the control plane, each with a message an operator can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverError {
    /// The device at the other end of the register seam is not an Anypoint switch.
    Identity { id: u32, version: u32 },
    /// Bad request: names what and why (unknown service, duplicate member, port out of range, ...).
    Invalid(String),
    /// A table has no room (services, members, indirection slots, connections).
    TableFull(&'static str),
    /// Read-back after a table write returned other words.
    Verify { table: &'static str, index: u32 },
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DriverError::Identity { id, .. } if *id == crate::identity::ALL_ONES => f.write_str(
                "device not responding: ID reads 0xffffffff, what PCIe returns for a function \
                 that is gone (link down, surprise removal, FPGA not configured)",
            ),
            DriverError::Identity { id, version } => write!(
                f,
                "not an Anypoint switch: ID {id:#010x}, VERSION {version:#010x} \
                 (expected ID {:#010x}, version {}.x with x >= {})",
                regs::DEVICE_ID,
                regs::MAP_VERSION >> 16,
                regs::MAP_VERSION & 0xffff
            ),
            DriverError::Invalid(why) => f.write_str(why),
            DriverError::TableFull(table) => write!(f, "the {table} table is full"),
            DriverError::Verify { table, index } => write!(
                f,
                "{table} entry {index} reads back different from what was written \
                 (register access is unreliable)"
            ),
        }
    }
}

impl std::error::Error for DriverError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    /// IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }
}

/// Service policy as configured. `maglev` and `key-hash` run in hardware from the indirection table;
/// `round-robin` and `least-conn` are the hardware `host` policy with the ALRM deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    Maglev,
    KeyHash,
    RoundRobin,
    LeastConn,
}

impl PolicyKind {
    /// Config / CLI name: `maglev`, `key-hash`, `round-robin`, `least-conn`.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Maglev => "maglev",
            PolicyKind::KeyHash => "key-hash",
            PolicyKind::RoundRobin => "round-robin",
            PolicyKind::LeastConn => "least-conn",
        }
    }
    pub fn from_name(s: &str) -> Option<PolicyKind> {
        [
            PolicyKind::Maglev,
            PolicyKind::KeyHash,
            PolicyKind::RoundRobin,
            PolicyKind::LeastConn,
        ]
        .into_iter()
        .find(|k| k.name() == s)
    }

    /// The hardware policy code of the service entry.
    fn code(self) -> u8 {
        match self {
            PolicyKind::Maglev => policy::MAGLEV,
            PolicyKind::KeyHash => policy::KEY_HASH,
            PolicyKind::RoundRobin | PolicyKind::LeastConn => policy::HOST,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortConfig {
    pub id: u8,
    pub mac: [u8; 6],
    /// Peer-side next hop; `None` until known (frames needing it go to the host as `no_next_hop`).
    pub next_hop_mac: Option<[u8; 6]>,
    /// Drop `no_service` traffic arriving on this port instead of sending it to the host.
    pub no_service_drop: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    pub name: String,
    pub vip: Ipv4Addr,
    pub port: u16,
    pub proto: Proto,
    pub policy: PolicyKind,
    /// key-hash only: (offset, len) in the UDP payload.
    pub key: Option<(u8, u8)>,
    /// Port towards peers for replies without a connection entry.
    pub peer_port: u8,
    /// log2 of the service's indirection slots (default 12).
    pub indir_log2: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberConfig {
    pub addr: Ipv4Addr,
    pub port: u16,
    /// Next-hop MAC; `None` until resolved.
    pub mac: Option<[u8; 6]>,
    pub out_port: u8,
    /// 0 = draining.
    pub weight: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberState {
    Active,
    Draining,
    Down,
}

/// A member as the control plane sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberInfo {
    pub id: u16,
    pub config: MemberConfig,
    pub state: MemberState,
    /// Connections currently in the table for this member.
    pub conns: u32,
}

/// A service as the control plane sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceInfo {
    pub id: u16,
    pub config: ServiceConfig,
    pub members: Vec<MemberInfo>,
}

/// A connection the host inserted (both directions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connection {
    /// Peer to VIP.
    pub inbound: FiveTuple,
    pub service: u16,
    pub member: u16,
    pub peer_port: u8,
}

/// Which directions of a connection had traffic (activity bits of its two entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activity {
    /// Peer to member.
    pub inbound: bool,
    /// Member to peer.
    pub outbound: bool,
}

/// What the control plane did with a host-queue record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostDisposition {
    /// A learn record: the connection was inserted (or already present).
    Learned,
    /// A `host_policy` punt: the ALRM chose `member`, the connection was inserted and the frame re-injected.
    Redirected { member: u16 },
    /// A state record: a FIN (`reset` false) or RST was forwarded on this connection (by its
    /// inbound key); the caller ages it accordingly.
    Closing { inbound: FiveTuple, reset: bool },
    /// Not the control plane's business (ARP, no_service, ...): the caller logs, answers or drops it.
    Unhandled,
}

/// Table-manager figures for reports and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Every 32-bit register write the table manager issued.
    pub register_writes: u64,
    pub conn_inserts: u64,
    pub conn_insert_failures: u64,
    pub relocations: u64,
}

/// Services, members and connections of one switch, programmed through its registers.
pub struct ControlPlane<B: Backend> {
    backend: B,
    tables: Tables,
    /// By service id.
    services: Vec<Option<Service>>,
    /// By member id.
    members: Vec<Option<Member>>,
    /// Host-queue records taken off the device while settling learn records, for [`ControlPlane::pop_host`].
    deferred: VecDeque<Vec<u8>>,
}

struct Service {
    config: ServiceConfig,
    plugin: Box<dyn Alrm>,
    /// (base, log2) of the service's indirection range; table policies only.
    indir: Option<(u32, u8)>,
    /// Member ids, ascending.
    members: Vec<u16>,
}

struct Member {
    service: u16,
    config: MemberConfig,
    /// Seed of the member's Maglev slot permutation.
    hash: u64,
}

impl Member {
    fn state(&self) -> MemberState {
        if self.config.weight > 0 {
            MemberState::Active
        } else {
            MemberState::Draining
        }
    }

    fn name(&self) -> String {
        format!("{}:{}", self.config.addr, self.config.port)
    }
}

fn state_code(state: MemberState) -> u8 {
    match state {
        MemberState::Active => member_state::ACTIVE,
        MemberState::Draining => member_state::DRAINING,
        MemberState::Down => member_state::DOWN,
    }
}

/// `a.b.c.d:p > e.f.g.h:q/proto`, for messages.
pub(crate) fn show_tuple(t: &FiveTuple) -> String {
    format!(
        "{}:{} > {}:{}/{}",
        Ipv4Addr::from(t.src_ip),
        t.src_port,
        Ipv4Addr::from(t.dst_ip),
        t.dst_port,
        t.proto
    )
}

/// Lowest index whose slot is free.
fn lowest_free<T>(slots: &[Option<T>]) -> Option<u16> {
    slots.iter().position(Option::is_none).map(|i| i as u16)
}

impl<B: Backend> ControlPlane<B> {
    /// Checks the device identity, reads its geometry, brings its tables to power-on state and
    /// sets the hash key.
    ///
    /// A device whose `RESET_SEEN` is set is already at power-on state (every driver clears the bit
    /// once it owns the tables); otherwise a previous owner left entries behind and `SOFT_RESET`
    /// clears them in one write, where clearing entry by entry would cost ~10^5 register accesses.
    pub fn new(mut backend: B, hash_key: HashKey) -> Result<Self, DriverError> {
        crate::identity::check(&mut backend)?;
        let geometry = tables::read_geometry(&mut backend)?;
        if reg::DEV_STATUS_RESET_SEEN.extract(backend.read32(reg::DEV_STATUS)) == 0 {
            backend.write32(reg::SOFT_RESET, reg::SOFT_RESET_GO.place(1));
            std::thread::sleep(soft_reset_settle(&geometry));
        }
        let tables = Tables::new(&mut backend, geometry, hash_key);
        // The tables are ours from here on: a RESET_SEEN from now on means they were lost.
        backend.write32(reg::DEV_STATUS, reg::DEV_STATUS_RESET_SEEN.place(1));
        Ok(ControlPlane {
            backend,
            tables,
            services: (0..geometry.services).map(|_| None).collect(),
            members: (0..geometry.members).map(|_| None).collect(),
            deferred: VecDeque::new(),
        })
    }
    /// The device was reset (power cycle, PCIe reset, `SOFT_RESET`) since its tables were last
    /// programmed: they are empty and [`ControlPlane::reprogram`] must run.
    pub fn reset_detected(&mut self) -> bool {
        reg::DEV_STATUS_RESET_SEEN.extract(self.backend.read32(reg::DEV_STATUS)) == 1
    }
    /// Programs a device that was reset with every port, service, member, indirection slot and
    /// connection of the shadow, after checking it is still the same kind of device.
    pub fn reprogram(&mut self) -> Result<(), DriverError> {
        crate::identity::check(&mut self.backend)?;
        let geometry = tables::read_geometry(&mut self.backend)?;
        if geometry != self.tables.geometry() {
            return Err(DriverError::Invalid(format!(
                "after the reset the device reports geometry {geometry:?}, before it was {:?}",
                self.tables.geometry()
            )));
        }
        // Cleared first: a reset during the restore leaves it set for the next check.
        self.backend
            .write32(reg::DEV_STATUS, reg::DEV_STATUS_RESET_SEEN.place(1));
        self.tables.restore(&mut self.backend)
    }
    /// `SOFT_RESET` (the device back to power-on), then [`ControlPlane::reprogram`].
    pub fn soft_reset(&mut self) -> Result<(), DriverError> {
        self.backend
            .write32(reg::SOFT_RESET, reg::SOFT_RESET_GO.place(1));
        // The write is posted and the device answers nothing until its table sweep is done:
        // waiting here keeps the next read well inside the PCIe completion timeout.
        std::thread::sleep(soft_reset_settle(&self.tables.geometry()));
        self.reprogram()
    }
    pub fn backend(&mut self) -> &mut B {
        &mut self.backend
    }
    /// Table sizes of the device.
    pub fn geometry(&self) -> Geometry {
        self.tables.geometry()
    }
    /// Read-back verification of every table write (on by default).
    pub fn set_verify(&mut self, on: bool) {
        self.tables.set_verify(on);
    }
    pub fn set_port(&mut self, port: &PortConfig) -> Result<(), DriverError> {
        self.check_port(port.id)?;
        let words = entries::port_entry(port);
        self.tables
            .write_entry(&mut self.backend, Table::Port, port.id.into(), &words)
    }
    pub fn add_service(&mut self, service: ServiceConfig) -> Result<u16, DriverError> {
        self.check_service(&service)?;
        let id = lowest_free(&self.services).ok_or(DriverError::TableFull("service"))?;
        let indir = match service.policy {
            PolicyKind::Maglev | PolicyKind::KeyHash => {
                let base = self
                    .tables
                    .alloc_indir(service.indir_log2)
                    .ok_or(DriverError::TableFull("indirection"))?;
                Some((base, service.indir_log2))
            }
            PolicyKind::RoundRobin | PolicyKind::LeastConn => None,
        };
        let mut plugin = alrm::by_name(service.policy.name()).expect("every policy has a plugin");
        plugin.init();
        let words = entries::service_entry(&service, service.policy.code(), indir);
        self.services[usize::from(id)] = Some(Service {
            config: service,
            plugin,
            indir,
            members: Vec::new(),
        });
        self.tables
            .write_entry(&mut self.backend, Table::Service, id.into(), &words)?;
        Ok(id)
    }
    /// Removes the service, its members and their connections.
    pub fn remove_service(&mut self, name: &str) -> Result<(), DriverError> {
        let sid = self.service_id(name)?;
        // No new connections match the service from here on.
        self.tables
            .clear_entry(&mut self.backend, Table::Service, sid.into())?;
        for mid in self.service(sid).members.clone() {
            self.remove_conns_of(mid)?;
            self.members[usize::from(mid)] = None;
            self.tables
                .clear_entry(&mut self.backend, Table::Member, mid.into())?;
        }
        let mut service = self.services[usize::from(sid)]
            .take()
            .expect("service exists");
        if let Some((base, log2)) = service.indir {
            self.tables.free_indir(&mut self.backend, base, log2)?;
        }
        service.plugin.uninit();
        Ok(())
    }
    pub fn add_member(&mut self, service: &str, member: MemberConfig) -> Result<u16, DriverError> {
        let sid = self.service_id(service)?;
        self.check_port(member.out_port)?;
        let taken = self.service(sid).members.iter().any(|&m| {
            let c = &self.member(m).config;
            (c.addr, c.port) == (member.addr, member.port)
        });
        if taken {
            return Err(DriverError::Invalid(format!(
                "service {service:?} already has member {}:{}",
                member.addr, member.port
            )));
        }
        let mid = lowest_free(&self.members).ok_or(DriverError::TableFull("member"))?;
        let hash = maglev::member_hash(member.addr, member.port);
        self.members[usize::from(mid)] = Some(Member {
            service: sid,
            config: member,
            hash,
        });
        let list = &mut self.service_mut(sid).members;
        let at = list.partition_point(|&m| m < mid);
        list.insert(at, mid);
        // The entry exists before any indirection slot names it.
        self.write_member(mid)?;
        self.refill(sid)?;
        Ok(mid)
    }
    /// Weight 0 drains: existing connections stay, new ones go elsewhere.
    pub fn set_weight(
        &mut self,
        service: &str,
        addr: Ipv4Addr,
        port: u16,
        weight: u32,
    ) -> Result<(), DriverError> {
        let (sid, mid) = self.member_id(service, addr, port)?;
        self.member_mut(mid).config.weight = weight;
        // Slots only ever name active members: a member becomes active before slots move to it, and
        // slots move away from it before it drains.
        if weight > 0 {
            self.write_member(mid)?;
            self.refill(sid)
        } else {
            self.refill(sid)?;
            self.write_member(mid)
        }
    }
    /// Learns a member's MAC (e.g. by ARP).
    pub fn set_member_mac(
        &mut self,
        service: &str,
        addr: Ipv4Addr,
        port: u16,
        mac: [u8; 6],
    ) -> Result<(), DriverError> {
        let (_, mid) = self.member_id(service, addr, port)?;
        self.member_mut(mid).config.mac = Some(mac);
        self.write_member(mid)
    }
    /// Removes the member and its connections.
    pub fn remove_member(
        &mut self,
        service: &str,
        addr: Ipv4Addr,
        port: u16,
    ) -> Result<(), DriverError> {
        let (sid, mid) = self.member_id(service, addr, port)?;
        self.remove_conns_of(mid)?;
        self.service_mut(sid).members.retain(|&m| m != mid);
        self.refill(sid)?;
        self.members[usize::from(mid)] = None;
        self.tables
            .clear_entry(&mut self.backend, Table::Member, mid.into())
    }
    pub fn services(&self) -> Vec<ServiceInfo> {
        let mut conns: HashMap<u16, u32> = HashMap::new();
        for c in self.tables.connections() {
            *conns.entry(c.member).or_default() += 1;
        }
        self.live_services()
            .map(|(id, s)| ServiceInfo {
                id,
                config: s.config.clone(),
                members: s
                    .members
                    .iter()
                    .map(|&mid| {
                        let m = self.member(mid);
                        MemberInfo {
                            id: mid,
                            config: m.config.clone(),
                            state: m.state(),
                            conns: conns.get(&mid).copied().unwrap_or(0),
                        }
                    })
                    .collect(),
            })
            .collect()
    }
    pub fn connections(&self) -> Vec<Connection> {
        self.tables.connections().collect()
    }
    /// Whether `key` is either direction of a connection in the table.
    pub fn has_connection_key(&self, key: &FiveTuple) -> bool {
        self.tables.has_conn_key(key)
    }
    /// Inserts both directions of a connection to one of the service's members: true when inserted,
    /// false when already present. `TableFull` when the connection table has no room for it.
    pub fn insert_connection(&mut self, conn: &Connection) -> Result<bool, DriverError> {
        if !self.is_member_of(conn.member, conn.service) {
            return Err(DriverError::Invalid(format!(
                "connection {}: member {} is not a member of service {}",
                show_tuple(&conn.inbound),
                conn.member,
                conn.service
            )));
        }
        let member = self.member(conn.member);
        let outbound = FiveTuple {
            src_ip: u32::from(member.config.addr),
            dst_ip: conn.inbound.src_ip,
            src_port: member.config.port,
            dst_port: conn.inbound.src_port,
            proto: conn.inbound.proto,
        };
        let s = &self.service(conn.service).config;
        let t = &conn.inbound;
        if (t.dst_ip, t.dst_port, t.proto) != (u32::from(s.vip), s.port, s.proto.number()) {
            return Err(DriverError::Invalid(format!(
                "connection {}: not to service {:?} at {}:{}",
                show_tuple(t),
                s.name,
                s.vip,
                s.port
            )));
        }
        self.check_port(conn.peer_port)?;
        let inserted = self.tables.insert_conn(&mut self.backend, conn, outbound)?;
        if inserted {
            let plugin = &mut self.service_mut(conn.service).plugin;
            plugin.add_conn(conn.member);
            // Its frames now hit the connection entry instead of coming back to the ALRM.
            plugin.retire(&conn.inbound);
        }
        Ok(inserted)
    }
    pub fn remove_connection(&mut self, inbound: &FiveTuple) -> Result<(), DriverError> {
        let conn = self
            .tables
            .remove_conn(&mut self.backend, inbound)?
            .ok_or_else(|| {
                DriverError::Invalid(format!("no connection {}", show_tuple(inbound)))
            })?;
        self.service_mut(conn.service).plugin.rm_conn(conn.member);
        Ok(())
    }
    /// Connections with no traffic in either direction since the previous call (for ageing); the
    /// call clears the activity bits it read.
    pub fn idle_connections(&mut self) -> Vec<Connection> {
        self.connection_activity()
            .into_iter()
            .filter(|(_, a)| !a.inbound && !a.outbound)
            .map(|(c, _)| c)
            .collect()
    }
    /// Every connection and which of its directions had traffic since the previous call (of this
    /// or [`Self::idle_connections`]): ageing by TCP state needs to see a member's first reply.
    pub fn connection_activity(&mut self) -> Vec<(Connection, Activity)> {
        self.tables.connection_activity(&mut self.backend)
    }
    /// Reads every counter from the device.
    pub fn counters(&mut self) -> Counters {
        let names: Vec<ServiceNames> = self
            .live_services()
            .map(|(id, s)| ServiceNames {
                id,
                name: s.config.name.clone(),
                members: s
                    .members
                    .iter()
                    .map(|&m| (m, self.member(m).name()))
                    .collect(),
            })
            .collect();
        let ports = self.geometry().ports;
        Counters::read(&mut self.backend, ports, &names)
    }
    pub fn table_stats(&self) -> TableStats {
        self.tables.stats()
    }

    fn live_services(&self) -> impl Iterator<Item = (u16, &Service)> {
        self.services
            .iter()
            .enumerate()
            .filter_map(|(id, s)| Some((id as u16, s.as_ref()?)))
    }

    fn service(&self, sid: u16) -> &Service {
        self.services[usize::from(sid)]
            .as_ref()
            .expect("service exists")
    }

    fn service_mut(&mut self, sid: u16) -> &mut Service {
        self.services[usize::from(sid)]
            .as_mut()
            .expect("service exists")
    }

    fn member(&self, mid: u16) -> &Member {
        self.members[usize::from(mid)]
            .as_ref()
            .expect("member exists")
    }

    fn member_mut(&mut self, mid: u16) -> &mut Member {
        self.members[usize::from(mid)]
            .as_mut()
            .expect("member exists")
    }

    /// `mid` is one of `sid`'s members (a member being removed no longer is).
    fn is_member_of(&self, mid: u16, sid: u16) -> bool {
        self.members
            .get(usize::from(mid))
            .and_then(Option::as_ref)
            .is_some_and(|m| m.service == sid)
            && self
                .services
                .get(usize::from(sid))
                .and_then(Option::as_ref)
                .is_some_and(|s| s.members.contains(&mid))
    }

    fn service_id(&self, name: &str) -> Result<u16, DriverError> {
        self.live_services()
            .find(|(_, s)| s.config.name == name)
            .map(|(id, _)| id)
            .ok_or_else(|| DriverError::Invalid(format!("no service named {name:?}")))
    }

    /// (service id, member id) of `addr:port` in the named service.
    fn member_id(
        &self,
        service: &str,
        addr: Ipv4Addr,
        port: u16,
    ) -> Result<(u16, u16), DriverError> {
        let sid = self.service_id(service)?;
        self.service(sid)
            .members
            .iter()
            .copied()
            .find(|&m| {
                let c = &self.member(m).config;
                (c.addr, c.port) == (addr, port)
            })
            .map(|mid| (sid, mid))
            .ok_or_else(|| {
                DriverError::Invalid(format!("service {service:?} has no member {addr}:{port}"))
            })
    }

    fn check_port(&self, port: u8) -> Result<(), DriverError> {
        let ports = self.tables.geometry().ports;
        if port < ports {
            Ok(())
        } else {
            Err(DriverError::Invalid(format!(
                "port {port} out of range: the device has ports 0..{ports}"
            )))
        }
    }

    fn check_service(&self, s: &ServiceConfig) -> Result<(), DriverError> {
        let invalid =
            |why: String| Err(DriverError::Invalid(format!("service {:?}: {why}", s.name)));
        if s.name.is_empty() {
            return invalid("empty name".into());
        }
        for (_, other) in self.live_services() {
            let o = &other.config;
            if o.name == s.name {
                return invalid("a service of that name exists".into());
            }
            if (o.vip, o.port, o.proto) == (s.vip, s.port, s.proto) {
                return invalid(format!(
                    "{}:{} is already service {:?}",
                    s.vip, s.port, o.name
                ));
            }
        }
        self.check_port(s.peer_port)?;
        let max_log2 = self.tables.geometry().indir_slots_log2;
        if s.indir_log2 > max_log2 {
            return invalid(format!(
                "indir_log2 {} is more than the device's {max_log2}",
                s.indir_log2
            ));
        }
        match (s.policy, s.key) {
            (PolicyKind::KeyHash, Some((offset, len))) => {
                if !(1..=16).contains(&len) || u32::from(offset) + u32::from(len) > 64 {
                    return invalid(format!(
                        "key at offset {offset}, {len} bytes: need 1-16 bytes within the first 64"
                    ));
                }
            }
            (PolicyKind::KeyHash, None) => {
                return invalid("key-hash needs a key (offset, len)".into())
            }
            (_, Some(_)) => return invalid("only key-hash services take a key".into()),
            (_, None) => {}
        }
        Ok(())
    }

    fn write_member(&mut self, mid: u16) -> Result<(), DriverError> {
        let m = self.member(mid);
        let words = entries::member_entry(&m.config, m.service, state_code(m.state()));
        self.tables
            .write_entry(&mut self.backend, Table::Member, mid.into(), &words)
    }

    /// The service's members as the ALRM sees them.
    fn alrm_members(&self, sid: u16) -> Vec<maglev::Member> {
        self.service(sid)
            .members
            .iter()
            .map(|&id| {
                let m = self.member(id);
                maglev::Member {
                    id,
                    weight: m.config.weight,
                    hash: m.hash,
                }
            })
            .collect()
    }

    /// Lets the service's ALRM bring the indirection slots to the current members and writes the
    /// slots that changed.
    fn refill(&mut self, sid: u16) -> Result<(), DriverError> {
        let members = self.alrm_members(sid);
        let service = self.services[usize::from(sid)]
            .as_mut()
            .expect("service exists");
        let Some((base, log2)) = service.indir else {
            return Ok(());
        };
        let mut slots = self.tables.indir_slots(base, log2);
        if service.plugin.fill_indirection(&members, &mut slots) {
            // Connections the device already sent by the old slots get their entries first, and
            // those decided while the slots were being written right after (the pending window).
            self.settle_learns()?;
            self.tables.write_indir(&mut self.backend, base, &slots)?;
            self.settle_learns()?;
        }
        Ok(())
    }

    /// Removes both directions of every connection to the member.
    fn remove_conns_of(&mut self, mid: u16) -> Result<(), DriverError> {
        let doomed: Vec<Connection> = self
            .tables
            .connections()
            .filter(|c| c.member == mid)
            .collect();
        for c in doomed {
            self.remove_connection(&c.inbound)?;
        }
        Ok(())
    }
}
