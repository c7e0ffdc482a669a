//! The host of a vector: the driver's control plane on a recorded model, answering the host queue
//! the way `anypoint-ctl` does, so that the connection inserts and re-injects it issues are steps of
//! the vector like everything else.

use crate::golden::Vector;
use crate::recorder::Recorder;
use crate::snapshot;
use anypoint_driver::{ControlPlane, HostDisposition, PacketIo, RegisterAccess};
use anypoint_model::{Geometry, HashKey, HostHeader, Switch};

pub type Control = ControlPlane<Recorder<Switch>>;

pub struct Host {
    ctl: Control,
    geometry: Geometry,
}

/// What one frame led to, after the host handled the records it put on the host queue.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    /// Frames that left Ethernet ports, re-injected ones included.
    pub egress: Vec<(u8, Vec<u8>)>,
    pub host: Vec<(HostHeader, HostDisposition)>,
}

impl Delivery {
    /// The only frame that left, and its port.
    ///
    /// # Panics
    /// Unless exactly one frame left.
    pub fn forwarded(&self) -> (u8, &[u8]) {
        match self.egress.as_slice() {
            [(port, frame)] => (*port, frame),
            other => panic!("expected one frame out, got {}: {self:?}", other.len()),
        }
    }
}

impl Host {
    /// A fresh switch behind a fresh control plane; its initialization is the vector's first steps.
    ///
    /// # Panics
    /// If the driver refuses the model.
    pub fn new(geometry: Geometry, key: HashKey) -> Host {
        let recorder = Recorder::new(Switch::new(geometry));
        let ctl = ControlPlane::new(recorder, key).expect("the driver accepts the model");
        Host { ctl, geometry }
    }

    pub fn ctl(&mut self) -> &mut Control {
        &mut self.ctl
    }

    pub fn receive(&mut self, port: u8, frame: &[u8]) -> Delivery {
        self.ctl.backend().receive(port, frame);
        self.settle()
    }

    /// A host inject record of the host's own (not an ALRM re-inject).
    pub fn inject(&mut self, record: &[u8]) -> Delivery {
        self.ctl.backend().inject(record);
        self.settle()
    }

    /// Hands every host-queue record to the control plane, whose actions may queue more, then
    /// collects what left the ports.
    ///
    /// # Panics
    /// If the control plane fails on a record (a full connection table, for instance).
    fn settle(&mut self) -> Delivery {
        let mut out = Delivery::default();
        while let Some(record) = self.ctl.backend().pop_host() {
            let header = HostHeader::decode(&record).expect("the model writes valid records");
            let disposition = self
                .ctl
                .handle_host_record(&record)
                .unwrap_or_else(|e| panic!("host record {header:?}: {e}"));
            out.host.push((header, disposition));
        }
        while let Some(frame) = self.ctl.backend().pop_egress() {
            out.egress.push(frame);
        }
        out
    }

    /// A 64-bit counter at `offset`, read without logging it.
    pub fn counter(&mut self, offset: u32) -> u64 {
        let rec = self.ctl.backend();
        let lo = rec.peek32(offset);
        u64::from(rec.peek32(offset + 4)) << 32 | u64::from(lo)
    }

    /// A logged register write of the host's own (a setting the control plane has no call for).
    pub fn write32(&mut self, offset: u32, value: u32) {
        self.ctl.backend().write32(offset, value);
    }

    /// A logged register read: the replay expects the same value.
    pub fn read32(&mut self, offset: u32) -> u32 {
        self.ctl.backend().read32(offset)
    }

    /// The vector: every step so far, closed by reads of the non-zero counters and activity words.
    pub fn finish(mut self, name: &str, description: &str) -> Vector {
        snapshot::read_nonzero(self.ctl.backend(), &self.geometry);
        Vector {
            name: name.to_string(),
            description: description.to_string(),
            geometry: self.geometry,
            steps: self.ctl.backend().take_steps(),
        }
    }
}
