//! A [`Config`] written back as the TOML of `docs/config.md` (`anypoint-ctl save`).

use crate::config::{
    format_mac as mac, frame_policy_name, proto_name, AcpServiceEntry, Config, ServiceEntry,
    DEFAULT_INDIR_LOG2,
};
use anypoint_driver::MemberConfig;
use anypoint_model::frame_switch::Policy as FramePolicy;
use std::fmt::Write;

/// The config as TOML that [`Config::parse`] reads back to an equal config.
pub fn render(c: &Config) -> String {
    let mut o = String::from(
        "# Written by `anypoint-ctl save`; `anypoint-ctl run --config` restores it.\n",
    );
    if let Some(key) = c.hash_key {
        let hex = crate::config::format_hash_key(&key);
        writeln!(o, "\n[switch]\nhash_key = \"{hex}\"").unwrap();
    }
    o.push_str("\n[timeouts]\n");
    for (key, t) in c.timeouts.entries() {
        writeln!(o, "{key} = {}", t.as_secs()).unwrap();
    }
    for p in &c.ports {
        writeln!(
            o,
            "\n[[port]]\nid = {}\nmac = \"{}\"",
            p.id(),
            mac(&p.port.mac)
        )
        .unwrap();
        if let Some(addr) = p.addr {
            writeln!(o, "addr = \"{addr}\"").unwrap();
        }
        if let Some(nh) = p.next_hop {
            writeln!(o, "next_hop = \"{nh}\"").unwrap();
        }
        if let Some(nh) = p.port.next_hop_mac {
            writeln!(o, "next_hop_mac = \"{}\"", mac(&nh)).unwrap();
        }
        if p.port.no_service_drop {
            writeln!(o, "no_service = \"drop\"").unwrap();
        }
    }
    for s in &c.services {
        service(&mut o, s);
    }
    for s in &c.acp_services {
        acp_service(&mut o, s);
    }
    o
}

fn acp_service(o: &mut String, s: &AcpServiceEntry) {
    writeln!(
        o,
        "\n[[service]]\nname = \"{}\"\nvip = \"{}\"\nport = {}\nproto = \"acp\"\npolicy = \"{}\"\nframe_window = {}\nmax_holes = {}\nactive_set = {}",
        s.name,
        s.vip,
        s.port,
        frame_policy_name(s.policy),
        s.frame_window,
        s.max_holes,
        s.active_set
    )
    .unwrap();
    if let FramePolicy::KeyHash { offset, len } = s.policy {
        writeln!(o, "key = {{ offset = {offset}, len = {len} }}").unwrap();
    }
    members(o, &s.members);
}

fn service(o: &mut String, e: &ServiceEntry) {
    let s = &e.service;
    writeln!(
        o,
        "\n[[service]]\nname = \"{}\"\nvip = \"{}\"\nport = {}\nproto = \"{}\"\npolicy = \"{}\"\npeer_port = {}",
        s.name,
        s.vip,
        s.port,
        proto_name(s.proto),
        s.policy.name(),
        s.peer_port
    )
    .unwrap();
    if let Some((offset, len)) = s.key {
        writeln!(o, "key = {{ offset = {offset}, len = {len} }}").unwrap();
    }
    if s.indir_log2 != DEFAULT_INDIR_LOG2 {
        writeln!(o, "indirection_slots = {}", 1u32 << s.indir_log2).unwrap();
    }
    members(o, &e.members);
}

fn members(o: &mut String, list: &[MemberConfig]) {
    writeln!(o, "members = [").unwrap();
    for m in list {
        writeln!(o, "  {},", member(m)).unwrap();
    }
    writeln!(o, "]").unwrap();
}

fn member(m: &MemberConfig) -> String {
    let mac = m
        .mac
        .map(|x| format!(", mac = \"{}\"", mac(&x)))
        .unwrap_or_default();
    format!(
        "{{ addr = \"{}\", port = {}, out_port = {}, weight = {}{mac} }}",
        m.addr, m.port, m.out_port, m.weight
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_saved_config_reads_back_equal() {
        let text = r#"
            [switch]
            hash_key = "00112233445566778899aabbccddeeff"
            [timeouts]
            tcp = 30
            tcp_rst = 5
            [[port]]
            id = 0
            mac = "02:00:00:00:00:10"
            addr = "10.77.0.1/24"
            next_hop = "10.77.0.2"
            [[port]]
            id = 1
            mac = "02:00:00:00:00:11"
            next_hop_mac = "02:00:00:00:00:01"
            no_service = "drop"
            [[service]]
            name = "web"
            vip = "10.77.0.100"
            port = 80
            proto = "tcp"
            policy = "maglev"
            indirection_slots = 256
            members = [
              { addr = "10.77.1.11", port = 8080, out_port = 1, weight = 3 },
              { addr = "10.77.1.12", port = 8080, out_port = 1, weight = 0, mac = "02:00:00:00:01:02" },
            ]
            [[service]]
            name = "game"
            vip = "10.77.0.100"
            port = 9000
            proto = "udp"
            policy = "key-hash"
            key = { offset = 2, len = 8 }
            [[service]]
            name = "frames"
            vip = "10.77.0.100"
            port = 7000
            proto = "acp"
            policy = "key-hash"
            key = { offset = 300, len = 4 }
            frame_window = 128
            members = [ { addr = "10.77.1.11", port = 7000, out_port = 1 } ]
        "#;
        let c = Config::parse(text).unwrap();
        assert_eq!(c.acp_services.len(), 1);
        let saved = render(&c);
        assert_eq!(Config::parse(&saved), Ok(c), "{saved}");
    }
}
