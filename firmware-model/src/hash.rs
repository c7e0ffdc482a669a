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
        HashKey(std::array::from_fn(|i| {
            u32::from_le_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]])
        }))
    }

    /// SipHash's `(k0, k1)`: `HASH_KEY1:HASH_KEY0` and `HASH_KEY3:HASH_KEY2`.
    fn k0_k1(&self) -> (u64, u64) {
        let [w0, w1, w2, w3] = self.0.map(u64::from);
        (w1 << 32 | w0, w3 << 32 | w2)
    }
}

/// Message kind byte (offset 16).
const KIND_TUPLE: u8 = 0;
const KIND_KEY: u8 = 1;
/// Bytes of a 5-tuple in the message.
const TUPLE_LEN: u8 = 13;
/// Longest key-hash key.
pub const MAX_KEY_LEN: usize = 16;

fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// One compression round per message word.
fn compress(v: &mut [u64; 4], m: u64) {
    v[3] ^= m;
    sip_round(v);
    v[0] ^= m;
}

/// SipHash-1-3 of a 24-byte message.
pub fn siphash13(key: &HashKey, msg: &[u8; 24]) -> u64 {
    let (k0, k1) = key.k0_k1();
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    for block in msg.chunks_exact(8) {
        compress(&mut v, u64::from_le_bytes(block.try_into().unwrap()));
    }
    // The message is a whole number of blocks, so the padding block holds only the length byte.
    compress(&mut v, (msg.len() as u64) << 56);
    v[2] ^= 0xff;
    for _ in 0..3 {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// Hash of a 5-tuple.
pub fn tuple_hash(key: &HashKey, t: &FiveTuple) -> u64 {
    let mut msg = [0u8; 24];
    msg[0..4].copy_from_slice(&t.src_ip.to_be_bytes());
    msg[4..8].copy_from_slice(&t.dst_ip.to_be_bytes());
    msg[8..10].copy_from_slice(&t.src_port.to_be_bytes());
    msg[10..12].copy_from_slice(&t.dst_port.to_be_bytes());
    msg[12] = t.proto;
    msg[16] = KIND_TUPLE;
    msg[17] = TUPLE_LEN;
    siphash13(key, &msg)
}

/// Hash of a key-hash key (1..=16 bytes).
///
/// # Panics
/// If `data` is longer than [`MAX_KEY_LEN`].
pub fn key_hash(key: &HashKey, data: &[u8]) -> u64 {
    assert!(
        data.len() <= MAX_KEY_LEN,
        "key-hash key longer than 16 bytes"
    );
    let mut msg = [0u8; 24];
    msg[..data.len()].copy_from_slice(data);
    msg[16] = KIND_KEY;
    msg[17] = data.len() as u8;
    siphash13(key, &msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use siphasher::sip::SipHasher13;
    use std::hash::Hasher;

    fn oracle(k0: u64, k1: u64, msg: &[u8]) -> u64 {
        let mut h = SipHasher13::new_with_keys(k0, k1);
        h.write(msg);
        h.finish()
    }

    #[test]
    fn key_words_are_little_endian_quarters_of_the_bytes() {
        let key = HashKey::from_bytes(std::array::from_fn(|i| i as u8));
        assert_eq!(key.0, [0x0302_0100, 0x0706_0504, 0x0b0a_0908, 0x0f0e_0d0c]);
        assert_eq!(key.k0_k1(), (0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908));
    }

    #[test]
    fn tuple_message_layout() {
        let key = HashKey::from_bytes(*b"anypoint-hashkey");
        let (k0, k1) = key.k0_k1();
        let t = FiveTuple {
            src_ip: 0x0a00_0001,
            dst_ip: 0xc0a8_0102,
            src_port: 0x1234,
            dst_port: 80,
            proto: 6,
        };
        let msg = [
            10, 0, 0, 1, 192, 168, 1, 2, 0x12, 0x34, 0, 80, 6, 0, 0, 0, 0, 13, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(tuple_hash(&key, &t), oracle(k0, k1, &msg));
    }

    #[test]
    fn key_message_layout() {
        let key = HashKey([1, 2, 3, 4]);
        let (k0, k1) = key.k0_k1();
        let mut msg = [0u8; 24];
        msg[..3].copy_from_slice(b"abc");
        msg[16] = 1;
        msg[17] = 3;
        assert_eq!(key_hash(&key, b"abc"), oracle(k0, k1, &msg));
    }

    #[test]
    #[should_panic]
    fn key_longer_than_16_bytes_panics() {
        key_hash(&HashKey::default(), &[0; 17]);
    }

    proptest! {
        #[test]
        fn siphash13_matches_the_siphasher_crate(key: [u32; 4], msg: [u8; 24]) {
            let key = HashKey(key);
            let (k0, k1) = key.k0_k1();
            prop_assert_eq!(siphash13(&key, &msg), oracle(k0, k1, &msg));
        }
    }
}
