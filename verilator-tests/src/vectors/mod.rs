//! The golden vectors: each runs traffic through the model with the driver in the loop (see
//! [`crate::host`]) in the network of [`lab`], and ends with reads of every non-zero counter.

use crate::golden::Vector;
use crate::host::Host;

mod host_policy;
mod key_hash_udp;
pub mod lab;
mod maglev_tcp;
mod membership;
mod random;
mod reasons;
mod soft_reset;
mod vlan_padding;

/// One vector: its name (the file is `golden/NAME.json`), what it covers, and the traffic.
pub struct Spec {
    pub name: &'static str,
    pub description: &'static str,
    run: fn(&mut Host),
}

impl Spec {
    /// Runs the vector on a fresh model.
    ///
    /// # Panics
    /// If the model or the driver does not behave as the vector expects (the message says how).
    pub fn generate(&self) -> Vector {
        let mut host = lab::host();
        (self.run)(&mut host);
        host.finish(self.name, self.description)
    }
}

pub const ALL: [Spec; 8] = [
    Spec {
        name: "reasons",
        description: "At least one frame for every reason code of docs/pipeline.md section 9, \
                      next to valid frames of the same flows.",
        run: reasons::run,
    },
    Spec {
        name: "maglev_tcp",
        description: "50 TCP connections to a weighted 3-member maglev service: SYN (learn), ACK, \
                      data, member replies (outbound rewrite), FIN; the small connection table \
                      forces cuckoo relocations.",
        run: maglev_tcp::run,
    },
    Spec {
        name: "key_hash_udp",
        description: "Key-hash UDP services: repeating session keys, datagrams too short for the \
                      key (5-tuple fallback), checksum 0, rewrites whose checksum computes to 0, \
                      member replies through the member table.",
        run: key_hash_udp::run,
    },
    Spec {
        name: "host_policy",
        description:
            "Round-robin and least-conn services: punt, ALRM redirect, connection insert, \
                      pipeline re-inject, then hits; a direct inject.",
        run: host_policy::run,
    },
    Spec {
        name: "vlan_padding",
        description: "802.1Q-tagged frames and frames with Ethernet padding, in both directions, \
                      forwarded and punted.",
        run: vlan_padding::run,
    },
    Spec {
        name: "membership",
        description: "Drain (weight 0), weight change, member removal with its connections, and a \
                      new member, interleaved with traffic.",
        run: membership::run,
    },
    Spec {
        name: "random",
        description: "2000 seeded random frames, valid and malformed, against a configured switch.",
        run: random::run,
    },
    Spec {
        name: "soft_reset",
        description: "SOFT_RESET under live maglev and round-robin connections: every table reads \
                      back empty and RESET_SEEN is set; the driver reprograms the device from its \
                      shadow and the connections carry on.",
        run: soft_reset::run,
    },
];
