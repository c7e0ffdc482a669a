//! The keyed flow hash (docs/pipeline.md section 4): SipHash-1-3 over a 24-byte message.

/// A connection's 5-tuple, addresses as big-endian `u32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct FiveTuple {
    pub src_ip: u32,
    pub dst_ip: u32,
    pub src_port: u16,
    pub dst_port: u16,
    pub proto: u8,
}

impl FiveTuple {
    /// The same connection seen in the other direction.
    pub fn reversed(self) -> FiveTuple {
        FiveTuple {
            src_ip: self.dst_ip,
            dst_ip: self.src_ip,
            src_port: self.dst_port,
            dst_port: self.src_port,
            proto: self.proto,
        }
    }
}

/// The 128-bit hash key as the four `HASH_KEY` register words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct HashKey(pub [u32; 4]);

impl HashKey {
    /// From the 16 key bytes of the config's `hash_key`.
    pub fn from_bytes(b: [u8; 16]) -> HashKey {
        todo!()
    }
}

/// SipHash-1-3 of a 24-byte message.
pub fn siphash13(key: &HashKey, msg: &[u8; 24]) -> u64 {
    todo!()
}

/// Hash of a 5-tuple.
pub fn tuple_hash(key: &HashKey, t: &FiveTuple) -> u64 {
    todo!()
}

/// Hash of a key-hash key (1..=16 bytes).
pub fn key_hash(key: &HashKey, data: &[u8]) -> u64 {
    todo!()
}
