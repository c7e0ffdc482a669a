//! One switch as a network node: the driver's control plane plus the slow path that makes the switch
//! a real hop (ARP, echo, neighbour resolution, ageing), and the control requests. Frames come in
//! through [`Node::receive`] and leave through [`Node::take_frames`]; time is passed in, so all of
//! it runs in tests without devices.

use super::acp::{AcpService, AcpServices, Hop, L2};
use super::ageing::{self, Ageing};
use super::neighbors::{self, Neighbors};
use super::state::{SavedConn, State};
use crate::config::{
    self, format_mac, frame_policy_name, proto_name, AcpServiceEntry, Config, PortEntry,
    ServiceEntry, Timeouts,
};
use crate::frames::{self, Arp, Ipv4};
use crate::log::{debug, error, info, warning};
use crate::protocol::{
    ConnList, ConnView, KeySpec, MemberView, Request, ServiceView, SlowPathStats, Stats,
};
use crate::{save, setup};
use anypoint_driver::control::Connection;
use anypoint_driver::{
    Backend, ControlPlane, HostDisposition, MemberConfig, MemberState, PolicyKind, ServiceConfig,
};
use anypoint_model::frame_switch::{self, Packet, Policy as FramePolicy};
use anypoint_model::hostrec::HEADER_LEN;
use anypoint_model::regs::reason;
use anypoint_model::{FiveTuple, HashKey, HostHeader, InjectHeader, InjectMode};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

/// How often the device is checked for a reset it went through behind the driver's back.
const RESET_CHECK: Duration = Duration::from_secs(1);

/// A member whose MAC the slow path resolves: (service, addr, port).
type MemberKey = (String, Ipv4Addr, u16);

pub struct Node<B: Backend> {
    ctl: ControlPlane<B>,
    hash_key: HashKey,
    timeouts: Timeouts,
    /// As configured: `next_hop_mac` only when the config gave it.
    ports: Vec<PortEntry>,
    /// Members without a configured MAC, with their out port.
    arp_members: BTreeMap<MemberKey, u8>,
    /// VIPs of the services, kept so ARP and ping need not list the services.
    vips: Vec<Ipv4Addr>,
    /// The `proto = "acp"` services, switched on the host.
    acp: AcpServices,
    neighbors: Neighbors,
    ageing: Ageing,
    next_scan: Instant,
    /// When the device is next asked whether it was reset behind the driver's back.
    next_reset_check: Instant,
    started: Instant,
    stats: SlowPathStats,
    /// Frames for the port links.
    out: Vec<(u8, Vec<u8>)>,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn json(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).expect("views serialize")
}

/// The MAC of the router towards peers on `port`: configured, or resolved from `next_hop`.
fn next_hop_mac(ports: &[PortEntry], neighbors: &Neighbors, port: u8) -> Option<[u8; 6]> {
    let p = ports.iter().find(|p| p.id() == port)?;
    p.port
        .next_hop_mac
        .or_else(|| neighbors.mac((port, p.next_hop?)))
}

fn reason_name(code: u8) -> String {
    reason::ALL
        .iter()
        .find(|(c, _)| *c == code)
        .map_or_else(|| format!("reason_{code}"), |(_, n)| n.to_string())
}

impl<B: Backend> Node<B> {
    pub fn new(backend: B, config: &Config, now: Instant) -> Result<Node<B>, String> {
        let hash_key = setup::hash_key(config)?;
        let mut ctl = setup::program(backend, config, hash_key)?;
        let acp = AcpServices::new(&config.acp_services, hash_key, || {
            ctl.backend().acp_engine()
        })?;
        let arp_members = config
            .services
            .iter()
            .flat_map(|s| {
                s.members
                    .iter()
                    .filter(|m| m.mac.is_none())
                    .map(|m| ((s.service.name.clone(), m.addr, m.port), m.out_port))
            })
            .collect();
        let mut node = Node {
            ctl,
            hash_key,
            timeouts: config.timeouts,
            ports: config.ports.clone(),
            arp_members,
            vips: Vec::new(),
            acp,
            neighbors: Neighbors::default(),
            ageing: Ageing::default(),
            next_scan: now + ageing::scan_interval(&config.timeouts),
            next_reset_check: now + RESET_CHECK,
            started: now,
            stats: SlowPathStats::default(),
            out: Vec::new(),
        };
        node.sync_neighbors(now);
        node.refresh_vips();
        Ok(node)
    }

    /// A frame arrived on `port`.
    pub fn receive(&mut self, port: u8, frame: &[u8], now: Instant) {
        self.ctl.backend().receive(port, frame);
        self.drain(now);
    }

    /// The switch behind the control plane.
    pub fn backend(&mut self) -> &mut B {
        self.ctl.backend()
    }

    /// Frames to send, by port.
    pub fn take_frames(&mut self) -> Vec<(u8, Vec<u8>)> {
        std::mem::take(&mut self.out)
    }

    /// Timed work: ARP probes and connection ageing.
    pub fn tick(&mut self, now: Instant) {
        for ((port, ip), failed) in self.neighbors.due(now) {
            if failed {
                warning!(
                    "no ARP reply from {ip} on port {port}: retrying every {}s",
                    neighbors::BACKOFF.as_secs()
                );
            }
            self.arp_request(port, ip);
        }
        if now >= self.next_reset_check {
            self.next_reset_check = now + RESET_CHECK;
            self.recover_from_reset();
        }
        if now >= self.next_scan {
            self.next_scan = now + ageing::scan_interval(&self.timeouts);
            let conns = self.ctl.connection_activity();
            for t in self.ageing.scan(&conns, &self.timeouts, now) {
                if self.ctl.remove_connection(&t).is_ok() {
                    self.stats.aged += 1;
                }
            }
            for i in 0..self.acp.list.len() {
                let out = self.acp.list[i].age(&self.timeouts, now);
                self.send_acp(i, out);
            }
        }
        self.drain(now);
    }

    /// A device that was reset (power cycle, PCIe or function reset, SOFT_RESET) lost its tables:
    /// they are written again from the driver's shadow. The acp services take their flows back
    /// from its slots first. A reset the daemon did not write leaves the ACP block's count of the
    /// records it gave back out of step with the daemon's (the block's restarted, some of its
    /// records may be queued), so with slots in use the daemon resets the device once more itself:
    /// both counts restart at zero with an empty host queue (docs/frame-switching.md section 10).
    fn recover_from_reset(&mut self) {
        if !self.ctl.reset_detected() {
            return;
        }
        warning!("the device was reset: reprogramming its tables");
        let restored = if self.acp.take_back_after_reset() {
            self.ctl.soft_reset()
        } else {
            self.ctl.reprogram()
        };
        match restored {
            Ok(()) => {
                self.stats.resets += 1;
                info!("tables reprogrammed after the device reset");
            }
            Err(e) => error!("cannot reprogram the device after its reset: {e}"),
        }
    }

    /// When [`Node::tick`] next has work.
    pub fn next_deadline(&self) -> Instant {
        self.neighbors
            .next_deadline()
            .map_or(self.next_scan, |t| t.min(self.next_scan))
            .min(self.next_reset_check)
    }

    /// Moves everything the switch produced: frames to `out`, host-queue records to the slow path.
    fn drain(&mut self, now: Instant) {
        loop {
            if let Some(frame) = self.ctl.backend().pop_egress() {
                self.out.push(frame);
            } else if let Some(record) = self.ctl.pop_host() {
                self.host_record(&record, now);
            } else {
                self.acp.load_all_wanted();
                return;
            }
        }
    }

    fn host_record(&mut self, record: &[u8], now: Instant) {
        let disposition = self.ctl.handle_host_record(record);
        if matches!(
            disposition,
            Ok(HostDisposition::Learned | HostDisposition::Redirected { .. })
        ) {
            // Inserted for its first segment (a TCP connection's SYN).
            if let Some(h) = HostHeader::decode(record) {
                if self.ctl.has_connection_key(&h.tuple) {
                    self.ageing.opened(h.tuple, now);
                }
            }
        }
        match disposition {
            Ok(HostDisposition::Learned) => self.stats.learned += 1,
            Ok(HostDisposition::Redirected { .. }) => self.stats.redirected += 1,
            Ok(HostDisposition::Closing { inbound, reset }) => {
                self.stats.closing += 1;
                self.ageing.closing(inbound, reset);
            }
            Ok(HostDisposition::Unhandled) => self.punt(record, now),
            Err(e) => {
                debug!("host-queue record: {e}");
                self.count_drop("malformed".into());
            }
        }
    }

    /// A punted frame the control plane left alone: ARP and echo are answered, the rest counted
    /// by reason and dropped.
    fn punt(&mut self, record: &[u8], now: Instant) {
        let Some(h) = HostHeader::decode(record) else {
            return self.count_drop("malformed".into());
        };
        let frame = record
            .get(HEADER_LEN..HEADER_LEN + usize::from(h.frame_len))
            .unwrap_or_default();
        let handled = match h.reason {
            reason::ARP => self.arp(h.in_port, frame, now),
            reason::L4_OTHER => {
                self.echo(h.in_port, frame) || self.acp_segment(h.in_port, frame, now)
            }
            reason::OUTBOUND_NO_CONN => self.retry_outbound(&h, frame),
            _ => false,
        };
        if !handled {
            let why = reason_name(h.reason);
            if crate::log::enabled(crate::log::Level::Debug) {
                let t = &h.tuple;
                // The pipeline fills the tuple only for TCP and UDP: show the IP header's view.
                let ip = Ipv4::parse(frame).map_or_else(String::new, |ip| {
                    format!(" (IPv4 {} > {} proto {})", ip.src, ip.dst, ip.proto)
                });
                debug!(
                    "dropped {why} frame of {} bytes from port {}: {}:{} > {}:{} proto {}{ip}",
                    h.frame_len,
                    h.in_port,
                    Ipv4Addr::from(t.src_ip),
                    t.src_port,
                    Ipv4Addr::from(t.dst_ip),
                    t.dst_port,
                    t.proto
                );
            }
            self.count_drop(why);
        }
    }

    /// A member's reply that reached a device with its own ports before the daemon inserted the
    /// connection its peer's SYN opened (the learn record queued ahead of it): once the connection
    /// is in, the frame goes through the pipeline again instead of waiting for a retransmit.
    fn retry_outbound(&mut self, h: &HostHeader, frame: &[u8]) -> bool {
        if !self.ctl.has_connection_key(&h.tuple) {
            return false;
        }
        let mut record = InjectHeader {
            mode: InjectMode::Pipeline,
            port: h.in_port,
        }
        .encode()
        .to_vec();
        record.extend_from_slice(frame);
        if self.ctl.backend().inject(&record) {
            self.stats.outbound_retried += 1;
        }
        true
    }

    /// An ACP segment for an acp service's VIP or from one of its members goes through the
    /// service's frame switch; what it produces is sent.
    fn acp_segment(&mut self, port: u8, frame: &[u8], now: Instant) -> bool {
        let Some(ip) = Ipv4::parse(frame).filter(|ip| ip.proto == acp::wire::PROTOCOL) else {
            return false;
        };
        let (ports, neighbors) = (&self.ports, &self.neighbors);
        let next_hop = |p: u8| next_hop_mac(ports, neighbors, p);
        let member = |p: u8, addr: Ipv4Addr| neighbors.mac((p, addr));
        let l2 = L2 {
            next_hop: &next_hop,
            member: &member,
        };
        let got = self.acp.receive(port, ip.src, ip.dst, ip.payload, now, &l2);
        match got {
            Some((service, out)) => {
                // The flow is loaded before what it sends leaves, so that the answers find it on
                // the device: loaded after, it races them, and the fence refuses a load while one
                // is queued (a request and response chain never leaves the queue empty).
                self.acp.load_wanted();
                self.send_acp(service, out);
                true
            }
            None => false,
        }
    }

    /// Sends the segments of acp service `service` (index) as frames; one without a next hop or
    /// member MAC yet is counted and dropped (ACP retransmits).
    fn send_acp(&mut self, service: usize, out: Vec<(Hop, Packet)>) {
        for (hop, p) in out {
            let (port, dst_mac) = match hop {
                Hop::Peer { port } => (port, self.next_hop_mac(port)),
                Hop::Member { port, addr, mac } => {
                    (port, mac.or_else(|| self.neighbors.mac((port, addr))))
                }
            };
            let src_mac = self.port(port).map(|p| p.port.mac);
            let s = &mut self.acp.list[service];
            let (Some(dst_mac), Some(src_mac)) = (dst_mac, src_mac) else {
                s.unsent += 1;
                continue;
            };
            s.sent += 1;
            self.send(port, anypoint_model::acp_frame(&p, dst_mac, src_mac));
        }
    }

    fn next_hop_mac(&self, port: u8) -> Option<[u8; 6]> {
        next_hop_mac(&self.ports, &self.neighbors, port)
    }

    fn count_drop(&mut self, why: String) {
        *self.stats.dropped.entry(why).or_default() += 1;
    }

    fn port(&self, id: u8) -> Option<&PortEntry> {
        self.ports.iter().find(|p| p.id() == id)
    }

    /// A `proto = "acp"` service added through the control socket, with no members yet (the
    /// config file's checks: key, bounds, a VIP and port of its own among acp services).
    fn add_acp_service(&mut self, entry: AcpServiceEntry) -> Result<Value, String> {
        if let FramePolicy::KeyHash { offset, len } = entry.policy {
            if i64::from(offset) > config::ACP_MAX_KEY_OFFSET || !(1..=16).contains(&len) {
                return Err(format!(
                    "key: offset 0-{} and length 1-16 (got {offset}:{len})",
                    config::ACP_MAX_KEY_OFFSET
                ));
            }
        }
        for (field, value, (lo, hi)) in [
            ("frame_window", entry.frame_window, config::FRAME_WINDOW),
            ("max_holes", entry.max_holes, config::MAX_HOLES),
            ("active_set", entry.active_set, config::ACTIVE_SET),
        ] {
            if !(lo..=hi).contains(&(value as i64)) {
                return Err(format!("{field}: {value} is out of range {lo}-{hi}"));
            }
        }
        if self
            .acp
            .list
            .iter()
            .any(|s| (s.entry.vip, s.entry.port) == (entry.vip, entry.port))
        {
            return Err("another service has the same vip, port and proto".into());
        }
        info!(
            "service {} added: {}:{}/acp {}",
            entry.name,
            entry.vip,
            entry.port,
            frame_policy_name(entry.policy)
        );
        let engine = self.ctl.backend().acp_engine();
        self.acp
            .list
            .push(AcpService::new(entry, self.hash_key, engine)?);
        self.refresh_vips();
        Ok(Value::Null)
    }

    fn refresh_vips(&mut self) {
        self.vips = self.ctl.services().iter().map(|s| s.config.vip).collect();
        self.vips.extend(self.acp.list.iter().map(|s| s.entry.vip));
    }

    fn is_local(&self, ip: Ipv4Addr) -> bool {
        self.ports
            .iter()
            .any(|p| p.addr.is_some_and(|a| a.ip == ip))
            || self.vips.contains(&ip)
    }

    /// Learns from every ARP packet of a neighbour being resolved; answers requests for a VIP or an
    /// address of the switch.
    fn arp(&mut self, port: u8, frame: &[u8], now: Instant) -> bool {
        let Some(a) = Arp::parse(frame) else {
            return false;
        };
        let Some(mac) = self.port(port).map(|p| p.port.mac) else {
            return false;
        };
        let heard = self.neighbors.heard((port, a.sender_ip), a.sender_mac, now);
        if heard == Some(true) {
            info!(
                "{} is at {} on port {port}",
                a.sender_ip,
                format_mac(&a.sender_mac)
            );
            self.apply_neighbor(port, a.sender_ip, a.sender_mac);
        }
        if a.op == frames::ARP_REQUEST && self.is_local(a.target_ip) {
            let reply = Arp {
                op: frames::ARP_REPLY,
                sender_mac: mac,
                sender_ip: a.target_ip,
                target_mac: a.sender_mac,
                target_ip: a.sender_ip,
            };
            self.send(port, reply.frame(a.sender_mac, mac));
            self.stats.arp_replies += 1;
            return true;
        }
        a.op == frames::ARP_REPLY && heard.is_some()
    }

    fn echo(&mut self, port: u8, frame: &[u8]) -> bool {
        let Some(target) = frames::echo_request_target(frame) else {
            return false;
        };
        let Some(mac) = self.port(port).map(|p| p.port.mac) else {
            return false;
        };
        if !self.is_local(target) {
            return false;
        }
        match frames::echo_reply(frame, mac) {
            Some(reply) => {
                self.send(port, reply);
                self.stats.echo_replies += 1;
                true
            }
            None => false,
        }
    }

    fn arp_request(&mut self, port: u8, ip: Ipv4Addr) {
        let Some(p) = self.port(port) else { return };
        let mac = p.port.mac;
        let req = Arp {
            op: frames::ARP_REQUEST,
            sender_mac: mac,
            // Without an address of its own on the link the switch asks as an RFC 5227 probe.
            sender_ip: p.addr.map_or(Ipv4Addr::UNSPECIFIED, |a| a.ip),
            target_mac: [0; 6],
            target_ip: ip,
        };
        self.send(port, req.frame(frames::BROADCAST, mac));
        self.stats.arp_requests += 1;
    }

    /// Sends a frame out of `port` through the switch (direct inject), so the port counts it.
    fn send(&mut self, port: u8, frame: Vec<u8>) {
        let mut record = InjectHeader {
            mode: InjectMode::Direct,
            port,
        }
        .encode()
        .to_vec();
        record.extend_from_slice(&frame);
        if !self.ctl.backend().inject(&record) {
            warning!("the switch refused a frame for port {port}");
        }
    }

    /// Neighbours to resolve: next hops given by address, members without a MAC.
    fn wanted(&self) -> Vec<neighbors::Key> {
        let hops = self
            .ports
            .iter()
            .filter_map(|p| Some((p.id(), p.next_hop?)));
        let members = self
            .arp_members
            .iter()
            .map(|((_, addr, _), &port)| (port, *addr));
        hops.chain(members).chain(self.acp.to_resolve()).collect()
    }

    fn sync_neighbors(&mut self, now: Instant) {
        let wanted = self.wanted();
        self.neighbors.sync(wanted, now);
    }

    /// Programs a resolved MAC into every port and member that uses it.
    fn apply_neighbor(&mut self, port: u8, ip: Ipv4Addr, mac: [u8; 6]) {
        for p in &self.ports {
            if p.id() == port && p.next_hop == Some(ip) {
                let mut pc = p.port.clone();
                pc.next_hop_mac = Some(mac);
                if let Err(e) = self.ctl.set_port(&pc) {
                    warning!("port {port}: cannot set next hop MAC: {e}");
                }
            }
        }
        for ((service, addr, mport), &out) in &self.arp_members {
            if out == port && *addr == ip {
                if let Err(e) = self.ctl.set_member_mac(service, *addr, *mport, mac) {
                    warning!("{service} member {addr}:{mport}: cannot set MAC: {e}");
                }
            }
        }
    }

    // ---- control requests ----

    /// Serves one control request; the error is the message for the operator.
    pub fn handle(&mut self, req: Request, now: Instant) -> Result<Value, String> {
        match req {
            Request::ServiceList => Ok(json(self.service_views())),
            Request::ServiceAdd {
                name,
                vip,
                port,
                proto,
                policy,
                key,
                peer_port,
                slots,
                frame_window,
                max_holes,
                active_set,
            } => {
                config::check_name(&name).map_err(|why| format!("service name `{name}`: {why}"))?;
                if self.acp.get(&name).is_some()
                    || self.ctl.services().iter().any(|s| s.config.name == name)
                {
                    return Err(format!("service {name} exists"));
                }
                if proto == "acp" {
                    if peer_port.is_some() || slots.is_some() {
                        return Err("peer_port and slots do not apply to an acp service".into());
                    }
                    let entry = AcpServiceEntry {
                        name,
                        vip,
                        port,
                        policy: config::frame_policy(&policy, key.map(|k| (k.offset, k.len)))
                            .map_err(|(field, why)| format!("{field}: {why}"))?,
                        frame_window: frame_window.map_or(frame_switch::DEFAULT_W, usize::from),
                        max_holes: max_holes.map_or(frame_switch::DEFAULT_MAX_HOLES, usize::from),
                        active_set: active_set.map_or(frame_switch::MAX_ACTIVE, usize::from),
                        members: Vec::new(),
                    };
                    return self.add_acp_service(entry);
                }
                if frame_window.is_some() || max_holes.is_some() || active_set.is_some() {
                    return Err(
                        "frame_window, max_holes and active_set apply to acp services only".into(),
                    );
                }
                let proto = config::parse_proto(&proto)
                    .ok_or_else(|| format!("proto `{proto}` is not tcp, udp or acp"))?;
                let policy = PolicyKind::from_name(&policy).ok_or_else(|| {
                    format!(
                        "policy `{policy}` is not one of maglev, key-hash, round-robin, least-conn"
                    )
                })?;
                config::check_policy(policy, proto, key.is_some())
                    .map_err(|(field, why)| format!("{field}: {why}"))?;
                let key = key
                    .map(|k| match u8::try_from(k.offset) {
                        Ok(offset) => Ok((offset, k.len)),
                        Err(_) => Err(format!("key offset {} is out of range 0..=63", k.offset)),
                    })
                    .transpose()?;
                let indir_log2 = match slots {
                    None => config::DEFAULT_INDIR_LOG2,
                    Some(n) => {
                        config::slots_log2(n.into()).map_err(|why| format!("slots: {why}"))?
                    }
                };
                let peer_port = match peer_port {
                    Some(p) => self.configured_port(p)?,
                    None => config::default_peer_port(&self.ports),
                };
                self.ctl
                    .add_service(ServiceConfig {
                        name: name.clone(),
                        vip,
                        port,
                        proto,
                        policy,
                        key,
                        peer_port,
                        indir_log2,
                    })
                    .map_err(err)?;
                self.refresh_vips();
                info!(
                    "service {name} added: {vip}:{port}/{} {}",
                    proto_name(proto),
                    policy.name()
                );
                Ok(Value::Null)
            }
            Request::ServiceDelete { name } => {
                if let Some(i) = self.acp.list.iter().position(|s| s.entry.name == name) {
                    // Its connections go with it, as a tcp service's do (the device's too).
                    self.acp.list.remove(i).release();
                } else {
                    self.ctl.remove_service(&name).map_err(err)?;
                }
                self.arp_members.retain(|(s, _, _), _| *s != name);
                self.sync_neighbors(now);
                self.refresh_vips();
                info!("service {name} deleted");
                Ok(Value::Null)
            }
            Request::MemberAdd {
                service,
                addr,
                port,
                weight,
                out_port,
                mac,
            } => {
                let out_port = match out_port {
                    Some(p) => self.configured_port(p)?,
                    None => self
                        .ports
                        .iter()
                        .find(|p| p.addr.is_some_and(|a| a.contains(addr)))
                        .map(PortEntry::id)
                        .ok_or_else(|| {
                            format!("no port's addr covers {addr}: give the member's out port")
                        })?,
                };
                let mac = mac
                    .map(|m| {
                        config::parse_mac(&m).ok_or_else(|| format!("`{m}` is not a MAC address"))
                    })
                    .transpose()?;
                let weight = weight.unwrap_or(1);
                check_weight(weight)?;
                if let Some(s) = self.acp.get_mut(&service) {
                    if weight == 0 {
                        return Err(ACP_NO_DRAIN.into());
                    }
                    let member = MemberConfig {
                        addr,
                        port,
                        mac,
                        out_port,
                        weight,
                    };
                    s.add_member(member)?;
                    self.sync_neighbors(now);
                    info!("service {service}: member {addr}:{port} added for new connections (port {out_port})");
                    return Ok(Value::Null);
                }
                let member = MemberConfig {
                    addr,
                    port,
                    mac: mac.or_else(|| self.neighbors.mac((out_port, addr))),
                    out_port,
                    weight,
                };
                self.ctl.add_member(&service, member).map_err(err)?;
                if mac.is_none() {
                    self.arp_members
                        .insert((service.clone(), addr, port), out_port);
                    self.sync_neighbors(now);
                }
                info!("service {service}: member {addr}:{port} added (weight {weight}, port {out_port})");
                Ok(Value::Null)
            }
            Request::MemberSetWeight {
                service,
                addr,
                port,
                weight,
            } => {
                check_weight(weight)?;
                if self.acp.get(&service).is_some() {
                    return Err(ACP_NO_DRAIN.into());
                }
                self.ctl
                    .set_weight(&service, addr, port, weight)
                    .map_err(err)?;
                info!("service {service}: member {addr}:{port} weight {weight}");
                Ok(Value::Null)
            }
            Request::MemberRemove {
                service,
                addr,
                port,
            } => {
                if let Some(i) = self.acp.list.iter().position(|s| s.entry.name == service) {
                    let out = self.acp.list[i].remove_member(addr, port)?;
                    self.send_acp(i, out);
                    // Out now, not at the next tick.
                    self.drain(now);
                    self.sync_neighbors(now);
                    info!("service {service}: member {addr}:{port} removed from every connection");
                    return Ok(Value::Null);
                }
                self.ctl.remove_member(&service, addr, port).map_err(err)?;
                self.arp_members.remove(&(service.clone(), addr, port));
                self.sync_neighbors(now);
                info!("service {service}: member {addr}:{port} removed");
                Ok(Value::Null)
            }
            Request::MemberList { service } => Ok(json(self.member_views(&service)?)),
            Request::ConnList { service, limit } => Ok(json(self.conn_list(service, limit)?)),
            Request::Stats => Ok(json(self.stats(now))),
            Request::Save => Ok(Value::String(save::render(&self.config()))),
        }
    }

    fn configured_port(&self, p: u8) -> Result<u8, String> {
        match self.port(p) {
            Some(_) => Ok(p),
            None => Err(format!("port {p} is not configured")),
        }
    }

    fn service_views(&self) -> Vec<ServiceView> {
        let acp = self.acp.list.iter().map(|s| {
            let e = &s.entry;
            ServiceView {
                name: e.name.clone(),
                vip: e.vip,
                port: e.port,
                proto: "acp".into(),
                policy: frame_policy_name(e.policy).into(),
                key: match e.policy {
                    FramePolicy::KeyHash { offset, len } => Some(KeySpec { offset, len }),
                    _ => None,
                },
                peer_port: None,
                slots: None,
                members: e.members.len(),
                connections: s.flows() as u32,
            }
        });
        self.ctl
            .services()
            .into_iter()
            .map(|s| {
                let c = s.config;
                ServiceView {
                    vip: c.vip,
                    port: c.port,
                    proto: proto_name(c.proto).into(),
                    policy: c.policy.name().into(),
                    key: c.key.map(|(offset, len)| KeySpec {
                        offset: offset.into(),
                        len,
                    }),
                    peer_port: Some(c.peer_port),
                    slots: Some(1 << c.indir_log2),
                    members: s.members.len(),
                    connections: s.members.iter().map(|m| m.conns).sum(),
                    name: c.name,
                }
            })
            .chain(acp)
            .collect()
    }

    fn member_views(&mut self, service: &str) -> Result<Vec<MemberView>, String> {
        if let Some(s) = self.acp.get(service) {
            return Ok(s
                .entry
                .members
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let (connections, (to, from)) = s.member_usage(i);
                    let mac = c.mac.or_else(|| self.neighbors.mac((c.out_port, c.addr)));
                    MemberView {
                        addr: c.addr,
                        port: c.port,
                        weight: c.weight,
                        state: "active".into(),
                        out_port: c.out_port,
                        mac: mac.as_ref().map(format_mac),
                        mac_source: if c.mac.is_some() { "config" } else { "arp" }.into(),
                        connections: connections as u32,
                        in_packets: to,
                        out_packets: from,
                    }
                })
                .collect());
        }
        let s = self
            .ctl
            .services()
            .into_iter()
            .find(|s| s.config.name == service)
            .ok_or_else(|| format!("no service named {service:?}"))?;
        let counters = self.ctl.counters();
        let flows = counters.services.iter().find(|c| c.service == service);
        Ok(s.members
            .into_iter()
            .map(|m| {
                let c = m.config;
                let name = format!("{}:{}", c.addr, c.port);
                let flow = flows
                    .and_then(|f| f.members.iter().find(|x| x.member == name))
                    .map(|x| x.counters.clone())
                    .unwrap_or_default();
                let by_arp = self
                    .arp_members
                    .contains_key(&(service.to_string(), c.addr, c.port));
                MemberView {
                    addr: c.addr,
                    port: c.port,
                    weight: c.weight,
                    state: match m.state {
                        MemberState::Active => "active",
                        MemberState::Draining => "draining",
                        MemberState::Down => "down",
                    }
                    .into(),
                    out_port: c.out_port,
                    mac: c.mac.as_ref().map(format_mac),
                    mac_source: if by_arp { "arp" } else { "config" }.into(),
                    connections: m.conns,
                    in_packets: flow.in_packets,
                    out_packets: flow.out_packets,
                }
            })
            .collect())
    }

    fn conn_list(&self, service: Option<String>, limit: Option<usize>) -> Result<ConnList, String> {
        let services = self.ctl.services();
        if let Some(name) = &service {
            if self.acp.get(name).is_none() && !services.iter().any(|s| s.config.name == *name) {
                return Err(format!("no service named {name:?}"));
            }
        }
        let mut matching: Vec<ConnView> = Vec::new();
        let mut total = 0;
        for c in self.ctl.connections() {
            let Some(s) = services.iter().find(|s| s.id == c.service) else {
                continue;
            };
            if service.as_ref().is_some_and(|n| *n != s.config.name) {
                continue;
            }
            total += 1;
            if limit.is_some_and(|l| matching.len() >= l) {
                continue;
            }
            let member = s.members.iter().find(|m| m.id == c.member).map_or_else(
                || format!("#{}", c.member),
                |m| format!("{}:{}", m.config.addr, m.config.port),
            );
            let t = c.inbound;
            matching.push(ConnView {
                service: s.config.name.clone(),
                proto: proto_name(s.config.proto).into(),
                peer: format!("{}:{}", Ipv4Addr::from(t.src_ip), t.src_port),
                vip: format!("{}:{}", Ipv4Addr::from(t.dst_ip), t.dst_port),
                member,
                peer_port: c.peer_port,
                state: None,
            });
        }
        // Then the frame switches' connections.
        for s in &self.acp.list {
            if service.as_ref().is_some_and(|n| *n != s.entry.name) {
                continue;
            }
            let conns = s.connections();
            total += conns.len();
            let room = limit.map_or(usize::MAX, |l| l.saturating_sub(matching.len()));
            matching.extend(conns.into_iter().take(room));
        }
        Ok(ConnList {
            total,
            connections: matching,
        })
    }

    /// The hash key and the connection table, for the state file.
    pub fn state(&self) -> State {
        let services = self.ctl.services();
        let connections = self
            .ctl
            .connections()
            .into_iter()
            .filter_map(|c| {
                let s = services.iter().find(|s| s.id == c.service)?;
                let m = s.members.iter().find(|m| m.id == c.member)?;
                let t = c.inbound;
                Some(SavedConn {
                    service: s.config.name.clone(),
                    peer: SocketAddrV4::new(t.src_ip.into(), t.src_port),
                    member: SocketAddrV4::new(m.config.addr, m.config.port),
                    peer_port: c.peer_port,
                })
            })
            .collect();
        State::new(config::format_hash_key(&self.hash_key), connections)
    }

    /// Inserts the saved connections whose service and member are configured: (restored, skipped).
    pub fn restore(&mut self, state: &State) -> (usize, usize) {
        let services = self.ctl.services();
        let mut restored = 0;
        for saved in &state.connections {
            let conn = services
                .iter()
                .find(|s| s.config.name == saved.service)
                .and_then(|s| {
                    let m = s.members.iter().find(|m| {
                        SocketAddrV4::new(m.config.addr, m.config.port) == saved.member
                    })?;
                    let inbound = FiveTuple {
                        src_ip: (*saved.peer.ip()).into(),
                        dst_ip: s.config.vip.into(),
                        src_port: saved.peer.port(),
                        dst_port: s.config.port,
                        proto: s.config.proto.number(),
                    };
                    Some(Connection {
                        inbound,
                        service: s.id,
                        member: m.id,
                        peer_port: saved.peer_port,
                    })
                });
            if conn.is_some_and(|c| self.ctl.insert_connection(&c).is_ok()) {
                restored += 1;
            }
        }
        (restored, state.connections.len() - restored)
    }

    fn stats(&mut self, now: Instant) -> Stats {
        let mut slow_path = self.stats.clone();
        slow_path.arp_failures = self.neighbors.failures;
        slow_path.conn_insert_failures = self.ctl.table_stats().conn_insert_failures;
        Stats {
            uptime_ms: now.duration_since(self.started).as_millis() as u64,
            counters: self.ctl.counters(),
            slow_path,
            acp: self.acp.list.iter_mut().map(|s| s.stats()).collect(),
        }
    }

    /// The running configuration, for `save`.
    fn config(&self) -> Config {
        Config {
            hash_key: Some(self.hash_key),
            timeouts: self.timeouts,
            ports: self.ports.clone(),
            services: self
                .ctl
                .services()
                .into_iter()
                .map(|s| {
                    let name = s.config.name.clone();
                    ServiceEntry {
                        members: s
                            .members
                            .into_iter()
                            .map(|m| {
                                let mut c = m.config;
                                if self
                                    .arp_members
                                    .contains_key(&(name.clone(), c.addr, c.port))
                                {
                                    c.mac = None;
                                }
                                c
                            })
                            .collect(),
                        service: s.config,
                    }
                })
                .collect(),
            acp_services: self.acp.list.iter().map(|s| s.entry.clone()).collect(),
        }
    }
}

/// Why an acp member's weight cannot be set: the per-frame policies do not weigh members.
const ACP_NO_DRAIN: &str =
    "an acp service's members have no weights and cannot be drained: remove the member instead";

fn check_weight(w: u32) -> Result<(), String> {
    if w <= 65535 {
        Ok(())
    } else {
        Err(format!("weight {w} is out of range 0..=65535"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acp::wire::{Flags, Header, Options};
    use anypoint_driver::acp_offload::Shared;
    use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};
    use std::time::Duration;

    const CONFIG: &str = r#"
        [switch]
        hash_key = "00112233445566778899aabbccddeeff"
        [timeouts]
        tcp_syn = 6
        tcp = 20
        tcp_fin = 8
        tcp_rst = 2
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
        [[service]]
        name = "frames"
        vip = "10.77.0.100"
        port = 7000
        proto = "acp"
        policy = "round-robin"
        members = [ { addr = "10.77.1.11", port = 7000, out_port = 1 } ]
    "#;
    const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const MEMBER_MAC: [u8; 6] = [2, 0, 0, 0, 1, 11];
    const PORT0_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x10];
    const PORT1_MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x11];
    const PEER: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
    const MEMBER: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 11);
    const VIP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 100);

    /// The model's switch, its ACP block driven as the daemon drives a device's.
    type TestNode = Node<Shared<anypoint_model::Switch>>;

    fn node(t0: Instant) -> TestNode {
        let config = Config::parse(CONFIG).unwrap();
        let switch = Shared::new(anypoint_model::Switch::new(Default::default()));
        Node::new(switch, &config, t0).unwrap()
    }

    /// An echo request from the peer to the VIP on port 0.
    fn ping() -> Vec<u8> {
        let mut ping = Vec::new();
        PacketBuilder::ethernet2(PEER_MAC, PORT0_MAC)
            .ipv4(PEER.octets(), VIP.octets(), 64)
            .icmpv4_echo_request(7, 1)
            .write(&mut ping, b"hi")
            .unwrap();
        ping
    }

    fn arp(op: u16, from: ([u8; 6], Ipv4Addr), to: ([u8; 6], Ipv4Addr)) -> Vec<u8> {
        Arp {
            op,
            sender_mac: from.0,
            sender_ip: from.1,
            target_mac: to.0,
            target_ip: to.1,
        }
        .frame(to.0, from.0)
    }

    /// Answers the node's ARP requests as the peer and the member would.
    fn resolve<B: Backend>(n: &mut Node<B>, now: Instant) {
        n.tick(now);
        let asked: Vec<(u8, Arp)> = n
            .take_frames()
            .into_iter()
            .filter_map(|(p, f)| Some((p, Arp::parse(&f)?)))
            .collect();
        assert_eq!(
            asked
                .iter()
                .map(|(p, a)| (*p, a.target_ip))
                .collect::<Vec<_>>(),
            vec![(0, PEER), (1, MEMBER)]
        );
        assert_eq!(
            asked[1].1.sender_ip,
            Ipv4Addr::new(10, 77, 1, 1),
            "asks from its port address"
        );
        n.receive(
            0,
            &arp(
                frames::ARP_REPLY,
                (PEER_MAC, PEER),
                (PORT0_MAC, asked[0].1.sender_ip),
            ),
            now,
        );
        n.receive(
            1,
            &arp(
                frames::ARP_REPLY,
                (MEMBER_MAC, MEMBER),
                (PORT1_MAC, asked[1].1.sender_ip),
            ),
            now,
        );
    }

    fn tcp(
        from: (Ipv4Addr, u16),
        to: (Ipv4Addr, u16),
        macs: ([u8; 6], [u8; 6]),
        syn: bool,
        ack: bool,
    ) -> Vec<u8> {
        let mut b = PacketBuilder::ethernet2(macs.0, macs.1)
            .ipv4(from.0.octets(), to.0.octets(), 64)
            .tcp(from.1, to.1, 1, 1000);
        if syn {
            b = b.syn();
        }
        if ack {
            b = b.ack(1);
        }
        let mut f = Vec::new();
        b.write(&mut f, &[]).unwrap();
        f
    }

    fn ask(n: &mut TestNode, req: Request) -> Result<Value, String> {
        n.handle(req, Instant::now())
    }

    #[test]
    fn answers_arp_for_vips_and_its_addresses_only() {
        let t0 = Instant::now();
        let mut n = node(t0);
        for (port, target) in [
            (0, VIP),
            (0, Ipv4Addr::new(10, 77, 0, 1)),
            (1, Ipv4Addr::new(10, 77, 1, 1)),
        ] {
            n.receive(
                port,
                &arp(
                    frames::ARP_REQUEST,
                    (PEER_MAC, PEER),
                    (frames::BROADCAST, target),
                ),
                t0,
            );
            let out = n.take_frames();
            assert_eq!(out.len(), 1, "one reply for {target}");
            let (p, f) = &out[0];
            let reply = Arp::parse(f).unwrap();
            let mac = if port == 0 { PORT0_MAC } else { PORT1_MAC };
            assert_eq!(
                (*p, reply.op, reply.sender_ip, reply.sender_mac),
                (port, frames::ARP_REPLY, target, mac)
            );
            assert_eq!((reply.target_ip, &f[..6]), (PEER, &PEER_MAC[..]));
        }
        n.receive(
            0,
            &arp(
                frames::ARP_REQUEST,
                (PEER_MAC, PEER),
                (frames::BROADCAST, Ipv4Addr::new(10, 77, 0, 9)),
            ),
            t0,
        );
        assert!(n.take_frames().is_empty());
        let stats = n.stats(t0);
        assert_eq!(stats.slow_path.arp_replies, 3);
        assert_eq!(stats.slow_path.dropped.get("arp"), Some(&1));

        // A VIP is answered exactly while a service has it.
        let vip2 = Ipv4Addr::new(10, 77, 0, 101);
        let who_has = arp(
            frames::ARP_REQUEST,
            (PEER_MAC, PEER),
            (frames::BROADCAST, vip2),
        );
        let added = Request::ServiceAdd {
            name: "two".into(),
            vip: vip2,
            port: 80,
            proto: "tcp".into(),
            policy: "maglev".into(),
            key: None,
            peer_port: None,
            slots: None,
            frame_window: None,
            max_holes: None,
            active_set: None,
        };
        ask(&mut n, added).unwrap();
        n.receive(0, &who_has, t0);
        assert_eq!(n.take_frames().len(), 1);
        ask(&mut n, Request::ServiceDelete { name: "two".into() }).unwrap();
        n.receive(0, &who_has, t0);
        assert!(n.take_frames().is_empty());
    }

    #[test]
    fn resolves_neighbours_then_forwards_both_ways() {
        let t0 = Instant::now();
        let mut n = node(t0);
        let syn = tcp((PEER, 40000), (VIP, 80), (PORT0_MAC, PEER_MAC), true, false);
        n.receive(0, &syn, t0);
        assert!(
            n.take_frames().is_empty(),
            "member MAC unknown: no_next_hop"
        );
        assert_eq!(n.stats(t0).slow_path.dropped.get("no_next_hop"), Some(&1));
        resolve(&mut n, t0);
        let members = ask(
            &mut n,
            Request::MemberList {
                service: "web".into(),
            },
        )
        .unwrap();
        assert_eq!(members[0]["mac"], "02:00:00:00:01:0b");
        assert_eq!(members[0]["mac_source"], "arp");

        n.receive(0, &syn, t0);
        let out = n.take_frames();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].0, &out[0].1[..6]), (1, &MEMBER_MAC[..]));
        let p = SlicedPacket::from_ethernet(&out[0].1).unwrap();
        let Some(TransportSlice::Tcp(t)) = p.transport else {
            panic!("tcp")
        };
        assert_eq!(t.destination_port(), 8080);
        assert_eq!(n.stats(t0).slow_path.learned, 1);

        let synack = tcp(
            (MEMBER, 8080),
            (PEER, 40000),
            (PORT1_MAC, MEMBER_MAC),
            true,
            true,
        );
        n.receive(1, &synack, t0);
        let out = n.take_frames();
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].0, &out[0].1[..6]),
            (0, &PEER_MAC[..]),
            "to the next hop resolved by ARP"
        );
        assert_eq!(&out[0].1[26..30], &VIP.octets(), "from the VIP");
    }

    #[test]
    fn host_policy_services_go_through_the_alrm() {
        let t0 = Instant::now();
        let mut n = node(t0);
        resolve(&mut n, t0);
        let rr = Request::ServiceAdd {
            name: "rr".into(),
            vip: VIP,
            port: 443,
            proto: "tcp".into(),
            policy: "round-robin".into(),
            key: None,
            peer_port: None,
            slots: None,
            frame_window: None,
            max_holes: None,
            active_set: None,
        };
        ask(&mut n, rr).unwrap();
        for (i, mac) in [(21u8, "02:00:00:00:01:15"), (22, "02:00:00:00:01:16")] {
            let m = Request::MemberAdd {
                service: "rr".into(),
                addr: Ipv4Addr::new(10, 77, 1, i),
                port: 443,
                weight: None,
                out_port: None,
                mac: Some(mac.into()),
            };
            ask(&mut n, m).unwrap();
        }
        let mut to = Vec::new();
        for sport in [50000, 50001] {
            n.receive(
                0,
                &tcp(
                    (PEER, sport),
                    (VIP, 443),
                    (PORT0_MAC, PEER_MAC),
                    true,
                    false,
                ),
                t0,
            );
            let out = n.take_frames();
            assert_eq!(out.len(), 1, "re-injected after the ALRM's choice");
            to.push(out[0].1[30..34].to_vec());
        }
        assert_eq!(to, [[10, 77, 1, 21], [10, 77, 1, 22]], "in turn");
        assert_eq!(n.stats(t0).slow_path.redirected, 2);
    }

    /// The model with its host queue read late, as a device with its own ports is read: the frames
    /// a packet causes leave before the daemon sees its host records.
    struct LateHostQueue {
        switch: anypoint_model::Switch,
        hold: bool,
    }

    impl anypoint_driver::RegisterAccess for LateHostQueue {
        fn read32(&mut self, offset: u32) -> u32 {
            self.switch.read32(offset)
        }
        fn write32(&mut self, offset: u32, value: u32) {
            self.switch.write32(offset, value)
        }
    }

    impl anypoint_driver::PacketIo for LateHostQueue {
        fn receive(&mut self, port: u8, frame: &[u8]) {
            self.switch.receive(port, frame)
        }
        fn inject(&mut self, record: &[u8]) -> bool {
            self.switch.inject(record).is_ok()
        }
        fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
            self.switch.pop_egress()
        }
        fn pop_host(&mut self) -> Option<Vec<u8>> {
            if self.hold {
                return None;
            }
            self.switch.pop_host()
        }
    }

    #[test]
    fn a_reply_that_overtakes_its_connection_insert_is_sent_again() {
        let t0 = Instant::now();
        let config = Config::parse(CONFIG).unwrap();
        let late = LateHostQueue {
            switch: anypoint_model::Switch::new(Default::default()),
            hold: false,
        };
        let mut n = Node::new(late, &config, t0).unwrap();
        resolve(&mut n, t0);
        n.backend().hold = true;
        let syn = tcp((PEER, 40000), (VIP, 80), (PORT0_MAC, PEER_MAC), true, false);
        n.receive(0, &syn, t0);
        let out = n.take_frames();
        assert_eq!((out.len(), out[0].0), (1, 1), "the SYN goes to the member");
        let synack = |sport| {
            tcp(
                (MEMBER, 8080),
                (PEER, sport),
                (PORT1_MAC, MEMBER_MAC),
                true,
                true,
            )
        };
        n.receive(1, &synack(40000), t0);
        // A reply for no connection at all is not sent again.
        n.receive(1, &synack(40001), t0);
        assert!(n.take_frames().is_empty(), "no connection yet: punted");

        n.backend().hold = false;
        n.tick(t0);
        let out = n.take_frames();
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!((out[0].0, &out[0].1[..6]), (0, &PEER_MAC[..]));
        let p = SlicedPacket::from_ethernet(&out[0].1).unwrap();
        let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
            panic!("ipv4")
        };
        assert_eq!(ip.header().source_addr(), VIP, "from the VIP");
        let s = n.stats(t0).slow_path;
        assert_eq!((s.learned, s.outbound_retried), (1, 1));
        assert_eq!(s.dropped.get("outbound_no_conn"), Some(&1));
    }

    /// Truncated and mangled ARP, ICMP and TCP frames from the wire are counted, never a panic.
    #[test]
    fn mangled_frames_are_survived() {
        let t0 = Instant::now();
        let mut n = node(t0);
        let ping = ping();
        let seeds = [
            arp(
                frames::ARP_REQUEST,
                (PEER_MAC, PEER),
                (frames::BROADCAST, VIP),
            ),
            ping,
            tcp((PEER, 1), (VIP, 80), (PORT0_MAC, PEER_MAC), true, false),
            acp_frame((PEER, 40000), (VIP, 7000), PORT0_MAC, Flags::SYN),
            member_syn_ack(40000),
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..3000 {
            let mut f = seeds[round % seeds.len()].clone();
            f.truncate(next() as usize % (f.len() + 1));
            for _ in 0..next() % 4 {
                if !f.is_empty() {
                    let at = next() as usize % f.len();
                    f[at] = next() as u8;
                }
            }
            n.receive(next() as u8 % 3, &f, t0);
            n.take_frames();
        }
    }

    /// An ACP segment in an Ethernet frame to the switch's `mac`: a SYN (with `flags` ACK, the
    /// member's SYN-ACK).
    fn acp_frame(
        from: (Ipv4Addr, u16),
        to: (Ipv4Addr, u16),
        mac: [u8; 6],
        flags: Flags,
    ) -> Vec<u8> {
        let h = Header {
            seq: 1000,
            // A SYN-ACK acks the peer's SYN (seq 1000).
            ack: if flags.has(Flags::ACK) { 1001 } else { 0 },
            flags,
            window: 1000,
            options: Options {
                mss: Some(1400),
                window_shift: Some(2),
                patch: None,
            },
            ..Header::default()
        };
        acp_header_frame(from, to, mac, h)
    }

    /// The ACP segment of header `h` (ports from `from` and `to`), no payload, in an Ethernet
    /// frame to `mac`.
    fn acp_header_frame(
        from: (Ipv4Addr, u16),
        to: (Ipv4Addr, u16),
        mac: [u8; 6],
        h: Header,
    ) -> Vec<u8> {
        acp_data_frame(from, to, mac, h, &[])
    }

    /// An acp segment with header `h` (ports filled in) carrying `payload` (its frames).
    fn acp_data_frame(
        from: (Ipv4Addr, u16),
        to: (Ipv4Addr, u16),
        mac: [u8; 6],
        h: Header,
        payload: &[u8],
    ) -> Vec<u8> {
        let h = Header {
            src_port: from.1,
            dst_port: to.1,
            ..h
        };
        let mut segment = Vec::new();
        acp::wire::emit_segment(&h, payload, from.0, to.0, &mut segment);
        let p = Packet {
            src: from.0,
            dst: to.0,
            segment,
        };
        anypoint_model::acp_frame(&p, mac, [2, 0, 0, 0, 0, 0x99])
    }

    /// The member's SYN-ACK to the peer's port `peer_port` (acking its SYN at 1000).
    fn member_syn_ack(peer_port: u16) -> Vec<u8> {
        acp_frame(
            (MEMBER, 7000),
            (PEER, peer_port),
            PORT1_MAC,
            Flags::SYN | Flags::ACK,
        )
    }

    /// [`acp_out`] of the IPv4 frames among `frames` (ARP left out).
    fn acp_sent(frames: Vec<(u8, Vec<u8>)>) -> Vec<(u8, [u8; 6], Ipv4Addr, Ipv4Addr, Header)> {
        acp_out(
            frames
                .into_iter()
                .filter(|(_, f)| Ipv4::parse(f).is_some())
                .collect(),
        )
    }

    /// The ACP segments the node sent (`acp_sent`) to the member.
    fn acp_to_member(frames: Vec<(u8, Vec<u8>)>) -> usize {
        acp_sent(frames).iter().filter(|o| o.3 == MEMBER).count()
    }

    /// The ACP segments of frames the node sent: (port, dst MAC, src, dst, header), each checked
    /// for valid IPv4 and ACP checksums.
    fn acp_out(frames: Vec<(u8, Vec<u8>)>) -> Vec<(u8, [u8; 6], Ipv4Addr, Ipv4Addr, Header)> {
        frames
            .into_iter()
            .map(|(port, f)| {
                let ip = Ipv4::parse(&f).expect("an IPv4 frame");
                assert_eq!(frames::checksum(&f[14..34]), 0, "IPv4 header checksum");
                assert_eq!(ip.proto, acp::wire::PROTOCOL);
                assert!(acp::wire::verify_checksum(ip.src, ip.dst, ip.payload));
                let h = acp::wire::parse_segment(ip.payload).unwrap().header;
                (port, f[..6].try_into().unwrap(), ip.src, ip.dst, h)
            })
            .collect()
    }

    /// The peer's header at `seq` acking the VIP's SYN-ACK (ISN `isn_v`).
    fn peer_ack(seq: u32, isn_v: u32) -> Header {
        Header {
            seq,
            ack: isn_v.wrapping_add(1),
            flags: Flags::ACK,
            window: 1000,
            ..Header::default()
        }
    }

    /// The segment of frame `k` (16 bytes) from peer port 40000 after `establish`: one frame a
    /// segment, the first at byte 1001.
    fn peer_frame(k: u32, isn_v: u32) -> Vec<u8> {
        let mut payload = Vec::new();
        acp::wire::emit_frame(k, 0, &[k as u8; 16], &mut payload);
        let h = peer_ack(1001 + k * payload.len() as u32, isn_v);
        acp_data_frame((PEER, 40000), (VIP, 7000), PORT0_MAC, h, &payload)
    }

    /// Peer port 40000 opens a connection to the VIP and completes the handshake (its ISN 1000);
    /// the VIP's ISN. The frames sent are taken.
    fn establish(n: &mut TestNode, t: Instant) -> u32 {
        n.receive(
            0,
            &acp_frame((PEER, 40000), (VIP, 7000), PORT0_MAC, Flags::SYN),
            t,
        );
        n.receive(1, &member_syn_ack(40000), t);
        let to_peer = acp_sent(n.take_frames());
        let isn_v = to_peer.iter().find(|o| o.2 == VIP).expect("SYN-ACK").4.seq;
        let ack = peer_ack(1001, isn_v);
        n.receive(
            0,
            &acp_header_frame((PEER, 40000), (VIP, 7000), PORT0_MAC, ack),
            t,
        );
        n.take_frames();
        isn_v
    }

    /// Idle frame-switched connections are forgotten after their phase's timeout (`tcp_syn` 6 s
    /// opening, `tcp` 20 s established), their ends reset.
    #[test]
    fn idle_acp_connections_are_reset_and_forgotten() {
        let t0 = Instant::now();
        let mut n = node(t0);
        resolve(&mut n, t0);
        // Peer port 40000 opens and completes the handshake; 40001 sends a SYN only.
        establish(&mut n, t0);
        n.receive(
            0,
            &acp_frame((PEER, 40001), (VIP, 7000), PORT0_MAC, Flags::SYN),
            t0,
        );
        n.take_frames();
        let flows = |n: &mut TestNode, t| {
            let a = &n.stats(t).acp[0];
            (a.flows, a.aged)
        };
        assert_eq!(flows(&mut n, t0), (2, 0));

        let t1 = t0 + Duration::from_secs(7);
        n.tick(t1);
        // The opening one: a RST to the peer (its member, never synchronised, gets none).
        let rst: Vec<_> = acp_sent(n.take_frames())
            .into_iter()
            .map(|(port, _, src, dst, h)| (port, src, dst, h.src_port, h.dst_port, h.flags))
            .collect();
        assert_eq!(rst, [(0, VIP, PEER, 7000, 40001, Flags::RST)]);
        assert_eq!(flows(&mut n, t1), (1, 1));

        n.tick(t0 + Duration::from_secs(19));
        assert_eq!(flows(&mut n, t1), (1, 1), "established: 20 s");
        let t2 = t0 + Duration::from_secs(21);
        n.tick(t2);
        let mut rst: Vec<_> = acp_sent(n.take_frames())
            .into_iter()
            .map(|(port, _, src, dst, h)| (port, src, dst, h.src_port, h.dst_port, h.flags))
            .collect();
        rst.sort_by_key(|r| r.0);
        assert_eq!(
            rst,
            [
                (0, VIP, PEER, 7000, 40000, Flags::RST),
                (1, PEER, MEMBER, 40000, 7000, Flags::RST)
            ]
        );
        assert_eq!(flows(&mut n, t2), (0, 2));
    }

    /// A connection whose segments the device's ACP block takes is not idle, though the host sees
    /// none of them: ageing reads what the device took as activity. Neither ageing nor `stats`
    /// takes the flow back.
    #[test]
    fn acp_connections_the_device_serves_are_not_aged() {
        let t0 = Instant::now();
        let mut n = node(t0);
        resolve(&mut n, t0);
        let isn_v = establish(&mut n, t0);
        let segments = |n: &mut TestNode, t| {
            let a = &n.stats(t).acp[0];
            (a.segments.values().sum::<u64>(), a.device, a.flows, a.aged)
        };
        // Frame 0 from the peer at t0, frames 1 to 4 at 15 s, all the device's: `stats` leaves
        // the flow loaded.
        let (before, device_before, _, _) = segments(&mut n, t0);
        n.receive(0, &peer_frame(0, isn_v), t0);
        n.take_frames();
        let t1 = t0 + Duration::from_secs(15);
        for k in 1..5 {
            n.receive(0, &peer_frame(k, isn_v), t1);
        }
        assert_eq!(
            acp_to_member(n.take_frames()),
            4,
            "each frame to the member"
        );
        let (after, device, _, _) = segments(&mut n, t1);
        assert_eq!(
            (after - before, device - device_before),
            (5, 5),
            "the device took all five"
        );

        // The established timeout is 20 s: idle for the host since t0, served at 15 s.
        let t2 = t0 + Duration::from_secs(21);
        n.tick(t2);
        let (_, _, flows, aged) = segments(&mut n, t2);
        assert_eq!((flows, aged), (1, 0), "served by the device: not idle");
        n.tick(t2 + Duration::from_secs(21));
        let (_, _, flows, aged) = segments(&mut n, t2 + Duration::from_secs(21));
        assert_eq!((flows, aged), (0, 1), "then idle: aged");
    }

    /// A deleted acp service's connections leave the device's ACP block with it: a segment of one
    /// reaches no member.
    #[test]
    fn a_deleted_acp_service_leaves_nothing_on_the_device() {
        let t0 = Instant::now();
        let mut n = node(t0);
        resolve(&mut n, t0);
        let isn_v = establish(&mut n, t0);
        n.receive(0, &peer_frame(0, isn_v), t0);
        assert_eq!(acp_to_member(n.take_frames()), 1, "frame 0 to the member");
        let name = "frames".to_string();
        ask(&mut n, Request::ServiceDelete { name }).unwrap();
        n.receive(0, &peer_frame(1, isn_v), t0);
        assert_eq!(acp_to_member(n.take_frames()), 0, "the service is gone");
        let slots = anypoint_driver::acp::size(n.backend()).slots;
        assert!((0..slots).all(|s| !anypoint_driver::acp::valid(n.backend(), s)));
    }

    /// An acp service added through the control socket switches like one from the config; a bad
    /// one is refused with the field at fault.
    #[test]
    fn acp_services_are_added_through_the_control_socket() {
        let t0 = Instant::now();
        let mut n = node(t0);
        let add = |name: &str, port: u16, policy: &str, key: Option<(u16, u8)>, window| {
            Request::ServiceAdd {
                name: name.into(),
                vip: VIP,
                port,
                proto: "acp".into(),
                policy: policy.into(),
                key: key.map(|(offset, len)| KeySpec { offset, len }),
                peer_port: None,
                slots: None,
                frame_window: window,
                max_holes: None,
                active_set: None,
            }
        };
        let sized = |mut req: Request, n: u8| {
            if let Request::ServiceAdd { active_set, .. } = &mut req {
                *active_set = Some(n);
            }
            req
        };
        let errors = [
            (add("frames", 7001, "round-robin", None, None), "exists"),
            (
                add("more", 7000, "round-robin", None, None),
                "same vip, port",
            ),
            (add("more", 7001, "maglev", None, None), "policy: `maglev`"),
            (
                add("more", 7001, "key-hash", None, None),
                "key: key-hash needs",
            ),
            (
                add("more", 7001, "round-robin", Some((0, 4)), None),
                "key: only a key-hash",
            ),
            (
                add("more", 7001, "key-hash", Some((9001, 4)), None),
                "key: offset 0-9000",
            ),
            (
                add("more", 7001, "round-robin", None, Some(8)),
                "frame_window: 8 is out of range 16-4096",
            ),
            (
                Request::ServiceAdd {
                    name: "more".into(),
                    vip: VIP,
                    port: 7001,
                    proto: "acp".into(),
                    policy: "round-robin".into(),
                    key: None,
                    peer_port: None,
                    slots: Some(256),
                    frame_window: None,
                    max_holes: None,
                    active_set: None,
                },
                "do not apply to an acp service",
            ),
            (
                sized(add("more", 7001, "round-robin", None, None), 9),
                "active_set: 9 is out of range 1-8",
            ),
        ];
        for (req, why) in errors {
            let e = ask(&mut n, req.clone()).unwrap_err();
            assert!(e.contains(why), "{req:?}: `{e}` lacks `{why}`");
        }
        ask(
            &mut n,
            sized(add("more", 7001, "key-hash", Some((0, 4)), Some(128)), 3),
        )
        .unwrap();
        ask(
            &mut n,
            Request::MemberAdd {
                service: "more".into(),
                addr: MEMBER,
                port: 7001,
                weight: None,
                out_port: None,
                mac: Some(format_mac(&MEMBER_MAC)),
            },
        )
        .unwrap();
        let services = ask(&mut n, Request::ServiceList).unwrap();
        let more = services
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "more")
            .expect("listed");
        assert_eq!(
            (&more["proto"], &more["policy"], &more["members"]),
            (
                &Value::from("acp"),
                &Value::from("key-hash"),
                &Value::from(1)
            )
        );
        // A peer's SYN to it reaches its member, and `save` keeps it.
        n.receive(
            0,
            &acp_frame((PEER, 40000), (VIP, 7001), PORT0_MAC, Flags::SYN),
            t0,
        );
        let out = acp_sent(n.take_frames());
        assert_eq!(
            out.iter()
                .map(|o| (o.0, o.1, o.2, o.3, o.4.dst_port, o.4.flags))
                .collect::<Vec<_>>(),
            [(1, MEMBER_MAC, PEER, MEMBER, 7001, Flags::SYN)]
        );
        let saved = n.config();
        let a = saved
            .acp_services
            .iter()
            .find(|a| a.name == "more")
            .unwrap();
        assert_eq!((a.frame_window, a.active_set, a.members.len()), (128, 3, 1));
    }

    #[test]
    fn acp_segments_go_through_the_frame_switch_both_ways() {
        let t0 = Instant::now();
        let mut n = node(t0);
        resolve(&mut n, t0);
        let syn = acp_frame((PEER, 40000), (VIP, 7000), PORT0_MAC, Flags::SYN);
        n.receive(0, &syn, t0);
        let out = acp_out(n.take_frames());
        assert_eq!(out.len(), 1, "{out:?}");
        let (port, mac, src, dst, h) = out[0];
        assert_eq!((port, mac, src, dst), (1, MEMBER_MAC, PEER, MEMBER));
        assert_eq!((h.src_port, h.dst_port, h.flags), (40000, 7000, Flags::SYN));

        n.receive(1, &member_syn_ack(40000), t0);
        let out = acp_out(n.take_frames());
        let to_peer: Vec<_> = out.iter().filter(|o| o.0 == 0).collect();
        assert_eq!(
            out.len(),
            2,
            "the member's ack and the peer's SYN-ACK: {out:?}"
        );
        let (_, mac, src, dst, h) = *to_peer[0];
        assert_eq!(
            (mac, src, dst, h.src_port, h.dst_port),
            (PEER_MAC, VIP, PEER, 7000, 40000),
            "from the VIP to the next hop of the port the SYN came in on"
        );
        assert_eq!(h.flags, Flags::SYN | Flags::ACK);

        let stats = n.stats(t0);
        let a = &stats.acp[0];
        assert_eq!(
            (a.service.as_str(), a.flows, a.sent, a.unsent),
            ("frames", 1, 3, 0)
        );
        assert_eq!(a.segments.get("setup"), Some(&2));
        assert_eq!((a.fast, a.slow), (0, 2));
        assert!(stats.slow_path.dropped.is_empty(), "{:?}", stats.slow_path);
        let members = ask(
            &mut n,
            Request::MemberList {
                service: "frames".into(),
            },
        )
        .unwrap();
        assert_eq!(
            (
                &members[0]["connections"],
                &members[0]["mac_source"],
                &members[0]["in_packets"]
            ),
            (&Value::from(1), &Value::from("arp"), &Value::from(2))
        );
        let services = ask(&mut n, Request::ServiceList).unwrap();
        assert_eq!(
            (&services[1]["proto"], &services[1]["connections"]),
            (&Value::from("acp"), &Value::from(1))
        );
        let conns = ask(
            &mut n,
            Request::ConnList {
                service: Some("frames".into()),
                limit: None,
            },
        )
        .unwrap();
        assert_eq!(
            conns,
            serde_json::json!({"total": 1, "connections": [{
                "service": "frames", "proto": "acp", "peer": "10.77.0.2:40000",
                "vip": "10.77.0.100:7000", "member": "10.77.1.11:7000", "peer_port": 0,
                "state": "opening"
            }]})
        );
        let e = ask(
            &mut n,
            Request::MemberSetWeight {
                service: "frames".into(),
                addr: MEMBER,
                port: 7000,
                weight: 0,
            },
        )
        .unwrap_err();
        assert!(e.contains("remove the member instead"), "{e}");

        // Its last member removed: the peer gets a RST, and the connection is gone.
        let remove = Request::MemberRemove {
            service: "frames".into(),
            addr: MEMBER,
            port: 7000,
        };
        assert_eq!(ask(&mut n, remove.clone()), Ok(Value::Null));
        let out = acp_out(n.take_frames());
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!((out[0].0, out[0].3), (0, PEER));
        assert!(out[0].4.flags.has(Flags::RST));
        assert_eq!(n.stats(t0).acp[0].flows, 0);
        assert!(ask(&mut n, remove).unwrap_err().contains("has no member"));
        // A segment of the removed member is no longer the service's: dropped as before.
        n.receive(1, &member_syn_ack(40000), t0);
        assert!(n.take_frames().is_empty());
        assert_eq!(n.stats(t0).slow_path.dropped.get("l4_other"), Some(&1));
    }

    #[test]
    fn a_silent_neighbour_counts_one_failure() {
        let t0 = Instant::now();
        let mut n = node(t0);
        for s in 0..=neighbors::PROBES {
            n.tick(t0 + neighbors::RETRY * s);
        }
        let s = n.stats(t0).slow_path;
        assert_eq!(s.arp_failures, 2, "peer and member");
        assert_eq!(s.arp_requests, 2 * u64::from(neighbors::PROBES + 1));
    }

    #[test]
    fn echo_to_a_vip_is_answered() {
        let t0 = Instant::now();
        let mut n = node(t0);
        let ping = ping();
        n.receive(0, &ping, t0);
        let out = n.take_frames();
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0].1[30..34], &PEER.octets());
        assert_eq!(n.stats(t0).slow_path.echo_replies, 1);
        assert_eq!(
            n.stats(t0).counters.ports[0].tx_packets,
            1,
            "sent through the switch"
        );
    }

    /// A FIN (or RST) with ACK.
    fn closing(
        from: (Ipv4Addr, u16),
        to: (Ipv4Addr, u16),
        macs: ([u8; 6], [u8; 6]),
        rst: bool,
    ) -> Vec<u8> {
        let mut h = etherparse::TcpHeader::new(from.1, to.1, 2, 1000);
        (h.ack, h.fin, h.rst) = (true, !rst, rst);
        let mut f = Vec::new();
        PacketBuilder::ethernet2(macs.0, macs.1)
            .ipv4(from.0.octets(), to.0.octets(), 64)
            .tcp_header(h)
            .write(&mut f, &[])
            .unwrap();
        f
    }

    /// Four connections, each left idle in another TCP state, leave after that state's timeout
    /// (CONFIG: tcp_syn 6 s, tcp 20 s, tcp_fin 8 s, tcp_rst 2 s; scans every 0.5 s).
    #[test]
    fn each_tcp_state_ages_on_its_own_timeout() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut n = node(t0);
        resolve(&mut n, t0);
        let peer_side = (PORT0_MAC, PEER_MAC);
        let member_side = (PORT1_MAC, MEMBER_MAC);
        for port in 40000..40004 {
            n.receive(0, &tcp((PEER, port), (VIP, 80), peer_side, true, false), t0);
            if port > 40000 {
                let synack = tcp((MEMBER, 8080), (PEER, port), member_side, true, true);
                n.receive(1, &synack, t0);
            }
        }
        let mut gone = std::collections::BTreeMap::new();
        for ms in (250..40_000).step_by(250) {
            if ms == 1000 {
                n.receive(
                    0,
                    &closing((PEER, 40002), (VIP, 80), peer_side, false),
                    at(ms),
                );
                n.receive(
                    1,
                    &closing((MEMBER, 8080), (PEER, 40003), member_side, true),
                    at(ms),
                );
                assert_eq!(n.stats(at(ms)).slow_path.closing, 2);
            }
            n.tick(at(ms));
            let list = n.conn_list(None, None).unwrap();
            for port in 40000..40004 {
                let peer = format!("{PEER}:{port}");
                if !list.connections.iter().any(|c| c.peer == peer) {
                    gone.entry(port).or_insert(ms);
                }
            }
        }
        // Last activity (SYN, SYN-ACK or FIN/RST) plus the timeout, within one scan and the
        // scan that first saw the connection idle.
        for (port, last_ms, timeout_ms) in [
            (40000, 0, 6000),
            (40001, 0, 20000),
            (40002, 1000, 8000),
            (40003, 1000, 2000),
        ] {
            let at = gone[&port];
            let due = last_ms + timeout_ms;
            assert!(
                (due..=due + 1000).contains(&at),
                "{port}: gone at {at} ms, due {due}"
            );
        }
        assert_eq!(n.stats(t0).slow_path.aged, 4);
    }

    #[test]
    fn control_requests_and_their_errors() {
        let t0 = Instant::now();
        let mut n = node(t0);
        let add =
            |name: &str, policy: &str, proto: &str, key: Option<KeySpec>| Request::ServiceAdd {
                name: name.into(),
                vip: VIP,
                port: 53,
                proto: proto.into(),
                policy: policy.into(),
                key,
                peer_port: None,
                slots: Some(256),
                frame_window: None,
                max_holes: None,
                active_set: None,
            };
        let key = Some(KeySpec { offset: 0, len: 4 });
        assert_eq!(
            ask(&mut n, add("dns", "key-hash", "udp", key)),
            Ok(Value::Null)
        );
        let errors = [
            (add("dns", "maglev", "tcp", None), "exists"),
            (add("x y", "maglev", "tcp", None), "service name `x y`"),
            (add("t", "key-hash", "tcp", key), "key-hash needs proto"),
            (add("t", "fastest", "tcp", None), "policy `fastest`"),
            (add("t", "maglev", "icmp", None), "proto `icmp`"),
        ];
        for (req, why) in errors {
            let e = ask(&mut n, req.clone()).unwrap_err();
            assert!(e.contains(why), "{req:?}: `{e}` lacks `{why}`");
        }
        let member = |addr: [u8; 4], out_port| Request::MemberAdd {
            service: "dns".into(),
            addr: addr.into(),
            port: 53,
            weight: Some(2),
            out_port,
            mac: None,
        };
        assert_eq!(ask(&mut n, member([10, 77, 1, 20], None)), Ok(Value::Null));
        let e = ask(&mut n, member([192, 168, 0, 1], None)).unwrap_err();
        assert!(e.contains("no port's addr covers 192.168.0.1"), "{e}");
        let e = ask(&mut n, member([10, 77, 1, 21], Some(3))).unwrap_err();
        assert!(e.contains("port 3 is not configured"), "{e}");
        let list = ask(
            &mut n,
            Request::MemberList {
                service: "dns".into(),
            },
        )
        .unwrap();
        assert_eq!(list[0]["out_port"], 1);
        assert_eq!(list[0]["mac"], Value::Null);
        let services = ask(&mut n, Request::ServiceList).unwrap();
        assert_eq!(services[1]["name"], "dns");
        assert_eq!(services[1]["slots"], 256);

        // What `save` writes builds a node with the same services and members.
        let saved = ask(&mut n, Request::Save).unwrap();
        let config = Config::parse(saved.as_str().unwrap()).unwrap();
        let switch = Shared::new(anypoint_model::Switch::new(Default::default()));
        let mut restored = Node::new(switch, &config, t0).unwrap();
        assert_eq!(ask(&mut restored, Request::ServiceList), Ok(services));
        assert_eq!(
            ask(
                &mut restored,
                Request::MemberList {
                    service: "dns".into()
                }
            ),
            Ok(list)
        );

        assert_eq!(
            ask(&mut n, Request::ServiceDelete { name: "dns".into() }),
            Ok(Value::Null)
        );
        let e = ask(
            &mut n,
            Request::MemberList {
                service: "dns".into(),
            },
        )
        .unwrap_err();
        assert!(e.contains("no service named \"dns\""), "{e}");
    }
}
