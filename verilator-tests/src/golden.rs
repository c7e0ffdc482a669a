//! Golden vectors: what the reference model did, step by step, in a form any backend can replay.
//!
//! A vector is one JSON file: the switch geometry, then steps in order. Register writes program the
//! tables (nothing is configured out of band), register reads are expected values (counters,
//! activity words, driver read-backs), and every frame sent in carries the outputs it caused, so a
//! divergence is pinned to the step that caused it. Frames and host records are lowercase hex.

use anypoint_driver::Backend;
use anypoint_model::Geometry;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Bytes serialized as one lowercase hex string.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Hex(pub Vec<u8>);

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hex, D::Error> {
        let text = String::deserialize(d)?;
        parse_hex(&text)
            .map(Hex)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text:.40}` is not hex bytes")))
    }
}

fn parse_hex(text: &str) -> Option<Vec<u8>> {
    // `from_str_radix` alone would also take a sign.
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Serde mirror of the model's [`Geometry`], which does not derive serde itself.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Geometry", deny_unknown_fields)]
struct GeometryDef {
    ports: u8,
    services: u16,
    members: u16,
    conn_buckets_log2: u8,
    indir_slots_log2: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    pub name: String,
    pub description: String,
    /// The switch the vector runs on; build a fresh one of this geometry for every replay.
    #[serde(with = "GeometryDef")]
    pub geometry: Geometry,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    Write {
        offset: u32,
        value: u32,
    },
    /// `read32(offset)` must return `value`.
    Read {
        offset: u32,
        value: u32,
    },
    Receive {
        port: u8,
        frame: Hex,
        expect: Expect,
    },
    /// A host inject record (4-byte header + frame) that the device must accept.
    Inject {
        record: Hex,
        expect: Expect,
    },
}

/// Everything the device emitted in response to one frame, each queue in emission order.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub egress: Vec<Egress>,
    /// Host-queue records (32-byte header + frame).
    pub host: Vec<Hex>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Egress {
    pub port: u8,
    pub frame: Hex,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.egress.is_empty() && self.host.is_empty() {
            return write!(f, "\n    nothing");
        }
        for e in &self.egress {
            write!(f, "\n    egress port {}: {}", e.port, e.frame)?;
        }
        for h in &self.host {
            write!(f, "\n    host: {h}")?;
        }
        Ok(())
    }
}

impl Expect {
    /// Empties the backend's egress and host queues.
    pub fn drain<B: Backend>(backend: &mut B) -> Expect {
        let mut out = Expect::default();
        while let Some((port, frame)) = backend.pop_egress() {
            out.egress.push(Egress {
                port,
                frame: Hex(frame),
            });
        }
        while let Some(record) = backend.pop_host() {
            out.host.push(Hex(record));
        }
        out
    }
}

impl Vector {
    /// Pretty JSON with a final newline: the committed file's exact bytes.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a vector always serializes");
        text.push('\n');
        text
    }

    pub fn from_json(text: &str) -> Result<Vector, serde_json::Error> {
        serde_json::from_str(text)
    }
}

/// The first step where a backend disagreed with a vector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mismatch {
    pub vector: String,
    /// Index into [`Vector::steps`].
    pub step: usize,
    /// The step, briefly (`read 0x10000`, `receive on port 0`, ...).
    pub action: String,
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "vector `{}` step {} ({}):\n  expected:{}\n  actual:{}",
            self.vector, self.step, self.action, self.expected, self.actual
        )
    }
}

impl std::error::Error for Mismatch {}

/// Replays `vector` on `backend` (a fresh switch of `vector.geometry`) and stops at the first step
/// whose outputs or read value differ.
pub fn run_vector<B: Backend>(backend: &mut B, vector: &Vector) -> Result<(), Mismatch> {
    for (index, step) in vector.steps.iter().enumerate() {
        let mismatch = |action: String, expected: String, actual: String| Mismatch {
            vector: vector.name.clone(),
            step: index,
            action,
            expected,
            actual,
        };
        match step {
            Step::Write { offset, value } => backend.write32(*offset, *value),
            Step::Read { offset, value } => {
                let actual = backend.read32(*offset);
                if actual != *value {
                    return Err(mismatch(
                        format!("read {offset:#07x}"),
                        format!(" {value:#010x}"),
                        format!(" {actual:#010x}"),
                    ));
                }
            }
            Step::Receive {
                port,
                frame,
                expect,
            } => {
                backend.receive(*port, &frame.0);
                let actual = Expect::drain(backend);
                if actual != *expect {
                    return Err(mismatch(
                        format!("receive on port {port}: {frame}"),
                        expect.to_string(),
                        actual.to_string(),
                    ));
                }
            }
            Step::Inject { record, expect } => {
                let accepted = backend.inject(&record.0);
                let actual = Expect::drain(backend);
                if !accepted || actual != *expect {
                    let rejected = if accepted {
                        ""
                    } else {
                        "\n    inject rejected"
                    };
                    return Err(mismatch(
                        format!("inject {record}"),
                        expect.to_string(),
                        format!("{rejected}{actual}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        let json = serde_json::to_string(&Hex(vec![0x00, 0xab, 0x10])).unwrap();
        assert_eq!(json, "\"00ab10\"");
        assert_eq!(
            serde_json::from_str::<Hex>(&json).unwrap().0,
            [0x00, 0xab, 0x10]
        );
        for bad in ["\"abc\"", "\"zz\"", "\"+1\"", "\"é0\""] {
            assert!(serde_json::from_str::<Hex>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn steps_use_the_documented_shape() {
        let step = Step::Receive {
            port: 1,
            frame: Hex(vec![1]),
            expect: Expect {
                egress: vec![Egress {
                    port: 2,
                    frame: Hex(vec![2]),
                }],
                host: vec![Hex(vec![3])],
            },
        };
        assert_eq!(
            serde_json::to_string(&step).unwrap(),
            r#"{"receive":{"port":1,"frame":"01","expect":{"egress":[{"port":2,"frame":"02"}],"host":["03"]}}}"#
        );
        let write = Step::Write {
            offset: 0x40,
            value: 7,
        };
        assert_eq!(
            serde_json::to_string(&write).unwrap(),
            r#"{"write":{"offset":64,"value":7}}"#
        );
    }
}
