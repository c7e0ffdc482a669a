//! A backend wrapper that turns everything done to the device into golden-vector steps.

use crate::golden::{Expect, Hex, Step};
use anypoint_driver::{Backend, PacketIo, RegisterAccess};
use std::collections::VecDeque;

/// Passes every call through to `inner` and logs it: register writes and reads as `write`/`read`
/// steps, frames and inject records with the outputs they caused. Those outputs are drained from
/// `inner` right after the call, so each is attached to its cause; the caller still pops them from
/// the recorder as it would from the device.
pub struct Recorder<B> {
    inner: B,
    steps: Vec<Step>,
    egress: VecDeque<(u8, Vec<u8>)>,
    host: VecDeque<Vec<u8>>,
}

impl<B: Backend> Recorder<B> {
    pub fn new(inner: B) -> Self {
        Recorder {
            inner,
            steps: Vec::new(),
            egress: VecDeque::new(),
            host: VecDeque::new(),
        }
    }

    /// The steps logged so far; the log starts over.
    pub fn take_steps(&mut self) -> Vec<Step> {
        std::mem::take(&mut self.steps)
    }

    /// A read that is not logged, to decide which reads are worth logging. Reading a counter's low
    /// word still latches its high word in `inner`.
    pub fn peek32(&mut self, offset: u32) -> u32 {
        self.inner.read32(offset)
    }

    /// The outputs `inner` produced since the last call, queued for the caller's pops as well.
    fn outputs(&mut self) -> Expect {
        let out = Expect::drain(&mut self.inner);
        self.egress
            .extend(out.egress.iter().map(|e| (e.port, e.frame.0.clone())));
        self.host.extend(out.host.iter().map(|h| h.0.clone()));
        out
    }
}

impl<B: Backend> RegisterAccess for Recorder<B> {
    fn read32(&mut self, offset: u32) -> u32 {
        let value = self.inner.read32(offset);
        self.steps.push(Step::Read { offset, value });
        value
    }

    fn write32(&mut self, offset: u32, value: u32) {
        self.inner.write32(offset, value);
        self.steps.push(Step::Write { offset, value });
    }
}

impl<B: Backend> PacketIo for Recorder<B> {
    fn receive(&mut self, port: u8, frame: &[u8]) {
        self.inner.receive(port, frame);
        let expect = self.outputs();
        self.steps.push(Step::Receive {
            port,
            frame: Hex(frame.to_vec()),
            expect,
        });
    }

    /// # Panics
    /// If the device rejects the record: a vector only holds injects that must be accepted.
    fn inject(&mut self, record: &[u8]) -> bool {
        assert!(
            self.inner.inject(record),
            "the device rejected inject record {}",
            Hex(record.to_vec())
        );
        let expect = self.outputs();
        self.steps.push(Step::Inject {
            record: Hex(record.to_vec()),
            expect,
        });
        true
    }

    fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
        self.egress.pop_front()
    }

    fn pop_host(&mut self) -> Option<Vec<u8>> {
        self.host.pop_front()
    }
}
