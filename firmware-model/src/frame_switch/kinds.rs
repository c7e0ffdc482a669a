//! What the frame switch did with each segment: every received segment is counted under exactly
//! one kind (docs/frame-switching.md section 9). The fast kinds are the in-order common case the
//! pipeline handles at line rate; every other kind goes to the host slow path.

/// A segment's kind; when several apply, the highest (last declared) counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// Peer segment without frames (ack, window update), no slow-path work.
    InAck,
    /// Peer frames in sequence, all to one member.
    InData,
    /// Peer frames seen before, to the member and sequence numbers of their first copy.
    InRtx,
    /// Member segment without frames (ack, window update).
    OutAck,
    /// Member frames in sequence, merged into the peer's sequence space.
    OutData,
    /// A member's retransmission starting at its oldest frame not acked by the peer.
    OutRtx,
    /// A peer segment whose frames go to more than one member, or retransmitted frames no longer
    /// contiguous in their member's space.
    Split,
    /// A member retransmission whose frames are not contiguous in the peer's space.
    OutSplit,
    /// A redirect patch had to be sent or attached.
    Patch,
    /// A member retransmission not at its oldest unacked frame (a ring walk).
    OutWalk,
    /// Only frames already acked (duplicates from the network): answered with an ack.
    Stale,
    /// Frames dropped: ring full, hole table full, or a member segment beyond a gap.
    Dropped,
    /// A peer frame filled a hole reserved earlier.
    HoleFill,
    /// A peer frame beyond a gap: the gap is reserved in every member's space.
    HoleOpen,
    /// A frame of a removed member sent to a live one.
    Resteer,
    /// A peer ack at a removed member's frame: null frames sent in its place.
    NullFill,
    /// SYN, SYN-ACK and the handshake's last ack.
    Setup,
    /// FIN or RST.
    Close,
    /// A segment for no connection (answered with a RST unless it is one).
    NoFlow,
    /// Bad checksum or malformed header, options, frames or sequence numbers.
    Malformed,
}

impl Kind {
    pub const ALL: [Kind; 20] = [
        Kind::InAck,
        Kind::InData,
        Kind::InRtx,
        Kind::OutAck,
        Kind::OutData,
        Kind::OutRtx,
        Kind::Split,
        Kind::OutSplit,
        Kind::Patch,
        Kind::OutWalk,
        Kind::Stale,
        Kind::Dropped,
        Kind::HoleFill,
        Kind::HoleOpen,
        Kind::Resteer,
        Kind::NullFill,
        Kind::Setup,
        Kind::Close,
        Kind::NoFlow,
        Kind::Malformed,
    ];

    /// Whether the hardware pipeline handles this kind at line rate.
    pub fn is_fast(self) -> bool {
        self <= Kind::OutRtx
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::InAck => "in_ack",
            Kind::InData => "in_data",
            Kind::InRtx => "in_rtx",
            Kind::OutAck => "out_ack",
            Kind::OutData => "out_data",
            Kind::OutRtx => "out_rtx",
            Kind::Split => "split",
            Kind::OutSplit => "out_split",
            Kind::Patch => "patch",
            Kind::OutWalk => "out_walk",
            Kind::Stale => "stale",
            Kind::Dropped => "dropped",
            Kind::HoleFill => "hole_fill",
            Kind::HoleOpen => "hole_open",
            Kind::Resteer => "resteer",
            Kind::NullFill => "null_fill",
            Kind::Setup => "setup",
            Kind::Close => "close",
            Kind::NoFlow => "no_flow",
            Kind::Malformed => "malformed",
        }
    }
}

/// Segments per kind and the events behind them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    segments: [u64; Kind::ALL.len()],
    pub holes_opened: u64,
    pub patches_sent: u64,
    pub null_frames_sent: u64,
    pub frames_resteered: u64,
    /// Frames dropped because the frame ring had no room.
    pub ring_full_frames: u64,
    /// Frames dropped because the hole table was full.
    pub hole_limit_frames: u64,
    /// Member frames dropped because an earlier one of theirs never reached the switch.
    pub member_gap_frames: u64,
}

impl Counters {
    pub fn count(&mut self, k: Kind) {
        self.add(k, 1);
    }

    pub fn add(&mut self, k: Kind, n: u64) {
        self.segments[k as usize] += n;
    }

    pub fn segments(&self, k: Kind) -> u64 {
        self.segments[k as usize]
    }

    /// Segments handled by the fast path and by the slow path.
    pub fn fast_slow(&self) -> (u64, u64) {
        Kind::ALL.iter().fold((0, 0), |(f, s), &k| {
            let n = self.segments(k);
            if k.is_fast() {
                (f + n, s)
            } else {
                (f, s + n)
            }
        })
    }
}
