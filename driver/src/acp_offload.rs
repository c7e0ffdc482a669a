//! The device's ACP block as the host's frame-switch [`Engine`] (docs/frame-switching.md section 9a,
//! docs/pipeline.md section 12). Segments reach the block through the pipeline, ahead of the host:
//! the host sees only the records the block gives back, and loads, reads and unloads flow slots
//! through the registers ([`crate::acp`]).
//!
//! A record the block gave back may still be on its way to the host (in the host queue) when the
//! host would load its flow again; loaded then, the block would take the flow's later segments
//! before the host handled that one. So every load is fenced: [`Shared`] counts the ACP records
//! the host reads by fence bucket (of their source and destination address and port), and the
//! block carries out a load only if it gave back exactly as many in the bucket of the flow's peer.
//! Records of flows in other buckets may be queued meanwhile.
//!
//! A reset zeroes the block's count and its neighbour table: [`Shared`] sees the `SOFT_RESET`
//! writes and restarts its count, and the engine writes its neighbour entries again. A reset it
//! does not see (power, PCIe) the daemon answers with a `SOFT_RESET` of its own
//! (docs/frame-switching.md section 10).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::rc::Rc;

use anypoint_model::frame_switch::fast::{
    Engine, Entries, FlowRecord, Ring, RingEntry, TakenCount,
};
use anypoint_model::frame_switch::Packet;
use anypoint_model::{acp_count_in_buckets, ACP_FENCE_BUCKETS};

use crate::access::{Backend, PacketIo, RegisterAccess};
use crate::acp::{self, Neighbour, Size};
use anypoint_model::regs::reg;

/// A switch shared between the host's packet loop and the engine over its ACP block. Not `Send`
/// (a Verilated model stays on the thread that made it).
pub struct Shared<B> {
    dev: SharedRegs<B>,
    seen: Rc<HostSeen>,
    /// The block's slots went to an acp service (there is one set).
    slots_given: bool,
}

/// What the host has seen of the device, shared with the engine.
struct HostSeen {
    /// ACP records read from the host queue since the last reset, as the block selects them
    /// (`acp_segment`), by fence bucket.
    records_read: RefCell<[u32; ACP_FENCE_BUCKETS]>,
    /// `SOFT_RESET`s written.
    resets: Cell<u32>,
}

impl Default for HostSeen {
    fn default() -> HostSeen {
        HostSeen {
            records_read: RefCell::new([0; ACP_FENCE_BUCKETS]),
            resets: Cell::new(0),
        }
    }
}

impl<B: Backend> Shared<B> {
    pub fn new(dev: B) -> Shared<B> {
        Shared {
            dev: SharedRegs(Rc::new(RefCell::new(dev))),
            seen: Rc::default(),
            slots_given: false,
        }
    }

    /// The switch itself, for what it offers beyond registers and packets.
    pub fn device(&self) -> std::cell::Ref<'_, B> {
        self.dev.0.borrow()
    }
}

/// Register access to a [`Shared`] switch, its own and its engine's.
struct SharedRegs<B>(Rc<RefCell<B>>);

impl<B: RegisterAccess> RegisterAccess for SharedRegs<B> {
    fn read32(&mut self, offset: u32) -> u32 {
        self.0.borrow_mut().read32(offset)
    }
    fn write32(&mut self, offset: u32, value: u32) {
        self.0.borrow_mut().write32(offset, value)
    }
    fn write_words(&mut self, offset: u32, words: &[u32]) {
        self.0.borrow_mut().write_words(offset, words)
    }
}

impl<B: RegisterAccess> RegisterAccess for Shared<B> {
    fn read32(&mut self, offset: u32) -> u32 {
        self.dev.read32(offset)
    }
    /// A soft reset zeroes `ACP_GIVEN` and the neighbour table: the count of records read
    /// restarts with it.
    fn write32(&mut self, offset: u32, value: u32) {
        self.dev.write32(offset, value);
        if offset == reg::SOFT_RESET && reg::SOFT_RESET_GO.extract(value) == 1 {
            self.seen.records_read.replace([0; ACP_FENCE_BUCKETS]);
            self.seen.resets.set(self.seen.resets.get().wrapping_add(1));
        }
    }
    /// One transfer, unless the block covers `SOFT_RESET` (then word by word, for the count).
    fn write_words(&mut self, offset: u32, words: &[u32]) {
        let end = offset + 4 * words.len() as u32;
        if (offset..end).contains(&reg::SOFT_RESET) {
            crate::access::write_each(self, offset, words);
        } else {
            self.dev.write_words(offset, words);
        }
    }
}

impl<B: Backend + 'static> PacketIo for Shared<B> {
    fn receive(&mut self, port: u8, frame: &[u8]) {
        self.dev.0.borrow_mut().receive(port, frame)
    }
    fn inject(&mut self, record: &[u8]) -> bool {
        self.dev.0.borrow_mut().inject(record)
    }
    fn pop_egress(&mut self) -> Option<(u8, Vec<u8>)> {
        self.dev.0.borrow_mut().pop_egress()
    }
    /// The next record; an ACP record counts as read (the caller handles it before it reads the
    /// next one or loads a slot).
    fn pop_host(&mut self) -> Option<Vec<u8>> {
        let rec = self.dev.0.borrow_mut().pop_host()?;
        if let Some(pkt) = anypoint_model::acp_segment(&rec) {
            acp_count_in_buckets(&mut self.seen.records_read.borrow_mut(), &pkt);
        }
        Some(rec)
    }
    /// The block's slots to the first acp service that asks, when the device has a block; else
    /// what the device offers.
    fn acp_engine(&mut self) -> Option<Box<dyn Engine>> {
        if !self.slots_given {
            let regs = SharedRegs(Rc::clone(&self.dev.0));
            if let Some(slots) = DeviceSlots::new(regs, Rc::clone(&self.seen)) {
                self.slots_given = true;
                return Some(Box::new(slots));
            }
        }
        self.dev.0.borrow_mut().acp_engine()
    }
}

/// The block's flow slots as an [`Engine`]: [`Engine::send`] gives every segment back (the host
/// handles what the block gave back), loads are fenced. A load first writes the neighbour
/// entries of the flow's peer and members from the routes it was given ([`Engine::route`]),
/// reusing an address's entry, else a free one, else one no loaded flow uses.
pub struct DeviceSlots<A> {
    dev: A,
    size: Size,
    seen: Rc<HostSeen>,
    routes: HashMap<Ipv4Addr, (u8, [u8; 6])>,
    /// The neighbour table as written since reset number `nbrs_reset`.
    nbrs: Vec<Option<Neighbour>>,
    nbrs_reset: u32,
    /// Addresses of each slot's flow while it is loaded.
    slot_addrs: Vec<Vec<Ipv4Addr>>,
}

impl<A: RegisterAccess> DeviceSlots<A> {
    /// `None` when the device has no ACP block, or one whose fence is not bucketed as the host
    /// counts. `seen`: the ACP records the host has read and handled, and the resets it wrote.
    fn new(mut dev: A, seen: Rc<HostSeen>) -> Option<DeviceSlots<A>> {
        let size = acp::size(&mut dev);
        (size.slots > 0 && size.fence_buckets == ACP_FENCE_BUCKETS).then(|| DeviceSlots {
            dev,
            size,
            nbrs_reset: seen.resets.get(),
            seen,
            routes: HashMap::new(),
            nbrs: vec![None; size.neighbours],
            slot_addrs: vec![Vec::new(); size.slots],
        })
    }

    /// Writes the neighbour entry of `addr` from its route, if it has one and the table room.
    fn neighbour_for(&mut self, addr: Ipv4Addr) {
        let Some(&(port, mac)) = self.routes.get(&addr) else {
            return;
        };
        let n = Neighbour { addr, port, mac };
        let used = |a: Ipv4Addr| self.slot_addrs.iter().flatten().any(|&x| x == a);
        let i = self
            .nbrs
            .iter()
            .position(|e| e.is_some_and(|e| e.addr == addr))
            .or_else(|| self.nbrs.iter().position(Option::is_none))
            .or_else(|| {
                self.nbrs
                    .iter()
                    .position(|e| e.is_some_and(|e| !used(e.addr)))
            });
        if let Some(i) = i.filter(|&i| self.nbrs[i] != Some(n)) {
            acp::set_neighbour(&mut self.dev, i, Some(n));
            self.nbrs[i] = Some(n);
        }
    }
}

impl<A: RegisterAccess> Engine for DeviceSlots<A> {
    fn slots(&self) -> usize {
        self.size.slots
    }
    fn ring_entries(&self) -> usize {
        self.size.ring_entries
    }
    fn load(&mut self, slot: usize, rec: &FlowRecord, in_flight: &Entries) -> bool {
        if self.nbrs_reset != self.seen.resets.get() {
            self.nbrs_reset = self.seen.resets.get();
            self.nbrs.fill(None);
        }
        let members = rec.legs[..usize::from(rec.nlegs)]
            .iter()
            .map(|l| *l.member.ip());
        let addrs: Vec<Ipv4Addr> = std::iter::once(*rec.peer.ip()).chain(members).collect();
        self.slot_addrs[slot].clear();
        for &a in &addrs {
            self.neighbour_for(a);
        }
        let read = *self.seen.records_read.borrow();
        let loaded = acp::load_fenced(&mut self.dev, slot, rec, in_flight, &read);
        if loaded {
            self.slot_addrs[slot] = addrs;
        }
        loaded
    }
    fn unload(&mut self, slot: usize) {
        acp::unload(&mut self.dev, slot);
        self.slot_addrs[slot].clear();
    }
    fn read(&mut self, slot: usize) -> FlowRecord {
        acp::read(&mut self.dev, slot)
    }
    fn ring(&mut self, slot: usize, ring: Ring, idx: u16) -> RingEntry {
        acp::read_ring(&mut self.dev, slot, ring, idx)
    }
    fn taken(&mut self, slot: usize) -> TakenCount {
        acp::taken(&mut self.dev, slot)
    }
    fn send(&mut self, pkt: &Packet) -> Result<Vec<Packet>, Packet> {
        Err(pkt.clone())
    }
    fn route(&mut self, addr: Ipv4Addr, port: u8, mac: [u8; 6]) {
        self.routes.insert(addr, (port, mac));
    }
}
