//! The device side of the BAR2 host mailbox (layout in `anypoint_driver::device::host_mailbox`):
//! the host queue as the driver sees it, and the inject window.

use anypoint_driver::device::host_mailbox::{
    HOST_DATA, HOST_LEN, HOST_PENDING, HOST_POP, INJECT_DATA, INJECT_PUSH, INJECT_RESULT, WINDOW,
};
use std::collections::VecDeque;

/// Records held for the driver; beyond this the switch's own host queue keeps them.
pub const QUEUE_LIMIT: usize = 4096;

pub struct Mailbox {
    queue: VecDeque<Vec<u8>>,
    inject: Vec<u8>,
    inject_result: u32,
}

impl Mailbox {
    pub fn new() -> Mailbox {
        Mailbox {
            queue: VecDeque::new(),
            inject: vec![0; WINDOW as usize],
            inject_result: 0,
        }
    }

    pub fn has_room(&self) -> bool {
        self.queue.len() < QUEUE_LIMIT
    }

    pub fn push(&mut self, record: Vec<u8>) {
        self.queue.push_back(record);
    }

    /// Reads of unknown offsets and past the head record return zeros.
    pub fn read(&self, offset: u64, buf: &mut [u8]) {
        buf.fill(0);
        let head = self.queue.front().map_or(&[][..], |r| &r[..]);
        let word = |v: u32| v.to_le_bytes();
        let regs = [
            (HOST_LEN, word(head.len() as u32)),
            (HOST_PENDING, word(self.queue.len() as u32)),
            (INJECT_RESULT, word(self.inject_result)),
        ];
        for (i, b) in buf.iter_mut().enumerate() {
            let at = offset + i as u64;
            if let Some((reg, bytes)) = regs.iter().find(|(r, _)| (*r..*r + 4).contains(&at)) {
                *b = bytes[(at - reg) as usize];
            } else if (HOST_DATA..HOST_DATA + WINDOW).contains(&at) {
                *b = head.get((at - HOST_DATA) as usize).copied().unwrap_or(0);
            }
        }
    }

    /// Applies a write; returns the record to inject when it rang INJECT_PUSH.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Option<Vec<u8>> {
        if (INJECT_DATA..INJECT_DATA + WINDOW).contains(&offset) {
            let at = (offset - INJECT_DATA) as usize;
            let end = (at + data.len()).min(self.inject.len());
            self.inject[at..end].copy_from_slice(&data[..end - at]);
            return None;
        }
        let value = u32::from_le_bytes(data.get(..4)?.try_into().ok()?);
        match offset {
            HOST_POP => {
                self.queue.pop_front();
                None
            }
            INJECT_PUSH => {
                let len = value as usize;
                if len > self.inject.len() {
                    self.inject_result = 0;
                    return None;
                }
                Some(self.inject[..len].to_vec())
            }
            _ => None,
        }
    }

    pub fn set_inject_result(&mut self, accepted: bool) {
        self.inject_result = u32::from(accepted);
    }
}
