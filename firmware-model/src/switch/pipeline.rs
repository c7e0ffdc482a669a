//! The per-frame step: parse, decide, rewrite or punt, count (docs/pipeline.md sections 1-3, 7, 8).

use super::decide::{decide, Decision, Forward};
use super::parse::{parse, Packet};
use super::rewrite::rewrite;
use super::{Outcome, Punt, StepOutput, Switch};
use crate::hash::tuple_hash;
use crate::hostrec::{HostHeader, KIND_LEARN, KIND_PUNT, KIND_STATE, NONE_ID};
use crate::regs::reason;

impl Switch {
    pub(super) fn run_step(
        &mut self,
        port: u8,
        frame: &[u8],
        injected: bool,
        out: &mut StepOutput,
    ) {
        out.outcome = None;
        out.bytes.clear();
        out.record = None;
        // The caller names a port the switch does not have: no frame arrived, nothing is counted.
        if port >= self.geometry.ports {
            return;
        }
        if !injected {
            self.counters.port_rx(port, frame.len());
        }
        let header = HostHeader {
            kind: KIND_PUNT,
            in_port: port,
            service: NONE_ID,
            member: NONE_ID,
            frame_len: frame.len() as u16,
            ..HostHeader::default()
        };
        let pkt = match parse(frame, self.max_frame) {
            Ok(pkt) => pkt,
            Err(rej) => {
                let header = HostHeader {
                    l3_offset: rej.l3_offset,
                    vlan: rej.vlan,
                    ..header
                };
                return self.punt(port, frame, rej.punt, &header, out);
            }
        };
        let hash = tuple_hash(&self.hash_key, &pkt.tuple);
        let header = HostHeader {
            l3_offset: pkt.l3 as u8,
            vlan: pkt.vlan,
            tuple: pkt.tuple,
            hash: hash as u32,
            ..header
        };
        match decide(&mut self.tables, &self.hash_key, &pkt, frame, port, hash) {
            Decision::Punt {
                punt,
                service,
                member,
            } => {
                let header = HostHeader {
                    service,
                    member,
                    ..header
                };
                self.punt(port, frame, punt, &header, out);
            }
            Decision::Forward(fwd) => self.forward(&pkt, frame, &fwd, &header, out),
        }
    }

    /// Host or drop; `header` is the host record's header when it goes to the host.
    fn punt(
        &mut self,
        port: u8,
        frame: &[u8],
        punt: Punt,
        header: &HostHeader,
        out: &mut StepOutput,
    ) {
        match punt {
            Punt::Host(reason) => {
                self.counters.port_host(port);
                self.counters.reason(reason);
                let header = HostHeader { reason, ..*header };
                out.bytes.extend_from_slice(&header.encode());
                out.bytes.extend_from_slice(frame);
            }
            Punt::Drop(reason) => {
                self.counters.port_drop(port);
                self.counters.reason(reason);
            }
        }
        out.outcome = Some(punt.outcome());
    }

    /// `header` is the punt header of this frame, the base of its learn or state record.
    fn forward(
        &mut self,
        pkt: &Packet,
        frame: &[u8],
        fwd: &Forward,
        header: &HostHeader,
        out: &mut StepOutput,
    ) {
        out.bytes.extend_from_slice(frame);
        rewrite(&mut out.bytes, pkt, fwd);
        self.counters.port_tx(fwd.port, frame.len());
        self.counters
            .forwarded(fwd.service, fwd.member, fwd.outbound, frame.len());
        if let Some(code) = fwd.record {
            self.counters.reason(code);
            let record = HostHeader {
                kind: if code == reason::LEARN {
                    KIND_LEARN
                } else {
                    KIND_STATE
                },
                reason: code,
                service: fwd.service,
                member: fwd.member,
                // Nothing of the frame follows the header.
                frame_len: 0,
                ..*header
            };
            out.record = Some(record.encode());
        }
        out.outcome = Some(Outcome::Forward { port: fwd.port });
    }
}
