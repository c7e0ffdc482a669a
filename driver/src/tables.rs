//! Table manager: shadow copy of every table and the ordered register writes that change them.
//!
//! Entries are staged in `TBL_WDATA` and committed by one `TBL_CMD` write, so the datapath sees each
//! entry change at once. Every write and clear is read back (`TBL_CMD` op read + `TBL_RDATA`) unless
//! verification is off. Indirection slots are plain words in the `INDIR` region, written only when
//! they change. Connections are placed by [`crate::cuckoo`] and always inserted and removed with
//! both directions together.

use crate::access::RegisterAccess;
use crate::control::{show_tuple, Activity, Connection, DriverError, TableStats};
use crate::cuckoo::CuckooTable;
use crate::entries::{conn_entry, decode_conn, INBOUND, OUTBOUND};
use anypoint_model::hash::tuple_hash;
use anypoint_model::regs::{reg, region, table, tbl_op};
use anypoint_model::{FiveTuple, Geometry, HashKey};
use std::collections::HashMap;

/// Reads and sanity-checks the capability registers.
pub fn read_geometry(bus: &mut impl RegisterAccess) -> Result<Geometry, DriverError> {
    let mut cap = |offset: u32, max: u32, what: &str| {
        let v = bus.read32(offset);
        if v > max {
            Err(DriverError::Invalid(format!(
                "device reports {what} = {v}, more than the {max} the register map allows"
            )))
        } else {
            Ok(v)
        }
    };
    let geometry = Geometry {
        ports: cap(reg::NUM_PORTS, 8, "NUM_PORTS")? as u8,
        services: cap(reg::NUM_SERVICES, 64, "NUM_SERVICES")? as u16,
        members: cap(reg::NUM_MEMBERS, 1024, "NUM_MEMBERS")? as u16,
        conn_buckets_log2: cap(reg::CONN_BUCKETS_LOG2, 16, "CONN_BUCKETS_LOG2")? as u8,
        indir_slots_log2: cap(reg::INDIR_SLOTS_LOG2, 16, "INDIR_SLOTS_LOG2")? as u8,
    };
    let ways = bus.read32(reg::CONN_WAYS);
    if ways != crate::cuckoo::WAYS {
        return Err(DriverError::Invalid(format!(
            "device reports CONN_WAYS = {ways}; this driver places connections in 4 ways"
        )));
    }
    Ok(geometry)
}

/// Entries in both banks of the connection table.
fn conn_entries(g: &Geometry) -> usize {
    (2 * crate::cuckoo::WAYS as usize) << g.conn_buckets_log2
}

/// A table behind `TBL_CMD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Table {
    Port,
    Service,
    Member,
    Conn,
}

impl Table {
    const ALL: [Table; 4] = [Table::Port, Table::Service, Table::Member, Table::Conn];

    fn id(self) -> u32 {
        match self {
            Table::Port => table::port::ID,
            Table::Service => table::service::ID,
            Table::Member => table::member::ID,
            Table::Conn => table::conn::ID,
        }
    }

    fn words(self) -> usize {
        match self {
            Table::Port => table::port::WORDS,
            Table::Service => table::service::WORDS,
            Table::Member => table::member::WORDS,
            Table::Conn => table::conn::WORDS,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Table::Port => "port",
            Table::Service => "service",
            Table::Member => "member",
            Table::Conn => "conn",
        }
    }

    fn entries(self, g: &Geometry) -> usize {
        match self {
            Table::Port => usize::from(g.ports),
            Table::Service => usize::from(g.services),
            Table::Member => usize::from(g.members),
            Table::Conn => conn_entries(g),
        }
    }
}

/// The host's copy of one table's entries.
struct Shadow {
    words: usize,
    data: Vec<u32>,
}

impl Shadow {
    fn entry(&self, index: u32) -> &[u32] {
        let at = index as usize * self.words;
        &self.data[at..at + self.words]
    }

    fn entry_mut(&mut self, index: u32) -> &mut [u32] {
        let at = index as usize * self.words;
        &mut self.data[at..at + self.words]
    }
}

/// Shadow tables plus the register writes that keep the device equal to them.
pub(crate) struct Tables {
    geometry: Geometry,
    hash_key: HashKey,
    shadows: [Shadow; 4],
    placement: CuckooTable<FiveTuple>,
    /// Outbound key of every connection, by inbound key.
    outbound: HashMap<FiveTuple, FiveTuple>,
    /// The `INDIR` region's words.
    indir: Vec<u32>,
    /// Allocated indirection ranges: (base, log2).
    indir_ranges: Vec<(u32, u8)>,
    verify: bool,
    stats: TableStats,
}

impl Tables {
    /// The shadow of a device at power-on state (every table, indirection slot and activity bit
    /// zero), with `hash_key` written to it.
    pub(crate) fn new(
        bus: &mut impl RegisterAccess,
        geometry: Geometry,
        hash_key: HashKey,
    ) -> Tables {
        let shadows = Table::ALL.map(|t| Shadow {
            words: t.words(),
            data: vec![0; t.words() * t.entries(&geometry)],
        });
        let mut tables = Tables {
            geometry,
            hash_key,
            shadows,
            placement: CuckooTable::new(geometry.conn_buckets_log2),
            outbound: HashMap::new(),
            indir: vec![0; 1 << geometry.indir_slots_log2],
            indir_ranges: Vec::new(),
            verify: true,
            stats: TableStats::default(),
        };
        tables.write_hash_key(bus);
        tables
    }

    /// Programs a device that was reset (every table zero) from the shadow: the hash key, then
    /// ports, members, indirection slots and connections, and services last, so no frame matches a
    /// service before what it leads to is in place. Each entry is read back as usual.
    pub(crate) fn restore(&mut self, bus: &mut impl RegisterAccess) -> Result<(), DriverError> {
        self.write_hash_key(bus);
        for t in [Table::Port, Table::Member] {
            self.restore_table(bus, t)?;
        }
        let slots = self.indir.len();
        let indir = std::mem::replace(&mut self.indir, vec![0; slots]);
        for (slot, &word) in indir.iter().enumerate() {
            if word != 0 {
                self.write_indir_word(bus, slot as u32, word)?;
            }
        }
        for t in [Table::Conn, Table::Service] {
            self.restore_table(bus, t)?;
        }
        Ok(())
    }

    fn restore_table(
        &mut self,
        bus: &mut impl RegisterAccess,
        t: Table,
    ) -> Result<(), DriverError> {
        for index in 0..t.entries(&self.geometry) as u32 {
            let words = self.shadow(t).entry(index).to_vec();
            if words.iter().any(|&w| w != 0) {
                self.write_entry(bus, t, index, &words)?;
            }
        }
        Ok(())
    }

    fn write_hash_key(&mut self, bus: &mut impl RegisterAccess) {
        for (i, word) in self.hash_key.0.into_iter().enumerate() {
            self.write(bus, reg::HASH_KEY + 4 * i as u32, word);
        }
    }

    pub(crate) fn geometry(&self) -> Geometry {
        self.geometry
    }

    pub(crate) fn stats(&self) -> TableStats {
        self.stats
    }

    pub(crate) fn set_verify(&mut self, on: bool) {
        self.verify = on;
    }

    fn shadow(&self, t: Table) -> &Shadow {
        &self.shadows[t as usize]
    }

    fn write(&mut self, bus: &mut impl RegisterAccess, offset: u32, value: u32) {
        self.stats.register_writes += 1;
        bus.write32(offset, value);
    }

    fn command(&mut self, bus: &mut impl RegisterAccess, t: Table, op: u8, index: u32) {
        let cmd = reg::TBL_CMD_INDEX.place(index)
            | reg::TBL_CMD_TABLE.place(t.id())
            | reg::TBL_CMD_OP.place(op.into());
        self.write(bus, reg::TBL_CMD, cmd);
    }

    /// Reads the entry back and compares it with the shadow.
    fn check(
        &mut self,
        bus: &mut impl RegisterAccess,
        t: Table,
        index: u32,
    ) -> Result<(), DriverError> {
        if !self.verify {
            return Ok(());
        }
        self.command(bus, t, tbl_op::READ, index);
        let expected = self.shadow(t).entry(index);
        let same = expected
            .iter()
            .enumerate()
            .all(|(i, &w)| bus.read32(reg::TBL_RDATA + 4 * i as u32) == w);
        if same {
            Ok(())
        } else {
            Err(DriverError::Verify {
                table: t.name(),
                index,
            })
        }
    }

    /// Writes a whole entry (staged words, then one command) and verifies it.
    pub(crate) fn write_entry(
        &mut self,
        bus: &mut impl RegisterAccess,
        t: Table,
        index: u32,
        words: &[u32],
    ) -> Result<(), DriverError> {
        self.shadows[t as usize]
            .entry_mut(index)
            .copy_from_slice(words);
        self.stats.register_writes += words.len() as u64;
        bus.write_words(reg::TBL_WDATA, words);
        self.command(bus, t, tbl_op::WRITE, index);
        self.check(bus, t, index)
    }

    /// Invalidates an entry (all words zero) and verifies it.
    pub(crate) fn clear_entry(
        &mut self,
        bus: &mut impl RegisterAccess,
        t: Table,
        index: u32,
    ) -> Result<(), DriverError> {
        self.shadows[t as usize].entry_mut(index).fill(0);
        self.command(bus, t, tbl_op::CLEAR, index);
        self.check(bus, t, index)
    }

    // ---- connections ----

    /// Whether `key` is either direction of a connection in the table.
    pub(crate) fn has_conn_key(&self, key: &FiveTuple) -> bool {
        self.placement.get(key).is_some()
    }

    /// Inserts both directions of `conn`; `outbound` is the member-to-peer key. False when the
    /// connection is already present. When either direction does not fit, neither stays in the
    /// table and the failure is counted in `conn_insert_failures`.
    pub(crate) fn insert_conn(
        &mut self,
        bus: &mut impl RegisterAccess,
        conn: &Connection,
        outbound: FiveTuple,
    ) -> Result<bool, DriverError> {
        if self.outbound.contains_key(&conn.inbound) {
            return Ok(false);
        }
        if outbound == conn.inbound || self.placement.get(&outbound).is_some() {
            return Err(DriverError::Invalid(format!(
                "connection {}: its member-side key {} is already used by another connection",
                show_tuple(&conn.inbound),
                show_tuple(&outbound)
            )));
        }
        let placed_in = self.place(bus, conn.inbound, conn_entry(&conn.inbound, conn, INBOUND))?;
        let placed_out =
            placed_in && self.place(bus, outbound, conn_entry(&outbound, conn, OUTBOUND))?;
        if !placed_out {
            if placed_in {
                self.unplace(bus, &conn.inbound)?;
            }
            self.stats.conn_insert_failures += 1;
            return Err(DriverError::TableFull("connection"));
        }
        self.outbound.insert(conn.inbound, outbound);
        self.stats.conn_inserts += 1;
        Ok(true)
    }

    /// Removes both directions of the connection with this inbound key.
    pub(crate) fn remove_conn(
        &mut self,
        bus: &mut impl RegisterAccess,
        inbound: &FiveTuple,
    ) -> Result<Option<Connection>, DriverError> {
        let Some(conn) = self.conn(inbound) else {
            return Ok(None);
        };
        let outbound = self
            .outbound
            .remove(inbound)
            .expect("connection has an outbound key");
        self.unplace(bus, inbound)?;
        self.unplace(bus, &outbound)?;
        Ok(Some(conn))
    }

    /// The connection with this inbound key.
    pub(crate) fn conn(&self, inbound: &FiveTuple) -> Option<Connection> {
        if !self.outbound.contains_key(inbound) {
            return None;
        }
        let index = self.placement.get(inbound)?;
        Some(decode_conn(self.shadow(Table::Conn).entry(index)))
    }

    /// Every connection, in entry order of its inbound direction.
    pub(crate) fn connections(&self) -> impl Iterator<Item = Connection> + '_ {
        self.shadow(Table::Conn)
            .data
            .chunks(table::conn::WORDS)
            .filter(|e| table::conn::VALID.get(e) == 1 && table::conn::DIR.get(e) == INBOUND)
            .map(decode_conn)
    }

    /// Places one entry, applying the relocations it needs in the safe order. False when full.
    fn place(
        &mut self,
        bus: &mut impl RegisterAccess,
        key: FiveTuple,
        words: [u32; table::conn::WORDS],
    ) -> Result<bool, DriverError> {
        let hash = tuple_hash(&self.hash_key, &key);
        let Some(placement) = self.placement.insert(key, hash) else {
            return Ok(false);
        };
        for m in &placement.moves {
            let moved = self.shadow(Table::Conn).entry(m.from).to_vec();
            self.write_entry(bus, Table::Conn, m.to, &moved)?;
            self.stats.relocations += 1;
        }
        self.write_entry(bus, Table::Conn, placement.index, &words)?;
        Ok(true)
    }

    fn unplace(
        &mut self,
        bus: &mut impl RegisterAccess,
        key: &FiveTuple,
    ) -> Result<(), DriverError> {
        match self.placement.remove(key) {
            Some(index) => self.clear_entry(bus, Table::Conn, index),
            None => Ok(()),
        }
    }

    // ---- activity ----

    fn activity_words(&self) -> u32 {
        conn_entries(&self.geometry).div_ceil(32) as u32
    }

    /// Reads the activity bits of entries `32 * word ..`, clearing the ones seen (write one to clear).
    fn take_activity(&mut self, bus: &mut impl RegisterAccess, word: u32) -> u32 {
        let bits = bus.read32(region::ACT + 4 * word);
        if bits != 0 {
            self.write(bus, region::ACT + 4 * word, bits);
        }
        bits
    }

    /// Every connection with which of its entries was hit since the previous call, clearing the
    /// activity bits. A connection relocated in between may be reported idle once although it was
    /// in use (its bit stayed with its old entry).
    pub(crate) fn connection_activity(
        &mut self,
        bus: &mut impl RegisterAccess,
    ) -> Vec<(Connection, Activity)> {
        let mut active = vec![0u32; self.activity_words() as usize];
        for word in self.occupied_words() {
            active[word as usize] = self.take_activity(bus, word);
        }
        let hit = |key: &FiveTuple| {
            let index = self.placement.get(key).expect("placed");
            active[index as usize / 32] >> (index % 32) & 1 == 1
        };
        self.connections()
            .map(|c| {
                let a = Activity {
                    inbound: hit(&c.inbound),
                    outbound: hit(&self.outbound[&c.inbound]),
                };
                (c, a)
            })
            .collect()
    }

    /// Activity words that hold at least one valid entry, ascending.
    fn occupied_words(&self) -> Vec<u32> {
        let mut words: Vec<u32> = self
            .shadow(Table::Conn)
            .data
            .chunks(table::conn::WORDS)
            .enumerate()
            .filter(|(_, e)| table::conn::VALID.get(e) == 1)
            .map(|(i, _)| i as u32 / 32)
            .collect();
        words.dedup();
        words
    }

    // ---- indirection ----

    /// Reserves `2^log2` slots aligned to their size (lowest free range first).
    pub(crate) fn alloc_indir(&mut self, log2: u8) -> Option<u32> {
        if log2 > self.geometry.indir_slots_log2 {
            return None;
        }
        let size = 1u32 << log2;
        let total = 1u32 << self.geometry.indir_slots_log2;
        let overlaps = |base: u32, &(b, l): &(u32, u8)| base < b + (1 << l) && b < base + size;
        let base = (0..total)
            .step_by(size as usize)
            .find(|&base| !self.indir_ranges.iter().any(|r| overlaps(base, r)))?;
        self.indir_ranges.push((base, log2));
        Some(base)
    }

    /// Empties the range's slots and releases it.
    pub(crate) fn free_indir(
        &mut self,
        bus: &mut impl RegisterAccess,
        base: u32,
        log2: u8,
    ) -> Result<(), DriverError> {
        self.write_indir(bus, base, &vec![None; 1 << log2])?;
        self.indir_ranges.retain(|&r| r != (base, log2));
        Ok(())
    }

    /// The members in the slots `base ..` as the device holds them.
    pub(crate) fn indir_slots(&self, base: u32, log2: u8) -> Vec<Option<u16>> {
        self.indir[base as usize..][..1 << log2]
            .iter()
            .map(|&w| {
                (table::indir_slot::VALID.extract(w) == 1)
                    .then(|| table::indir_slot::MEMBER.extract(w) as u16)
            })
            .collect()
    }

    /// Writes the slots that differ from the device's, each read back.
    pub(crate) fn write_indir(
        &mut self,
        bus: &mut impl RegisterAccess,
        base: u32,
        slots: &[Option<u16>],
    ) -> Result<(), DriverError> {
        for (i, slot) in slots.iter().enumerate() {
            let index = base + i as u32;
            let word = slot.map_or(0, |m| {
                table::indir_slot::MEMBER.place(m.into()) | table::indir_slot::VALID.place(1)
            });
            if self.indir[index as usize] != word {
                self.write_indir_word(bus, index, word)?;
            }
        }
        Ok(())
    }

    fn write_indir_word(
        &mut self,
        bus: &mut impl RegisterAccess,
        index: u32,
        word: u32,
    ) -> Result<(), DriverError> {
        self.indir[index as usize] = word;
        let offset = region::INDIR + 4 * index;
        self.write(bus, offset, word);
        if self.verify && bus.read32(offset) != word {
            return Err(DriverError::Verify {
                table: "indir_slot",
                index,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts writes, reads zero: enough for what does not read the device.
    struct Null;

    impl RegisterAccess for Null {
        fn read32(&mut self, _: u32) -> u32 {
            0
        }
        fn write32(&mut self, _: u32, _: u32) {}
    }

    #[test]
    fn indirection_ranges_are_aligned_to_their_size_lowest_first() {
        let geometry = Geometry {
            ports: 1,
            services: 4,
            members: 4,
            conn_buckets_log2: 1,
            indir_slots_log2: 14,
        };
        let mut t = Tables::new(&mut Null, geometry, HashKey::default());
        assert_eq!(t.alloc_indir(12), Some(0));
        assert_eq!(t.alloc_indir(10), Some(4096));
        assert_eq!(t.alloc_indir(12), Some(8192), "4096 is partly taken");
        assert_eq!(t.alloc_indir(13), None, "no aligned 8192 left");
        assert_eq!(t.alloc_indir(15), None, "larger than the memory");
        t.free_indir(&mut Null, 0, 12).unwrap();
        assert_eq!(t.alloc_indir(11), Some(0));
        assert_eq!(t.alloc_indir(11), Some(2048));
        assert_eq!(t.alloc_indir(10), Some(5120));
    }
}
