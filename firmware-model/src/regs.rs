//! Anypoint register map and table-entry layouts.
//!
//! Generated from hw/regmap.toml by `cargo run -p regmap-gen`. Do not edit.

/// Bytes of register space (BAR0).
pub const MAP_SIZE: u32 = 0x100000;
/// Value of the `ID` register.
pub const DEVICE_ID: u32 = 0x414e5950;
/// Value of the `VERSION` register.
pub const MAP_VERSION: u32 = 0x00010004;

/// A bit field: bits `lsb .. lsb + width` of word `word` of a register or table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub word: usize,
    pub lsb: u32,
    pub width: u32,
}

impl Field {
    /// The field's bits within its word.
    pub const fn mask(self) -> u32 {
        (((1u64 << self.width) - 1) as u32) << self.lsb
    }

    /// The field's value in `word`.
    pub const fn extract(self, word: u32) -> u32 {
        (word & self.mask()) >> self.lsb
    }

    /// `value` shifted into place; bits beyond the field's width are dropped.
    pub const fn place(self, value: u32) -> u32 {
        (value << self.lsb) & self.mask()
    }

    /// The field's value in an entry.
    pub fn get(self, words: &[u32]) -> u32 {
        self.extract(words[self.word])
    }

    /// Sets the field in an entry, leaving the other bits alone.
    pub fn set(self, words: &mut [u32], value: u32) {
        words[self.word] = (words[self.word] & !self.mask()) | self.place(value);
    }
}

/// Register byte offsets (arrays: `NAME + 4 * i` for `i < NAME_COUNT`).
pub mod reg {
    use super::Field;

    /// Device identification, always 0x414e5950 ("ANYP"). (ro)
    pub const ID: u32 = 0x00000;

    /// Register map version: major in bits 31:16, minor in bits 15:0. (ro)
    pub const VERSION: u32 = 0x00004;

    /// Number of Ethernet ports (at most 8). (ro)
    pub const NUM_PORTS: u32 = 0x00008;

    /// Entries in the service table (at most 64). (ro)
    pub const NUM_SERVICES: u32 = 0x0000c;

    /// Entries in the member table (at most 1024). (ro)
    pub const NUM_MEMBERS: u32 = 0x00010;

    /// log2 of the buckets per connection-table bank (two banks; at most 16). (ro)
    pub const CONN_BUCKETS_LOG2: u32 = 0x00014;

    /// Ways per connection-table bucket (4). (ro)
    pub const CONN_WAYS: u32 = 0x00018;

    /// log2 of the slots in the indirection memory shared by all services (at most 16). (ro)
    pub const INDIR_SLOTS_LOG2: u32 = 0x0001c;

    /// Largest accepted frame in bytes, without FCS; longer frames are dropped as `oversize`. (rw)
    pub const MAX_FRAME: u32 = 0x00020;
    pub const MAX_FRAME_RESET: u32 = 9022;

    /// Any write zeroes every counter. (wo)
    pub const CTR_CLEAR: u32 = 0x00024;

    /// Soft reset: returns the device to its power-on state (every register, table, indirection slot, activity bit and counter; frames inside the pipeline are discarded). The write completes, and the next register access is answered, only when the reset has finished. (wo)
    pub const SOFT_RESET: u32 = 0x00028;
    /// Write 1 to reset; writes with bit 0 clear do nothing.
    pub const SOFT_RESET_GO: Field = Field { word: 0, lsb: 0, width: 1 };

    /// Device status. (rw1c)
    pub const DEV_STATUS: u32 = 0x0002c;
    /// Sticky: set by every reset (power-on, PCIe reset, SOFT_RESET). The driver clears it (write 1) once it has programmed the tables; finding it set later means the device lost its tables and must be reprogrammed.
    pub const DEV_STATUS_RESET_SEEN: Field = Field { word: 0, lsb: 0, width: 1 };

    /// SipHash key, little-endian words: k0 = HASH_KEY1:HASH_KEY0, k1 = HASH_KEY3:HASH_KEY2. (rw)
    pub const HASH_KEY: u32 = 0x00030;
    pub const HASH_KEY_COUNT: usize = 4;

    /// Table command: copies TBL_WDATA into an entry (write), an entry into TBL_RDATA (read), or invalidates an entry (clear), all at once. (wo)
    pub const TBL_CMD: u32 = 0x00040;
    /// Entry index within the table.
    pub const TBL_CMD_INDEX: Field = Field { word: 0, lsb: 0, width: 24 };
    /// Table id (see the tables below).
    pub const TBL_CMD_TABLE: Field = Field { word: 0, lsb: 24, width: 4 };
    /// 1 = write, 2 = read, 3 = clear (all words zero).
    pub const TBL_CMD_OP: Field = Field { word: 0, lsb: 30, width: 2 };

    /// Table command status. (rw1c)
    pub const TBL_STATUS: u32 = 0x00044;
    /// Sticky: a command named an unknown table, op or an index out of range (it did nothing). Write 1 to clear.
    pub const TBL_STATUS_ERROR: Field = Field { word: 0, lsb: 0, width: 1 };

    /// Staged entry words for the next write command (word 0 first). (rw)
    pub const TBL_WDATA: u32 = 0x00050;
    pub const TBL_WDATA_COUNT: usize = 8;

    /// Entry words returned by the last read command. (ro)
    pub const TBL_RDATA: u32 = 0x00070;
    pub const TBL_RDATA_COUNT: usize = 8;

    /// Flow slots of the ACP block (0: the device has none). (ro)
    pub const ACP_SLOTS: u32 = 0x08000;

    /// log2 of the ring entries per flow slot and direction. (ro)
    pub const ACP_RING_LOG2: u32 = 0x08004;

    /// Entries of the ACP neighbour table (ACP_NBR). (ro)
    pub const ACP_NEIGHBOURS: u32 = 0x08008;

    /// Frames the ACP block has sent (wraps; zeroed only by a reset). (ro)
    pub const ACP_FRAMES: u32 = 0x0800c;

    /// Segments the ACP block sent to an address with no valid neighbour entry, dropped (wraps; zeroed only by a reset). (ro)
    pub const ACP_DROPS: u32 = 0x08010;

    /// Flow slot command. It is carried out between segments: the write completes once it is. A slot beyond ACP_SLOTS or op 0 does nothing. (wo)
    pub const ACP_CMD: u32 = 0x08014;
    /// Flow slot.
    pub const ACP_CMD_SLOT: Field = Field { word: 0, lsb: 0, width: 8 };
    /// With op 1: load only if ACP_FENCE equals the ACP_BUCKET_GIVEN count of the staged record's peer bucket (every segment the block gave back that may be of the flow has been read by the host); ACP_STATUS.REFUSED says whether it did not.
    pub const ACP_CMD_FENCED: Field = Field { word: 0, lsb: 29, width: 1 };
    /// 1 = load (ACP_REC into the slot's record, slot valid, its taken counts zero), 2 = unload (slot invalid), 3 = select (ACP_RDATA, ACP_TAKEN and ACP_STATUS.VALID show this slot).
    pub const ACP_CMD_OP: Field = Field { word: 0, lsb: 30, width: 2 };

    /// ACP block status. (ro)
    pub const ACP_STATUS: u32 = 0x08018;
    /// The selected slot is valid (its flow's segments are taken).
    pub const ACP_STATUS_VALID: Field = Field { word: 0, lsb: 0, width: 1 };
    /// The last load command was fenced and not carried out (the peer bucket's ACP_BUCKET_GIVEN count was not ACP_FENCE); cleared by the next load.
    pub const ACP_STATUS_REFUSED: Field = Field { word: 0, lsb: 1, width: 1 };

    /// Ring entry command. It is carried out between segments: the write completes once it is. A slot beyond ACP_SLOTS, an index beyond the ring or op 0 or 3 does nothing. (wo)
    pub const ACP_RING_CMD: u32 = 0x0801c;
    /// Entry index within the ring.
    pub const ACP_RING_CMD_INDEX: Field = Field { word: 0, lsb: 0, width: 16 };
    /// Flow slot.
    pub const ACP_RING_CMD_SLOT: Field = Field { word: 0, lsb: 16, width: 8 };
    /// 1 = the outbound ring, 0 = the inbound ring.
    pub const ACP_RING_CMD_OUT: Field = Field { word: 0, lsb: 24, width: 1 };
    /// 1 = write (ACP_RING_WDATA into the entry), 2 = read (the entry into ACP_RING_RDATA).
    pub const ACP_RING_CMD_OP: Field = Field { word: 0, lsb: 30, width: 2 };

    /// Staged ring entry (83 bits, word 0 first) for the next ring write. (rw)
    pub const ACP_RING_WDATA: u32 = 0x08020;
    pub const ACP_RING_WDATA_COUNT: usize = 3;

    /// Ring entry returned by the last ring read. (ro)
    pub const ACP_RING_RDATA: u32 = 0x08030;
    pub const ACP_RING_RDATA_COUNT: usize = 3;

    /// Segments the selected slot took since it was loaded, by kind: out_data, out_ack, in_data, in_rtx, in_ack, out_rtx. (ro)
    pub const ACP_TAKEN: u32 = 0x08040;
    pub const ACP_TAKEN_COUNT: usize = 6;

    /// Segments the ACP block offered to its engine and gave back, their records passed on to the host queue (wraps; zeroed only by a reset). ACP_BUCKET_GIVEN counts them by fence bucket. (ro)
    pub const ACP_GIVEN: u32 = 0x08058;

    /// For a fenced load (ACP_CMD.FENCED): the host's count of the ACP records it has read (the records the block offers its engine, as docs/pipeline.md section 12 selects them) that fall in the fence bucket of the staged record's peer address and port. (rw)
    pub const ACP_FENCE: u32 = 0x0805c;

    /// Fence buckets (64): a record falls in the bucket of its segment's source address and port and in that of its destination address and port (docs/pipeline.md section 12). (ro)
    pub const ACP_BUCKETS: u32 = 0x08060;

    /// Neighbour table, 4 words per entry (entry i at 0x8100 + 16 i; layout `acp_nbr` below): where the ACP block sends a segment to an address. Clear `valid` before changing an entry. (rw)
    pub const ACP_NBR: u32 = 0x08100;
    pub const ACP_NBR_COUNT: usize = 64;

    /// Staged flow record (3584 bits, word i = bits 32i+31..32i; layout in docs/frame-switching.md section 9a) for the next load. (rw)
    pub const ACP_REC: u32 = 0x08200;
    pub const ACP_REC_COUNT: usize = 112;

    /// The selected slot's record as the block holds it now (steady while the slot is invalid). (ro)
    pub const ACP_RDATA: u32 = 0x08400;
    pub const ACP_RDATA_COUNT: usize = 112;

    /// Segments the ACP block gave back, by fence bucket (ACP_BUCKETS): each counts the records given back whose segment's source or destination address and port fall in the bucket (a record in one bucket both ways counts once; wraps; zeroed only by a reset). (ro)
    pub const ACP_BUCKET_GIVEN: u32 = 0x08600;
    pub const ACP_BUCKET_GIVEN_COUNT: usize = 64;
}

/// Memory regions: byte offset and size.
pub mod region {
    /// 64-bit counters, 8 bytes each: reading the low word (+0) latches the high word, read at +4. Layout in the counter blocks below.
    pub const CTR: u32 = 0x10000;
    pub const CTR_SIZE: u32 = 0x10000;
    /// Connection activity bitmap: word i holds entries 32i..32i+31 (bit j = entry 32i+j). A hit sets the bit; writing 1 clears it.
    pub const ACT: u32 = 0x40000;
    pub const ACT_SIZE: u32 = 0x10000;
    /// Indirection slots, one word each (slot i at offset 4i), layout `indir_slot` below.
    pub const INDIR: u32 = 0x80000;
    pub const INDIR_SIZE: u32 = 0x40000;
}

/// Counter blocks inside the `CTR` region: block `OFFSET + i * STRIDE + 8 * counter`.
pub mod ctr {
    /// Per Ethernet port.
    pub mod port {
        pub const OFFSET: u32 = 0x00000;
        pub const STRIDE: u32 = 64;
        pub const COUNT: usize = 8;
        pub const RX_PACKETS: usize = 0;
        pub const RX_BYTES: usize = 1;
        pub const TX_PACKETS: usize = 2;
        pub const TX_BYTES: usize = 3;
        pub const DROP_PACKETS: usize = 4;
        pub const HOST_PACKETS: usize = 5;
        pub const NAMES: [&str; 6] = ["rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "drop_packets", "host_packets"];
    }
    /// Per reason code (index = code): packets dropped or sent to the host for that reason, and learn and state records.
    pub mod reason {
        pub const OFFSET: u32 = 0x00400;
        pub const STRIDE: u32 = 8;
        pub const COUNT: usize = 32;
        pub const PACKETS: usize = 0;
        pub const NAMES: [&str; 1] = ["packets"];
    }
    /// Per service: forwarded peer to member (in) and member to peer (out).
    pub mod service {
        pub const OFFSET: u32 = 0x00800;
        pub const STRIDE: u32 = 32;
        pub const COUNT: usize = 64;
        pub const IN_PACKETS: usize = 0;
        pub const IN_BYTES: usize = 1;
        pub const OUT_PACKETS: usize = 2;
        pub const OUT_BYTES: usize = 3;
        pub const NAMES: [&str; 4] = ["in_packets", "in_bytes", "out_packets", "out_bytes"];
    }
    /// Per member: forwarded to it (in) and from it (out).
    pub mod member {
        pub const OFFSET: u32 = 0x01000;
        pub const STRIDE: u32 = 32;
        pub const COUNT: usize = 1024;
        pub const IN_PACKETS: usize = 0;
        pub const IN_BYTES: usize = 1;
        pub const OUT_PACKETS: usize = 2;
        pub const OUT_BYTES: usize = 3;
        pub const NAMES: [&str; 4] = ["in_packets", "in_bytes", "out_packets", "out_bytes"];
    }
}

/// Table ids (for `TBL_CMD`), entry sizes in words, and entry fields.
pub mod table {
    /// Per Ethernet port: its MAC and the MAC of the next hop towards peers.
    pub mod port {
        use crate::regs::Field;
        pub const ID: u32 = 0;
        pub const WORDS: usize = 4;
        /// Port MAC bytes 2-5.
        pub const MAC_LO: Field = Field { word: 0, lsb: 0, width: 32 };
        /// Port MAC bytes 0-1.
        pub const MAC_HI: Field = Field { word: 1, lsb: 0, width: 16 };
        /// Frames may leave on this port.
        pub const ENABLED: Field = Field { word: 1, lsb: 16, width: 1 };
        /// Drop `no_service` traffic arriving here instead of sending it to the host.
        pub const NO_SERVICE_DROP: Field = Field { word: 1, lsb: 17, width: 1 };
        /// Peer-side next-hop MAC bytes 2-5.
        pub const NH_MAC_LO: Field = Field { word: 2, lsb: 0, width: 32 };
        /// Peer-side next-hop MAC bytes 0-1.
        pub const NH_MAC_HI: Field = Field { word: 3, lsb: 0, width: 16 };
        /// The next-hop MAC is known.
        pub const NH_VALID: Field = Field { word: 3, lsb: 16, width: 1 };
    }
    /// Services (VIPs), matched on (vip, proto, port).
    pub mod service {
        use crate::regs::Field;
        pub const ID: u32 = 1;
        pub const WORDS: usize = 4;
        /// Virtual IP address.
        pub const VIP: Field = Field { word: 0, lsb: 0, width: 32 };
        /// Service L4 port.
        pub const PORT: Field = Field { word: 1, lsb: 0, width: 16 };
        /// IP protocol: 6 (TCP) or 17 (UDP).
        pub const PROTO: Field = Field { word: 1, lsb: 16, width: 8 };
        /// 1 = maglev, 2 = key-hash, 3 = host.
        pub const POLICY: Field = Field { word: 1, lsb: 24, width: 3 };
        /// Entry in use.
        pub const VALID: Field = Field { word: 1, lsb: 31, width: 1 };
        /// First indirection slot of this service.
        pub const INDIR_BASE: Field = Field { word: 2, lsb: 0, width: 16 };
        /// log2 of the service's indirection slots.
        pub const INDIR_LOG2: Field = Field { word: 2, lsb: 16, width: 5 };
        /// Port towards peers, for replies without a connection entry.
        pub const PEER_PORT: Field = Field { word: 2, lsb: 24, width: 3 };
        /// key-hash: key offset in the UDP payload.
        pub const KEY_OFFSET: Field = Field { word: 3, lsb: 0, width: 8 };
        /// key-hash: key length in bytes, 1-16 (offset + len <= 64).
        pub const KEY_LEN: Field = Field { word: 3, lsb: 8, width: 5 };
    }
    /// Ensemble members (real servers).
    pub mod member {
        use crate::regs::Field;
        pub const ID: u32 = 2;
        pub const WORDS: usize = 4;
        /// Member IP address.
        pub const ADDR: Field = Field { word: 0, lsb: 0, width: 32 };
        /// Member L4 port.
        pub const PORT: Field = Field { word: 1, lsb: 0, width: 16 };
        /// Ethernet port the member is reached through.
        pub const OUT_PORT: Field = Field { word: 1, lsb: 16, width: 3 };
        /// 0 = unused, 1 = active, 2 = draining, 3 = down.
        pub const STATE: Field = Field { word: 1, lsb: 20, width: 2 };
        /// Service the member belongs to.
        pub const SERVICE: Field = Field { word: 1, lsb: 24, width: 8 };
        /// Next-hop MAC bytes 2-5.
        pub const MAC_LO: Field = Field { word: 2, lsb: 0, width: 32 };
        /// Next-hop MAC bytes 0-1.
        pub const MAC_HI: Field = Field { word: 3, lsb: 0, width: 16 };
        /// The next-hop MAC is known.
        pub const MAC_VALID: Field = Field { word: 3, lsb: 16, width: 1 };
    }
    /// Connection table entry (one direction of a connection); index = bank << (B + 2) | bucket << 2 | way.
    pub mod conn {
        use crate::regs::Field;
        pub const ID: u32 = 3;
        pub const WORDS: usize = 5;
        /// Key: source address.
        pub const SRC_IP: Field = Field { word: 0, lsb: 0, width: 32 };
        /// Key: destination address.
        pub const DST_IP: Field = Field { word: 1, lsb: 0, width: 32 };
        /// Key: destination port.
        pub const DST_PORT: Field = Field { word: 2, lsb: 0, width: 16 };
        /// Key: source port.
        pub const SRC_PORT: Field = Field { word: 2, lsb: 16, width: 16 };
        /// Key: IP protocol.
        pub const PROTO: Field = Field { word: 3, lsb: 0, width: 8 };
        /// Service of the connection.
        pub const SERVICE: Field = Field { word: 3, lsb: 16, width: 8 };
        /// Port the peer is reached through.
        pub const PEER_PORT: Field = Field { word: 3, lsb: 24, width: 3 };
        /// 0 = inbound (peer to member), 1 = outbound (member to peer).
        pub const DIR: Field = Field { word: 3, lsb: 30, width: 1 };
        /// Entry in use.
        pub const VALID: Field = Field { word: 3, lsb: 31, width: 1 };
        /// Member of the connection.
        pub const MEMBER: Field = Field { word: 4, lsb: 0, width: 16 };
    }
    /// ACP neighbour entry (written directly in ACP_NBR, not through TBL_CMD): the first valid entry whose address is a segment's destination says where its frame goes.
    pub mod acp_nbr {
        use crate::regs::Field;
        pub const ID: u32 = 14;
        pub const WORDS: usize = 4;
        /// IPv4 address (a peer's or a member's).
        pub const ADDR: Field = Field { word: 0, lsb: 0, width: 32 };
        /// Destination MAC bytes 2-5 (the member's, or the next hop's towards the peer).
        pub const MAC_LO: Field = Field { word: 1, lsb: 0, width: 32 };
        /// Destination MAC bytes 0-1.
        pub const MAC_HI: Field = Field { word: 2, lsb: 0, width: 16 };
        /// Ethernet port the frame leaves on (its source MAC is the port's).
        pub const PORT: Field = Field { word: 2, lsb: 16, width: 3 };
        /// Entry in use.
        pub const VALID: Field = Field { word: 2, lsb: 31, width: 1 };
    }
    /// Indirection slot word (written directly in the INDIR region, not through TBL_CMD).
    pub mod indir_slot {
        use crate::regs::Field;
        pub const ID: u32 = 15;
        pub const WORDS: usize = 1;
        /// Member id.
        pub const MEMBER: Field = Field { word: 0, lsb: 0, width: 16 };
        /// Slot in use.
        pub const VALID: Field = Field { word: 0, lsb: 31, width: 1 };
    }
}

/// Host-queue and drop reason codes (docs/pipeline.md section 9).
pub mod reason {
    /// drop: frame shorter than its Ethernet header
    pub const RUNT: u8 = 1;
    /// drop: frame longer than MAX_FRAME
    pub const OVERSIZE: u8 = 2;
    /// host: ARP
    pub const ARP: u8 = 3;
    /// host: other EtherType or a second VLAN tag
    pub const NON_IPV4: u8 = 4;
    /// drop: fewer than 20 bytes after the Ethernet header
    pub const IP_TRUNCATED: u8 = 5;
    /// drop: IP version is not 4
    pub const IP_VERSION: u8 = 6;
    /// drop: IHL < 5
    pub const IP_IHL: u8 = 7;
    /// host: IPv4 options
    pub const IP_OPTIONS: u8 = 8;
    /// drop: total length beyond the frame or below 20
    pub const IP_TOTAL_LEN: u8 = 9;
    /// drop: bad IPv4 header checksum
    pub const IP_CHECKSUM: u8 = 10;
    /// host: IPv4 fragment
    pub const IP_FRAGMENT: u8 = 11;
    /// host: TTL <= 1 on a packet to forward
    pub const TTL_EXPIRED: u8 = 12;
    /// host: neither TCP nor UDP
    pub const L4_OTHER: u8 = 13;
    /// drop: TCP or UDP header shorter than it claims
    pub const L4_TRUNCATED: u8 = 14;
    /// host (or drop per port): not for a service, not from a member
    pub const NO_SERVICE: u8 = 15;
    /// host: service with the host policy, the ALRM decides
    pub const HOST_POLICY: u8 = 16;
    /// host: indirection slot empty or its member not active
    pub const NO_MEMBER: u8 = 17;
    /// host: connection to a member that is down
    pub const MEMBER_DOWN: u8 = 18;
    /// host: TCP from a member without a connection
    pub const OUTBOUND_NO_CONN: u8 = 19;
    /// host: next-hop MAC unknown
    pub const NO_NEXT_HOP: u8 = 20;
    /// drop: output port not enabled
    pub const PORT_DOWN: u8 = 21;
    /// learn record for a new TCP connection
    pub const LEARN: u8 = 22;
    /// state record: a forwarded TCP segment of a connection has FIN set
    pub const TCP_FIN: u8 = 23;
    /// state record: a forwarded TCP segment of a connection has RST set
    pub const TCP_RST: u8 = 24;
    /// Every code with its name.
    pub const ALL: [(u8, &str); 24] = [(RUNT, "runt"), (OVERSIZE, "oversize"), (ARP, "arp"), (NON_IPV4, "non_ipv4"), (IP_TRUNCATED, "ip_truncated"), (IP_VERSION, "ip_version"), (IP_IHL, "ip_ihl"), (IP_OPTIONS, "ip_options"), (IP_TOTAL_LEN, "ip_total_len"), (IP_CHECKSUM, "ip_checksum"), (IP_FRAGMENT, "ip_fragment"), (TTL_EXPIRED, "ttl_expired"), (L4_OTHER, "l4_other"), (L4_TRUNCATED, "l4_truncated"), (NO_SERVICE, "no_service"), (HOST_POLICY, "host_policy"), (NO_MEMBER, "no_member"), (MEMBER_DOWN, "member_down"), (OUTBOUND_NO_CONN, "outbound_no_conn"), (NO_NEXT_HOP, "no_next_hop"), (PORT_DOWN, "port_down"), (LEARN, "learn"), (TCP_FIN, "tcp_fin"), (TCP_RST, "tcp_rst")];
}

/// Service policy codes.
pub mod policy {
    /// indirection table on the 5-tuple hash, learn on TCP SYN
    pub const MAGLEV: u8 = 1;
    /// indirection table on a UDP payload key hash
    pub const KEY_HASH: u8 = 2;
    /// host ALRM decides each new connection
    pub const HOST: u8 = 3;
    /// Every code with its name.
    pub const ALL: [(u8, &str); 3] = [(MAGLEV, "maglev"), (KEY_HASH, "key_hash"), (HOST, "host")];
}

/// Member state codes.
pub mod member_state {
    /// entry not in use
    pub const UNUSED: u8 = 0;
    /// takes new and existing connections
    pub const ACTIVE: u8 = 1;
    /// keeps existing connections only
    pub const DRAINING: u8 = 2;
    /// takes nothing
    pub const DOWN: u8 = 3;
    /// Every code with its name.
    pub const ALL: [(u8, &str); 4] = [(UNUSED, "unused"), (ACTIVE, "active"), (DRAINING, "draining"), (DOWN, "down")];
}

/// TBL_CMD operations.
pub mod tbl_op {
    /// TBL_WDATA to the entry
    pub const WRITE: u8 = 1;
    /// the entry to TBL_RDATA
    pub const READ: u8 = 2;
    /// zero the entry
    pub const CLEAR: u8 = 3;
    /// Every code with its name.
    pub const ALL: [(u8, &str); 3] = [(WRITE, "write"), (READ, "read"), (CLEAR, "clear")];
}
