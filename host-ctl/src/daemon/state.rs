//! The daemon's state file (`run --state FILE`): the hash key in use and every connection in the
//! table, so that a restarted daemon rebuilds the table and keeps each connection whose service and
//! member are still configured. Services, members and weights come from `--config` as always
//! (`anypoint-ctl save` writes the running ones). Written atomically (a temporary file renamed over
//! it) every [`WRITE_EVERY`] and at shutdown; a crash loses at most that much of the table.

use serde::{Deserialize, Serialize};
use std::net::SocketAddrV4;
use std::path::Path;
use std::time::Duration;

/// Time between writes of the state file.
pub const WRITE_EVERY: Duration = Duration::from_secs(5);
const VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub version: u32,
    /// 32 hex digits, as in the config's `hash_key`.
    pub hash_key: String,
    pub connections: Vec<SavedConn>,
}

/// One connection: the peer's address and port towards a service, and the member it is pinned to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedConn {
    pub service: String,
    pub peer: SocketAddrV4,
    pub member: SocketAddrV4,
    /// Port the peer is reached through.
    pub peer_port: u8,
}

impl State {
    pub fn new(hash_key: String, connections: Vec<SavedConn>) -> State {
        State {
            version: VERSION,
            hash_key,
            connections,
        }
    }
}

/// The state in `path`; `None` when there is no file yet (first start).
pub fn load(path: &Path) -> Result<Option<State>, String> {
    let show = path.display();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{show}: cannot read: {e}")),
    };
    let state: State =
        serde_json::from_str(&text).map_err(|e| format!("{show}: not a state file: {e}"))?;
    if state.version != VERSION {
        return Err(format!(
            "{show}: version: {} is not {VERSION}",
            state.version
        ));
    }
    Ok(Some(state))
}

/// Writes `state` to `path` atomically.
pub fn store(path: &Path, state: &State) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let text = serde_json::to_string(state).expect("state serializes");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_and_loads_and_rejects_garbage_with_the_file_name() {
        let dir = std::env::temp_dir().join(format!("anypoint-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert_eq!(load(&path), Ok(None));
        let s = State::new(
            "00112233445566778899aabbccddeeff".into(),
            vec![SavedConn {
                service: "web".into(),
                peer: "10.0.0.2:40000".parse().unwrap(),
                member: "10.0.1.1:8080".parse().unwrap(),
                peer_port: 0,
            }],
        );
        store(&path, &s).unwrap();
        assert_eq!(load(&path), Ok(Some(s)));
        std::fs::write(&path, "{\"version\":1}").unwrap();
        let e = load(&path).unwrap_err();
        assert!(
            e.starts_with(&path.display().to_string()) && e.contains("not a state file"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
