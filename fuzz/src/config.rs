//! The config fuzz target: any bytes given to the config parser give a config or an error naming a
//! reason, never a panic; a config that parses programs a model switch or is refused with a message,
//! and renders (`save`) to text that parses back to the same config.

use anypoint_ctl::config::Config;
use anypoint_ctl::daemon::Node;
use anypoint_ctl::save;
use anypoint_model::{Geometry, Switch};
use std::time::Instant;

/// Checks one input (panics on a violation).
pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match Config::parse(text) {
        Ok(c) => c,
        Err((_, reason)) => {
            assert!(!reason.trim().is_empty(), "an error without a reason");
            return;
        }
    };
    let saved = save::render(&config);
    let reparsed = Config::parse(&saved)
        .unwrap_or_else(|e| panic!("saved config does not parse: {e:?}\n{saved}"));
    // A config without a hash key gets a random one, which `save` then writes out.
    let with_key = Config {
        hash_key: config.hash_key.or(reparsed.hash_key),
        ..config.clone()
    };
    assert_eq!(reparsed, with_key, "save then parse changed the config");
    if let Err(e) = Node::new(Switch::new(Geometry::default()), &config, Instant::now()) {
        assert!(!e.trim().is_empty(), "a refusal without a reason");
    }
}
