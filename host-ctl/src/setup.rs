//! Turning a [`Config`] into a programmed switch.

use crate::config::Config;
use anypoint_driver::{Backend, ControlPlane};
use anypoint_model::HashKey;

/// 16 bytes from the kernel's random source, for a config without `hash_key`.
fn random_hash_key() -> Result<HashKey, String> {
    use std::io::Read;
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| format!("cannot read /dev/urandom for a hash key: {e}"))?;
    Ok(HashKey::from_bytes(b))
}

/// The config's hash key, or a random one.
pub fn hash_key(config: &Config) -> Result<HashKey, String> {
    config.hash_key.map_or_else(random_hash_key, Ok)
}

/// Programs ports, services and members of `config` into the switch behind `backend`.
pub fn program<B: Backend>(
    backend: B,
    config: &Config,
    key: HashKey,
) -> Result<ControlPlane<B>, String> {
    let mut ctl = ControlPlane::new(backend, key).map_err(|e| e.to_string())?;
    for p in &config.ports {
        ctl.set_port(&p.port)
            .map_err(|e| format!("port {}: {e}", p.id()))?;
    }
    for s in &config.services {
        let name = &s.service.name;
        ctl.add_service(s.service.clone())
            .map_err(|e| format!("service {name}: {e}"))?;
        for m in &s.members {
            ctl.add_member(name, m.clone())
                .map_err(|e| format!("service {name}: member {}:{}: {e}", m.addr, m.port))?;
        }
    }
    Ok(ctl)
}
