//! Host-queue records: learn records and host-policy punts.

use super::{show_tuple, Backend, Connection, ControlPlane, DriverError, HostDisposition};
use anypoint_model::hostrec::{HEADER_LEN, KIND_LEARN, KIND_PUNT, KIND_STATE};
use anypoint_model::regs::reason;
use anypoint_model::{FiveTuple, HostHeader, InjectHeader, InjectMode};
use std::collections::VecDeque;

impl<B: Backend> ControlPlane<B> {
    /// Next host-queue record: use this rather than the backend's queue, which the control plane
    /// also reads when it settles learn records before changing indirection slots.
    pub fn pop_host(&mut self) -> Option<Vec<u8>> {
        self.deferred
            .pop_front()
            .or_else(|| self.backend.pop_host())
    }

    /// Inserts the connections of every learn record waiting in the device's host queue. A learn
    /// record is the hardware's decision for a connection's SYN, made by the current indirection
    /// slots; until its entry exists the connection's later frames follow the slots too, so the
    /// slots may only change once it is in. Other records keep their order for [`Self::pop_host`].
    pub(super) fn settle_learns(&mut self) -> Result<(), DriverError> {
        let mut others = VecDeque::new();
        while let Some(record) = self.backend.pop_host() {
            if record.len() == HEADER_LEN && record[1] == KIND_LEARN {
                self.handle_host_record(&record)?;
            } else {
                others.push_back(record);
            }
        }
        self.deferred.append(&mut others);
        Ok(())
    }

    /// Acts on one host-queue record (learn, state, host-policy punt) and says what it did.
    ///
    /// A connection that does not fit in the table is counted in [`TableStats`](super::TableStats), not returned as an
    /// error: a learn record is still `Learned` (the hardware keeps forwarding the flow by the
    /// indirection table); a host-policy punt is `Unhandled` and its frame not re-injected (it
    /// would only come back), and the ALRM gives the peer's retransmission the same member.
    pub fn handle_host_record(&mut self, record: &[u8]) -> Result<HostDisposition, DriverError> {
        let header = HostHeader::decode(record).ok_or_else(|| {
            DriverError::Invalid(format!(
                "host-queue record of {} bytes has no valid header",
                record.len()
            ))
        })?;
        match (header.kind, header.reason) {
            (KIND_LEARN, _) => self.learn(&header),
            (KIND_STATE, reason::TCP_FIN | reason::TCP_RST) => Ok(self.closing(&header)),
            (KIND_PUNT, reason::HOST_POLICY) => self.redirect(&header, record),
            _ => Ok(HostDisposition::Unhandled),
        }
    }

    fn learn(&mut self, h: &HostHeader) -> Result<HostDisposition, DriverError> {
        let conn = Connection {
            inbound: h.tuple,
            service: h.service,
            member: h.member,
            peer_port: h.in_port,
        };
        if !self.is_member_of(h.member, h.service) {
            // Removed while the record was queued.
            return Ok(HostDisposition::Unhandled);
        }
        match self.insert_connection(&conn) {
            Ok(_) | Err(DriverError::TableFull(_)) => Ok(HostDisposition::Learned),
            Err(e) => Err(e),
        }
    }

    /// A FIN or RST on a connection: found by its inbound key, or by the outbound one a member's
    /// segment carries. Gone meanwhile (removed, aged): nothing to do.
    fn closing(&self, h: &HostHeader) -> HostDisposition {
        let t = h.tuple;
        let from_member = || {
            let s = &self.services.get(usize::from(h.service))?.as_ref()?.config;
            Some(FiveTuple {
                src_ip: t.dst_ip,
                dst_ip: u32::from(s.vip),
                src_port: t.dst_port,
                dst_port: s.port,
                proto: t.proto,
            })
        };
        let inbound = [Some(t), from_member()]
            .into_iter()
            .flatten()
            .find(|k| self.tables.conn(k).is_some());
        match inbound {
            Some(inbound) => HostDisposition::Closing {
                inbound,
                reset: h.reason == reason::TCP_RST,
            },
            None => HostDisposition::Unhandled,
        }
    }

    fn redirect(&mut self, h: &HostHeader, record: &[u8]) -> Result<HostDisposition, DriverError> {
        let frame = record
            .get(HEADER_LEN..HEADER_LEN + usize::from(h.frame_len))
            .ok_or_else(|| {
                DriverError::Invalid(format!(
                    "host-queue record of {} bytes is shorter than its frame_len {}",
                    record.len(),
                    h.frame_len
                ))
            })?;
        let sid = h.service;
        if self
            .services
            .get(usize::from(sid))
            .is_none_or(Option::is_none)
        {
            // Removed while the record was queued.
            return Ok(HostDisposition::Unhandled);
        }
        let member = match self.tables.conn(&h.tuple) {
            // Queued behind the frame whose redirect inserted it.
            Some(existing) => existing.member,
            None => {
                let members = self.alrm_members(sid);
                let Some(member) = self
                    .service_mut(sid)
                    .plugin
                    .redirect(&h.tuple, frame, &members)
                else {
                    return Ok(HostDisposition::Unhandled);
                };
                let conn = Connection {
                    inbound: h.tuple,
                    service: sid,
                    member,
                    peer_port: h.in_port,
                };
                match self.insert_connection(&conn) {
                    Ok(_) => member,
                    // Re-injected without an entry, the frame would only come back. The ALRM keeps
                    // its decision, so the peer's retransmission gets the same member once there
                    // is room.
                    Err(DriverError::TableFull(_)) => return Ok(HostDisposition::Unhandled),
                    Err(e) => return Err(e),
                }
            }
        };
        let mut inject = InjectHeader {
            mode: InjectMode::Pipeline,
            port: h.in_port,
        }
        .encode()
        .to_vec();
        inject.extend_from_slice(frame);
        if !self.backend.inject(&inject) {
            return Err(DriverError::Invalid(format!(
                "the device rejected the re-injected frame of {}",
                show_tuple(&h.tuple)
            )));
        }
        Ok(HostDisposition::Redirected { member })
    }
}
