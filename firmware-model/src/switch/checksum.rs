//! Internet checksum arithmetic: RFC 1071 verification and RFC 1624 incremental update.

/// Folds a 32-bit sum of 16-bit words to 16 bits with end-around carry (two steps always do).
fn fold(sum: u32) -> u16 {
    let sum = (sum & 0xffff) + (sum >> 16);
    ((sum & 0xffff) + (sum >> 16)) as u16
}

/// The one's complement sum of big-endian 16-bit words.
fn ones_sum(b: &[u8]) -> u16 {
    fold(
        b.chunks_exact(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum(),
    )
}

/// An IPv4 header (IHL 5) is valid when the one's complement sum of its ten words is `0xffff`.
pub(super) fn ipv4_header_valid(hdr: &[u8; 20]) -> bool {
    ones_sum(hdr) == 0xffff
}

/// The checksum of an IPv4 header whose checksum field is zero.
pub(super) fn header_checksum(hdr: &[u8]) -> u16 {
    !ones_sum(hdr)
}

/// RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')` for one 16-bit word changing from `old` to `new`.
pub(super) fn update(hc: u16, old: u16, new: u16) -> u16 {
    !fold(u32::from(!hc) + u32::from(!old) + u32::from(new))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 checksum computed from scratch, for comparison.
    fn full(words: &[u16]) -> u16 {
        !fold(words.iter().map(|&w| u32::from(w)).sum())
    }

    #[test]
    fn incremental_update_matches_recomputation() {
        let mut words = [
            0x4500, 0x0073, 0x0000, 0x4000, 0x4011, 0xc0a8, 0x0001, 0xc0a8, 0x00c7,
        ];
        let hc = full(&words);
        let old = words[5];
        words[5] = 0x0a0b;
        assert_eq!(update(hc, old, 0x0a0b), full(&words));
    }

    #[test]
    fn rfc1624_example_avoids_negative_zero() {
        // RFC 1624 section 3: HC = 0xdd2f, m = 0x5555 -> m' = 0x3285 gives 0x0000, not 0xffff.
        assert_eq!(update(0xdd2f, 0x5555, 0x3285), 0x0000);
    }

    #[test]
    fn header_validity() {
        // RFC 1071 style example header: 192.168.0.1 -> 192.168.0.199, checksum 0xb861.
        let mut hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert!(ipv4_header_valid(&hdr));
        hdr[11] ^= 1;
        assert!(!ipv4_header_valid(&hdr));
    }
}
