//! The ACP wire format (docs/acp.md): segment header, options, frames, checksum, size limits.
//!
//! Parsing is pure: no allocation, no panics on any input, a borrowed view of the bytes. The switch
//! model reuses these codecs, and the parser is a fuzz target.

use std::net::Ipv4Addr;

/// IP protocol number of ACP (RFC 3692: reserved for experimentation).
pub const PROTOCOL: u8 = 253;
/// Bytes of the fixed segment header.
pub const HEADER_LEN: usize = 20;
/// Largest header (data offset 15 words).
pub const MAX_HEADER_LEN: usize = 60;
/// Bytes of a frame header.
pub const FRAME_HEADER_LEN: usize = 8;
/// Bytes of an IPv4 header without options.
pub const IPV4_HEADER_LEN: usize = 20;
/// Bytes of the redirect-patch option.
pub const PATCH_OPTION_LEN: usize = 8;
/// RFC 6994 experiment identifier of the redirect-patch option (not IANA-registered).
pub const PATCH_EXID: u16 = 0xAC01;

const OPT_END: u8 = 0;
const OPT_NOP: u8 = 1;
const OPT_MSS: u8 = 2;
const OPT_WSCALE: u8 = 3;
const OPT_EXPERIMENT: u8 = 253;
/// Largest window-scale shift (as in TCP, RFC 7323).
pub const MAX_WINDOW_SHIFT: u8 = 14;

/// Largest segment payload (whole frames) for an IP MTU: room is kept for the IPv4 header, the
/// fixed ACP header and a redirect patch, so a switch can add a patch to any segment.
pub fn max_segment_payload(mtu: u16) -> usize {
    (mtu as usize).saturating_sub(IPV4_HEADER_LEN + HEADER_LEN + PATCH_OPTION_LEN)
}

/// Largest frame (header included) for an IP MTU: a frame never spans two segments.
pub fn max_frame_len(mtu: u16) -> usize {
    max_segment_payload(mtu)
}

/// Segment flags; bit positions as in TCP. Other bits are sent as zero and ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(pub u8);

impl Flags {
    pub const FIN: Flags = Flags(0x01);
    pub const SYN: Flags = Flags(0x02);
    pub const RST: Flags = Flags(0x04);
    pub const ACK: Flags = Flags(0x10);
    const KNOWN: u8 = 0x17;

    pub fn has(self, f: Flags) -> bool {
        self.0 & f.0 == f.0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// The options ACP knows; unknown options are skipped on receipt.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Largest segment payload the sender accepts (SYN only).
    pub mss: Option<u16>,
    /// Shift the sender applies to the windows it advertises (SYN only).
    pub window_shift: Option<u8>,
    /// Redirect patch: the receiver may deliver everything below this byte sequence number.
    pub patch: Option<u32>,
}

impl Options {
    /// Encoded length: a multiple of 4.
    pub fn encoded_len(&self) -> usize {
        4 * self.mss.is_some() as usize
            + 4 * self.window_shift.is_some() as usize
            + PATCH_OPTION_LEN * self.patch.is_some() as usize
    }
}

/// A segment header (the checksum is computed on emit and checked separately on receipt).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: Flags,
    pub window: u16,
    pub checksum: u16,
    pub options: Options,
}

impl Header {
    /// Encoded length: 20 bytes and the options.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.options.encoded_len()
    }
}

/// Frame flags. Unknown bits are sent as zero and ignored.
pub const FRAME_NULL: u8 = 0x01;

/// One frame of a segment's payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Offset of the frame header in the payload.
    pub offset: usize,
    /// Frame sequence number.
    pub fseq: u32,
    pub flags: u8,
    /// Application bytes (after the frame header).
    pub data: &'a [u8],
}

impl Frame<'_> {
    /// Bytes of sequence space: header and data.
    pub fn wire_len(&self) -> usize {
        FRAME_HEADER_LEN + self.data.len()
    }

    /// A null frame fills sequence space and is never delivered.
    pub fn is_null(&self) -> bool {
        self.flags & FRAME_NULL != 0
    }
}

/// A parsed segment: header and payload, the payload known to be whole frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    pub header: Header,
    pub payload: &'a [u8],
}

impl<'a> Segment<'a> {
    /// The frames of the payload, in order.
    pub fn frames(&self) -> Frames<'a> {
        Frames {
            rest: self.payload,
            offset: 0,
        }
    }
}

/// Iterator over a payload already checked by [`parse_segment`].
#[derive(Clone, Debug)]
pub struct Frames<'a> {
    rest: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;
    fn next(&mut self) -> Option<Frame<'a>> {
        let (frame, len) = parse_frame(self.rest, self.offset).ok()?;
        self.rest = &self.rest[len..];
        self.offset += len;
        Some(frame)
    }
}

/// Why bytes are not an ACP segment; offsets are from the start of the ACP header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("segment of {0} bytes is shorter than the 20-byte header")]
    Short(usize),
    #[error("data offset {words} words: below 5, or beyond the {len}-byte segment")]
    DataOffset { words: u8, len: usize },
    #[error("option at byte {at}: length {len} is below 2 or runs past the header")]
    OptionLength { at: usize, len: u8 },
    #[error("option kind {kind} at byte {at}: length {len}, expected {expected}")]
    OptionSize {
        kind: u8,
        at: usize,
        len: u8,
        expected: u8,
    },
    #[error("window-scale option at byte {at}: shift {shift} exceeds 14")]
    WindowShift { at: usize, shift: u8 },
    #[error("frame at payload byte {at}: length {len} is below the 8-byte frame header")]
    FrameShort { at: usize, len: u16 },
    #[error("frame at payload byte {at}: length {len} runs past the payload ({left} bytes left)")]
    FrameOverrun { at: usize, len: u16, left: usize },
    #[error("checksum mismatch")]
    Checksum,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses one frame at the start of `rest`; returns it and its length.
fn parse_frame(rest: &[u8], offset: usize) -> Result<(Frame<'_>, usize), WireError> {
    if rest.len() < FRAME_HEADER_LEN {
        return Err(WireError::FrameOverrun {
            at: offset,
            len: FRAME_HEADER_LEN as u16,
            left: rest.len(),
        });
    }
    let len = be16(rest, 0);
    if (len as usize) < FRAME_HEADER_LEN {
        return Err(WireError::FrameShort { at: offset, len });
    }
    if len as usize > rest.len() {
        return Err(WireError::FrameOverrun {
            at: offset,
            len,
            left: rest.len(),
        });
    }
    let frame = Frame {
        offset,
        flags: rest[2],
        fseq: be32(rest, 4),
        data: &rest[FRAME_HEADER_LEN..len as usize],
    };
    Ok((frame, len as usize))
}

fn parse_options(opts: &[u8]) -> Result<Options, WireError> {
    let mut o = Options::default();
    let mut i = 0;
    while i < opts.len() {
        let at = HEADER_LEN + i;
        match opts[i] {
            OPT_END => break,
            OPT_NOP => i += 1,
            kind => {
                let len = *opts
                    .get(i + 1)
                    .ok_or(WireError::OptionLength { at, len: 0 })?;
                if len < 2 || i + len as usize > opts.len() {
                    return Err(WireError::OptionLength { at, len });
                }
                let body = &opts[i + 2..i + len as usize];
                let size = |expected: u8| {
                    if len == expected {
                        Ok(())
                    } else {
                        Err(WireError::OptionSize {
                            kind,
                            at,
                            len,
                            expected,
                        })
                    }
                };
                match kind {
                    OPT_MSS => {
                        size(4)?;
                        o.mss = Some(be16(body, 0));
                    }
                    OPT_WSCALE => {
                        size(3)?;
                        if body[0] > MAX_WINDOW_SHIFT {
                            return Err(WireError::WindowShift { at, shift: body[0] });
                        }
                        o.window_shift = Some(body[0]);
                    }
                    // Another experiment's option (RFC 6994) is skipped like any unknown one.
                    OPT_EXPERIMENT if body.len() >= 2 && be16(body, 0) == PATCH_EXID => {
                        size(PATCH_OPTION_LEN as u8)?;
                        o.patch = Some(be32(body, 2));
                    }
                    _ => {}
                }
                i += len as usize;
            }
        }
    }
    Ok(o)
}

/// Parses an ACP segment (the IP payload). Checks header, options and that the payload is whole
/// frames; does not check the checksum (see [`verify_checksum`]).
pub fn parse_segment(b: &[u8]) -> Result<Segment<'_>, WireError> {
    if b.len() < HEADER_LEN {
        return Err(WireError::Short(b.len()));
    }
    let words = b[12] >> 4;
    let hlen = words as usize * 4;
    if hlen < HEADER_LEN || hlen > b.len() {
        return Err(WireError::DataOffset {
            words,
            len: b.len(),
        });
    }
    let header = Header {
        src_port: be16(b, 0),
        dst_port: be16(b, 2),
        seq: be32(b, 4),
        ack: be32(b, 8),
        flags: Flags(b[13] & Flags::KNOWN),
        window: be16(b, 14),
        checksum: be16(b, 16),
        options: parse_options(&b[HEADER_LEN..hlen])?,
    };
    let payload = &b[hlen..];
    let mut at = 0;
    while at < payload.len() {
        at += parse_frame(&payload[at..], at)?.1;
    }
    Ok(Segment { header, payload })
}

/// Appends the encoded header (checksum field as in `h`) to `out`.
pub fn emit_header(h: &Header, out: &mut Vec<u8>) {
    out.extend_from_slice(&h.src_port.to_be_bytes());
    out.extend_from_slice(&h.dst_port.to_be_bytes());
    out.extend_from_slice(&h.seq.to_be_bytes());
    out.extend_from_slice(&h.ack.to_be_bytes());
    out.push(((h.encoded_len() / 4) as u8) << 4);
    out.push(h.flags.0);
    out.extend_from_slice(&h.window.to_be_bytes());
    out.extend_from_slice(&h.checksum.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    if let Some(mss) = h.options.mss {
        out.extend_from_slice(&[OPT_MSS, 4]);
        out.extend_from_slice(&mss.to_be_bytes());
    }
    if let Some(shift) = h.options.window_shift {
        out.extend_from_slice(&[OPT_NOP, OPT_WSCALE, 3, shift]);
    }
    if let Some(patch) = h.options.patch {
        out.extend_from_slice(&[OPT_EXPERIMENT, PATCH_OPTION_LEN as u8]);
        out.extend_from_slice(&PATCH_EXID.to_be_bytes());
        out.extend_from_slice(&patch.to_be_bytes());
    }
}

/// Appends one frame (header and data) to `out`. `data` must fit a 16-bit frame length.
pub fn emit_frame(fseq: u32, flags: u8, data: &[u8], out: &mut Vec<u8>) {
    let len = u16::try_from(FRAME_HEADER_LEN + data.len()).expect("frame fits 16-bit length");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[flags, 0]);
    out.extend_from_slice(&fseq.to_be_bytes());
    out.extend_from_slice(data);
}

/// The whole segment with its checksum filled in, appended to `out`.
pub fn emit_segment(h: &Header, payload: &[u8], src: Ipv4Addr, dst: Ipv4Addr, out: &mut Vec<u8>) {
    let start = out.len();
    emit_header(&Header { checksum: 0, ..*h }, out);
    out.extend_from_slice(payload);
    let sum = checksum(src, dst, &out[start..]);
    out[start + 16..start + 18].copy_from_slice(&sum.to_be_bytes());
}

/// 16-bit one's-complement sum of `b` (odd length padded with a zero byte) added to `acc`.
fn sum16(mut acc: u32, b: &[u8]) -> u32 {
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
        acc = (acc & 0xffff) + (acc >> 16);
    }
    if let [last] = chunks.remainder() {
        acc += (*last as u32) << 8;
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

fn pseudo_sum(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> u32 {
    let mut p = [0u8; 12];
    p[0..4].copy_from_slice(&src.octets());
    p[4..8].copy_from_slice(&dst.octets());
    p[9] = PROTOCOL;
    p[10..12].copy_from_slice(&(len as u16).to_be_bytes());
    sum16(0, &p)
}

/// The checksum of a segment whose checksum field is zero: TCP's, with protocol 253 in the
/// pseudo-header (source, destination, zero, protocol, ACP length).
pub fn checksum(src: Ipv4Addr, dst: Ipv4Addr, segment: &[u8]) -> u16 {
    !(sum16(pseudo_sum(src, dst, segment.len()), segment) as u16)
}

/// Whether a received segment's checksum is right.
pub fn verify_checksum(src: Ipv4Addr, dst: Ipv4Addr, segment: &[u8]) -> bool {
    sum16(pseudo_sum(src, dst, segment.len()), segment) == 0xffff
}

/// The IPv4 packet fields the endpoint needs: addresses and the protocol payload.
pub struct Ipv4<'a> {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub protocol: u8,
    pub payload: &'a [u8],
}

/// Parses an IPv4 header (as raw IP sockets deliver it); `None` when malformed.
pub fn parse_ipv4(b: &[u8]) -> Option<Ipv4<'_>> {
    if b.len() < IPV4_HEADER_LEN || b[0] >> 4 != 4 {
        return None;
    }
    let ihl = (b[0] & 0x0f) as usize * 4;
    let total = be16(b, 2) as usize;
    if ihl < IPV4_HEADER_LEN || total < ihl || total > b.len() {
        return None;
    }
    Some(Ipv4 {
        src: Ipv4Addr::new(b[12], b[13], b[14], b[15]),
        dst: Ipv4Addr::new(b[16], b[17], b[18], b[19]),
        protocol: b[9],
        payload: &b[ihl..total],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const B: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

    /// etherparse's one's-complement sum, an implementation independent of ours. It sums
    /// native-endian words, so its result is converted to the big-endian value on the wire.
    fn oracle_checksum(src: Ipv4Addr, dst: Ipv4Addr, seg: &[u8]) -> u16 {
        let sum = etherparse::checksum::Sum16BitWords::new()
            .add_4bytes(src.octets())
            .add_4bytes(dst.octets())
            .add_2bytes([0, 253])
            .add_2bytes((seg.len() as u16).to_be_bytes())
            .add_slice(seg)
            .ones_complement();
        u16::from_be_bytes(sum.to_ne_bytes())
    }

    fn header() -> impl Strategy<Value = Header> {
        (
            any::<(u16, u16, u32, u32, u16)>(),
            0u8..0x20,
            any::<(Option<u16>, Option<u32>)>(),
            proptest::option::of(0u8..=14),
        )
            .prop_map(
                |((sp, dp, seq, ack, window), flags, (mss, patch), ws)| Header {
                    src_port: sp,
                    dst_port: dp,
                    seq,
                    ack,
                    flags: Flags(flags & Flags::KNOWN),
                    window,
                    checksum: 0,
                    options: Options {
                        mss,
                        window_shift: ws,
                        patch,
                    },
                },
            )
    }

    proptest! {
        #[test]
        fn segment_round_trip(
            h in header(),
            frames in proptest::collection::vec((any::<u32>(), 0u8..2, proptest::collection::vec(any::<u8>(), 0..40)), 0..6),
        ) {
            let mut payload = Vec::new();
            for (fseq, flags, data) in &frames {
                emit_frame(*fseq, *flags, data, &mut payload);
            }
            let mut bytes = Vec::new();
            emit_segment(&h, &payload, A, B, &mut bytes);
            prop_assert!(verify_checksum(A, B, &bytes));
            let seg = parse_segment(&bytes).unwrap();
            prop_assert_eq!(seg.header.checksum, oracle_checksum(A, B, &{
                let mut z = bytes.clone();
                z[16] = 0;
                z[17] = 0;
                z
            }));
            prop_assert_eq!(seg.header, Header { checksum: seg.header.checksum, ..h });
            prop_assert_eq!(seg.payload, &payload[..]);
            let got: Vec<_> = seg.frames().map(|f| (f.fseq, f.flags, f.data.to_vec())).collect();
            prop_assert_eq!(got, frames);
        }

        /// Any bytes: an error or a segment, never a panic; a parsed payload is whole frames.
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(seg) = parse_segment(&bytes) {
                let total: usize = seg.frames().map(|f| f.wire_len()).sum();
                prop_assert_eq!(total, seg.payload.len());
            }
        }

        #[test]
        fn checksum_matches_oracle(seg in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(checksum(A, B, &seg), oracle_checksum(A, B, &seg));
        }
    }

    #[test]
    fn corrupted_byte_fails_checksum() {
        let mut bytes = Vec::new();
        emit_segment(&Header::default(), &[], A, B, &mut bytes);
        bytes[5] ^= 0x40;
        assert!(!verify_checksum(A, B, &bytes));
    }

    #[test]
    fn malformed_segments_name_the_fault() {
        let ok = {
            let mut b = Vec::new();
            emit_header(&Header::default(), &mut b);
            b
        };
        assert_eq!(parse_segment(&ok[..19]), Err(WireError::Short(19)));
        let mut b = ok.clone();
        b[12] = 0x40;
        assert_eq!(
            parse_segment(&b),
            Err(WireError::DataOffset { words: 4, len: 20 })
        );
        let mut b = ok.clone();
        b[12] = 0x60;
        b.extend_from_slice(&[2, 3, 0, 0]);
        assert_eq!(
            parse_segment(&b),
            Err(WireError::OptionSize {
                kind: 2,
                at: 20,
                len: 3,
                expected: 4
            })
        );
        let mut b = ok.clone();
        b.extend_from_slice(&[0, 7, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            parse_segment(&b),
            Err(WireError::FrameShort { at: 0, len: 7 })
        );
        let mut b = ok.clone();
        b.extend_from_slice(&[0, 8, 0, 0, 0, 0, 0, 1, 0, 9, 0, 0, 0, 0, 0, 2]);
        assert_eq!(
            parse_segment(&b),
            Err(WireError::FrameOverrun {
                at: 8,
                len: 9,
                left: 8
            })
        );
    }

    #[test]
    fn limits_for_ethernet_mtu() {
        // 1500 - 20 (IPv4) - 20 (ACP) - 8 (room for a patch) = 1452, of which 8 are the frame header.
        assert_eq!(max_segment_payload(1500), 1452);
        assert_eq!(max_frame_len(9000), 8952);
    }
}
