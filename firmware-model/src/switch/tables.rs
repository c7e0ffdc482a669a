//! Table memories, the `TBL_CMD` engine and decoded views of entries.
//!
//! Entries keep every bit written (undefined bits read back as written); the pipeline only looks at
//! the fields of `regs::table`. An entry index beyond a table reads as an all-zero entry.

use crate::regs::{reg, table, tbl_op};

use super::Geometry;

/// Ways per connection-table bucket.
pub(super) const CONN_WAYS: u32 = 4;

pub(super) struct Tables {
    pub ports: Vec<[u32; table::port::WORDS]>,
    pub services: Vec<[u32; table::service::WORDS]>,
    pub members: Vec<[u32; table::member::WORDS]>,
    pub conns: Vec<[u32; table::conn::WORDS]>,
    /// One bit per connection entry, word `i` = entries `32i..32i+31`.
    pub activity: Vec<u32>,
    pub indir: Vec<u32>,
    pub conn_buckets_log2: u32,
    pub wdata: [u32; reg::TBL_WDATA_COUNT],
    pub rdata: [u32; reg::TBL_RDATA_COUNT],
    /// `TBL_STATUS.ERROR`.
    pub error: bool,
}

impl Tables {
    pub fn new(g: &Geometry) -> Tables {
        let conn_entries = 2usize << (g.conn_buckets_log2 as u32 + CONN_WAYS.ilog2());
        Tables {
            ports: vec![Default::default(); usize::from(g.ports)],
            services: vec![Default::default(); usize::from(g.services)],
            members: vec![Default::default(); usize::from(g.members)],
            conns: vec![Default::default(); conn_entries],
            activity: vec![0; conn_entries.div_ceil(32)],
            indir: vec![0; 1 << g.indir_slots_log2],
            conn_buckets_log2: u32::from(g.conn_buckets_log2),
            wdata: Default::default(),
            rdata: Default::default(),
            error: false,
        }
    }

    /// Executes a `TBL_CMD` write. An unknown table or op, or an index out of range, only sets the
    /// sticky error bit.
    pub fn command(&mut self, cmd: u32) {
        let index = reg::TBL_CMD_INDEX.extract(cmd) as usize;
        let entry: Option<&mut [u32]> = match reg::TBL_CMD_TABLE.extract(cmd) {
            table::port::ID => self.ports.get_mut(index).map(|e| &mut e[..]),
            table::service::ID => self.services.get_mut(index).map(|e| &mut e[..]),
            table::member::ID => self.members.get_mut(index).map(|e| &mut e[..]),
            table::conn::ID => self.conns.get_mut(index).map(|e| &mut e[..]),
            _ => None,
        };
        let Some(entry) = entry else {
            self.error = true;
            return;
        };
        match reg::TBL_CMD_OP.extract(cmd) as u8 {
            tbl_op::WRITE => entry.copy_from_slice(&self.wdata[..entry.len()]),
            tbl_op::READ => {
                // Words beyond the entry read 0 rather than a previous, longer entry.
                self.rdata = Default::default();
                self.rdata[..entry.len()].copy_from_slice(entry);
            }
            tbl_op::CLEAR => entry.fill(0),
            _ => self.error = true,
        }
    }
}

/// A MAC address from its table words: `hi` = bytes 0-1, `lo` = bytes 2-5.
fn mac(hi: u32, lo: u32) -> [u8; 6] {
    let [_, _, b0, b1] = hi.to_be_bytes();
    let [b2, b3, b4, b5] = lo.to_be_bytes();
    [b0, b1, b2, b3, b4, b5]
}

/// Entry `index` of `t`, all zero beyond the table.
fn entry<const N: usize>(t: &[[u32; N]], index: usize) -> [u32; N] {
    t.get(index).copied().unwrap_or([0; N])
}

pub(super) struct Port {
    pub mac: [u8; 6],
    pub enabled: bool,
    pub no_service_drop: bool,
    pub nh_mac: [u8; 6],
    pub nh_valid: bool,
}

pub(super) struct Service {
    pub vip: u32,
    pub port: u16,
    pub proto: u8,
    pub policy: u8,
    pub indir_base: u32,
    pub indir_log2: u32,
    pub peer_port: u8,
    pub key_offset: usize,
    pub key_len: usize,
}

pub(super) struct Member {
    pub addr: u32,
    pub port: u16,
    pub out_port: u8,
    pub state: u8,
    pub service: u16,
    pub mac: [u8; 6],
    pub mac_valid: bool,
}

pub(super) struct Conn {
    pub service: u16,
    pub member: u16,
    pub peer_port: u8,
    pub outbound: bool,
}

impl Tables {
    pub fn port(&self, id: u8) -> Port {
        use table::port::*;
        let w = entry(&self.ports, usize::from(id));
        Port {
            mac: mac(MAC_HI.get(&w), MAC_LO.get(&w)),
            enabled: ENABLED.get(&w) != 0,
            no_service_drop: NO_SERVICE_DROP.get(&w) != 0,
            nh_mac: mac(NH_MAC_HI.get(&w), NH_MAC_LO.get(&w)),
            nh_valid: NH_VALID.get(&w) != 0,
        }
    }

    pub fn service(&self, id: u16) -> Service {
        use table::service::*;
        let w = entry(&self.services, usize::from(id));
        Service {
            vip: VIP.get(&w),
            port: PORT.get(&w) as u16,
            proto: PROTO.get(&w) as u8,
            policy: POLICY.get(&w) as u8,
            indir_base: INDIR_BASE.get(&w),
            indir_log2: INDIR_LOG2.get(&w),
            peer_port: PEER_PORT.get(&w) as u8,
            key_offset: KEY_OFFSET.get(&w) as usize,
            key_len: KEY_LEN.get(&w) as usize,
        }
    }

    pub fn member(&self, id: u16) -> Member {
        use table::member::*;
        let w = entry(&self.members, usize::from(id));
        Member {
            addr: ADDR.get(&w),
            port: PORT.get(&w) as u16,
            out_port: OUT_PORT.get(&w) as u8,
            state: STATE.get(&w) as u8,
            service: SERVICE.get(&w) as u16,
            mac: mac(MAC_HI.get(&w), MAC_LO.get(&w)),
            mac_valid: MAC_VALID.get(&w) != 0,
        }
    }

    pub fn conn(&self, index: usize) -> Conn {
        use table::conn::*;
        let w = entry(&self.conns, index);
        Conn {
            service: SERVICE.get(&w) as u16,
            member: MEMBER.get(&w) as u16,
            peer_port: PEER_PORT.get(&w) as u8,
            outbound: DIR.get(&w) != 0,
        }
    }

    /// The member of indirection slot `slot`, `None` when the slot is not valid or beyond the memory.
    pub fn indir_member(&self, slot: u32) -> Option<u16> {
        use table::indir_slot::*;
        let w = [*self.indir.get(slot as usize)?];
        (VALID.get(&w) != 0).then(|| MEMBER.get(&w) as u16)
    }
}
