//! The control-protocol fuzz target: request lines go through the protocol parser and, when they
//! parse, to a daemon node on the model (`examples/cluster.toml` with smaller indirection ranges, so
//! that a node builds in well under a millisecond), as the daemon would serve them. No panic; every reply is a result or an error message; what the node saves after
//! any sequence of requests parses back as a config and rebuilds a node (what a restart does).

use anypoint_ctl::config::Config;
use anypoint_ctl::daemon::Node;
use anypoint_ctl::protocol::{self, Request};
use anypoint_model::{Geometry, Switch};
use std::time::Instant;

const CLUSTER: &str = include_str!("../../examples/cluster.toml");

/// Room for the example's three services, small enough to build a node thousands of times a second.
const GEOMETRY: Geometry = Geometry {
    ports: 4,
    services: 64,
    members: 1024,
    conn_buckets_log2: 6,
    indir_slots_log2: 10,
};

/// Checks one input: request lines separated by newlines (panics on a violation).
pub fn run(data: &[u8]) {
    let text = CLUSTER.replace("\n[[service]]\n", "\n[[service]]\nindirection_slots = 64\n");
    let config = Config::parse(&text).expect("examples/cluster.toml parses");
    let now = Instant::now();
    let mut node = Node::new(Switch::new(GEOMETRY), &config, now).expect("node");
    for line in data.split(|b| *b == b'\n').take(64) {
        let req = match protocol::decode_request(line) {
            Ok(req) => req,
            Err(e) => {
                assert!(!e.is_empty(), "an error without a message");
                continue;
            }
        };
        let again = protocol::decode_request(protocol::encode_request(&req).as_bytes());
        assert_eq!(
            again.as_ref(),
            Ok(&req),
            "encode then decode changed the request"
        );
        let reply = protocol::encode_reply(node.handle(req, now));
        protocol::decode_reply(reply.as_bytes()).ok();
    }
    let saved = node.handle(Request::Save, now).expect("save");
    let text = saved.as_str().expect("save returns the config text");
    let restored = Config::parse(text)
        .unwrap_or_else(|e| panic!("saved config does not parse: {e:?}\n{text}"));
    Node::new(Switch::new(GEOMETRY), &restored, now)
        .unwrap_or_else(|e| panic!("saved config does not rebuild a node: {e}\n{text}"));
}
