//! The control protocol between `anypoint-ctl` verbs and the daemon (`docs/control.md`): one JSON
//! object per line over a UNIX stream socket, each request answered by one response line.

use anypoint_driver::Counters;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// Protocol version; a request of another version gets an error reply.
pub const VERSION: u32 = 1;
/// Longest request line the daemon reads; a longer one gets an error reply and the connection closes.
pub const MAX_REQUEST: usize = 64 * 1024;
/// Where the daemon listens unless told otherwise.
pub const DEFAULT_SOCKET: &str = "/run/anypoint/anypoint.sock";

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    ServiceList,
    ServiceAdd {
        name: String,
        vip: Ipv4Addr,
        port: u16,
        proto: String,
        policy: String,
        #[serde(default)]
        key: Option<KeySpec>,
        #[serde(default)]
        peer_port: Option<u8>,
        /// Indirection slots (power of two).
        #[serde(default)]
        slots: Option<u32>,
        /// An acp service's frame ring entries per direction and connection.
        #[serde(default)]
        frame_window: Option<u16>,
        /// An acp service's holes per connection.
        #[serde(default)]
        max_holes: Option<u8>,
        /// An acp service's members per connection's active set.
        #[serde(default)]
        active_set: Option<u8>,
    },
    ServiceDelete {
        name: String,
    },
    MemberAdd {
        service: String,
        addr: Ipv4Addr,
        port: u16,
        #[serde(default)]
        weight: Option<u32>,
        #[serde(default)]
        out_port: Option<u8>,
        #[serde(default)]
        mac: Option<String>,
    },
    MemberSetWeight {
        service: String,
        addr: Ipv4Addr,
        port: u16,
        weight: u32,
    },
    MemberRemove {
        service: String,
        addr: Ipv4Addr,
        port: u16,
    },
    MemberList {
        service: String,
    },
    ConnList {
        #[serde(default)]
        service: Option<String>,
        #[serde(default)]
        limit: Option<usize>,
    },
    Stats,
    Save,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpec {
    /// Up to 63 for a udp service, 9000 for an acp one.
    pub offset: u16,
    pub len: u8,
}

/// A request line as sent: the version beside the request's own fields.
pub fn encode_request(req: &Request) -> String {
    let mut v = serde_json::to_value(req).expect("requests serialize");
    v["version"] = VERSION.into();
    v.to_string()
}

/// Parses one request line; the error is the reply's message.
pub fn decode_request(line: &[u8]) -> Result<Request, String> {
    let mut v: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| format!("malformed request: {e}"))?;
    let obj = v
        .as_object_mut()
        .ok_or("malformed request: expected a JSON object")?;
    match obj.remove("version") {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(VERSION.into()) => {}
        Some(other) => {
            return Err(format!(
                "unsupported protocol version {other} (this daemon speaks {VERSION})"
            ))
        }
        None => return Err("malformed request: missing `version`".into()),
    }
    let keys: Vec<String> = obj.keys().cloned().collect();
    let req: Request = serde_json::from_value(v).map_err(|e| format!("bad request: {e}"))?;
    // serde ignores `deny_unknown_fields` for the variants without fields (`stats`, ...) of an
    // internally tagged enum; every field a request has appears when it is serialized.
    let known = serde_json::to_value(&req).expect("requests serialize");
    match keys.iter().find(|k| known.get(k.as_str()).is_none()) {
        Some(k) => Err(format!("bad request: unknown field `{k}`")),
        None => Ok(req),
    }
}

/// The reply line to a request.
pub fn encode_reply(result: Result<serde_json::Value, String>) -> String {
    let v = match result {
        Ok(result) => serde_json::json!({ "version": VERSION, "ok": true, "result": result }),
        Err(error) => serde_json::json!({ "version": VERSION, "ok": false, "error": error }),
    };
    v.to_string()
}

/// A reply line's result, or its error message.
pub fn decode_reply(line: &[u8]) -> Result<serde_json::Value, String> {
    #[derive(Deserialize)]
    struct Reply {
        ok: bool,
        #[serde(default)]
        result: serde_json::Value,
        #[serde(default)]
        error: String,
    }
    let r: Reply = serde_json::from_slice(line)
        .map_err(|e| format!("malformed reply from the daemon: {e}"))?;
    if r.ok {
        Ok(r.result)
    } else {
        Err(r.error)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceView {
    pub name: String,
    pub vip: Ipv4Addr,
    pub port: u16,
    pub proto: String,
    pub policy: String,
    pub key: Option<KeySpec>,
    /// `null` for an acp service: its replies leave where each peer's segments arrive.
    pub peer_port: Option<u8>,
    /// `null` for an acp service: it has no indirection table.
    pub slots: Option<u32>,
    pub members: usize,
    pub connections: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub weight: u32,
    /// `active` or `draining`.
    pub state: String,
    pub out_port: u8,
    pub mac: Option<String>,
    /// Where the MAC comes from: `config` or `arp`.
    pub mac_source: String,
    pub connections: u32,
    pub in_packets: u64,
    pub out_packets: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnView {
    pub service: String,
    pub proto: String,
    /// `addr:port` of the peer.
    pub peer: String,
    /// `vip:port`.
    pub vip: String,
    /// `addr:port` of the member (an acp connection: of each member of its active set, joined by
    /// `,`).
    pub member: String,
    pub peer_port: u8,
    /// An acp connection's phase: `opening`, `established` or `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnList {
    /// Connections matching the filter, listed or not.
    pub total: usize,
    pub connections: Vec<ConnView>,
}

/// What the daemon's slow path did, besides the device counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlowPathStats {
    pub learned: u64,
    pub redirected: u64,
    pub arp_replies: u64,
    pub arp_requests: u64,
    /// Neighbours that did not answer three ARP requests in a row (counted once per episode).
    pub arp_failures: u64,
    pub echo_replies: u64,
    /// Connections removed by ageing.
    pub aged: u64,
    /// State records: a FIN or RST forwarded on a connection (which then ages on `tcp_fin` /
    /// `tcp_rst`).
    #[serde(default)]
    pub closing: u64,
    /// Host-queue records counted and dropped, by reason name.
    pub dropped: std::collections::BTreeMap<String, u64>,
    pub conn_insert_failures: u64,
    /// Member replies that overtook the insert of their connection, sent through the pipeline again.
    #[serde(default)]
    pub outbound_retried: u64,
    /// Device resets detected and recovered from by reprogramming the tables.
    #[serde(default)]
    pub resets: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub uptime_ms: u64,
    pub counters: Counters,
    pub slow_path: SlowPathStats,
    /// One entry per `proto = "acp"` service.
    #[serde(default)]
    pub acp: Vec<AcpStats>,
}

/// The frame switch of an acp service (docs/frame-switching.md section 9): segments by kind, how
/// many the hardware fast path would take, events, and how full its connections' state is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcpStats {
    pub service: String,
    pub policy: String,
    /// Segments by kind (kinds not seen are left out).
    pub segments: std::collections::BTreeMap<String, u64>,
    /// Segments of fast kinds and of slow kinds. In this build the host takes all of them.
    pub fast: u64,
    pub slow: u64,
    pub events: std::collections::BTreeMap<String, u64>,
    /// Connections, and their ring entries in use and open holes (sums; largest ring use).
    pub flows: usize,
    pub in_frames: usize,
    pub out_frames: usize,
    pub holes: usize,
    pub max_in_frames: usize,
    pub max_out_frames: usize,
    /// Segments the switch produced that were sent, and that found no next hop or member MAC.
    pub sent: u64,
    pub unsent: u64,
    /// Connections forgotten for being idle longer than their phase's timeout.
    #[serde(default)]
    pub aged: u64,
    /// Segments the device's ACP engine took (docs/frame-switching.md section 9a), counted in
    /// `segments` too.
    #[serde(default)]
    pub device: u64,
    /// The same by kind (kinds it took none of are left out).
    #[serde(default)]
    pub device_segments: std::collections::BTreeMap<String, u64>,
    /// Flow loads the device refused: a record it gave back was still on its way to the host
    /// (docs/pipeline.md section 12, the load fence).
    #[serde(default)]
    pub device_loads_refused: u64,
    /// Connections the device lost with its slot (a reset that cleared its records): forgotten,
    /// their ends reset at their next segment (docs/frame-switching.md section 10).
    #[serde(default)]
    pub device_flows_lost: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_with_their_version() {
        let reqs = [
            Request::ServiceList,
            Request::MemberAdd {
                service: "web".into(),
                addr: Ipv4Addr::new(10, 0, 0, 1),
                port: 80,
                weight: Some(2),
                out_port: None,
                mac: None,
            },
            Request::ConnList {
                service: None,
                limit: Some(3),
            },
        ];
        for r in reqs {
            let line = encode_request(&r);
            assert!(line.contains("\"version\":1"), "{line}");
            assert_eq!(decode_request(line.as_bytes()), Ok(r));
        }
        assert_eq!(
            decode_request(br#"{"version":1,"op":"service-delete","name":"x"}"#),
            Ok(Request::ServiceDelete { name: "x".into() })
        );
    }

    #[test]
    fn bad_requests_are_errors_that_say_why() {
        let cases: [(&[u8], &str); 7] = [
            (b"not json", "malformed request"),
            (b"[1,2]", "expected a JSON object"),
            (br#"{"op":"stats"}"#, "missing `version`"),
            (
                br#"{"version":2,"op":"stats"}"#,
                "unsupported protocol version 2",
            ),
            (br#"{"version":1,"op":"reboot"}"#, "unknown variant"),
            (
                br#"{"version":1,"op":"member-list","service":"a","x":1}"#,
                "unknown field",
            ),
            (br#"{"version":1,"op":"stats","x":1}"#, "unknown field `x`"),
        ];
        for (line, why) in cases {
            let e = decode_request(line).unwrap_err();
            assert!(
                e.contains(why),
                "{}: `{e}` lacks `{why}`",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn replies_carry_result_or_error() {
        let ok = encode_reply(Ok(serde_json::json!({"a": 1})));
        assert_eq!(decode_reply(ok.as_bytes()), Ok(serde_json::json!({"a": 1})));
        let e = encode_reply(Err("no service named \"x\"".into()));
        assert_eq!(
            decode_reply(e.as_bytes()),
            Err("no service named \"x\"".into())
        );
    }
}
