//! The hex examples of docs/acp.md section 5 against the codec. The field values here are written
//! from the prose of the spec, not taken from the code; checksums are checked against etherparse.

use std::net::Ipv4Addr;

use acp::wire::{self, Flags, Header, Options};

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(10, 88, 0, 2);

/// The bytes of the ```hex NAME block of docs/acp.md.
fn doc_block(name: &str) -> Vec<u8> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/acp.md"))
        .expect("docs/acp.md");
    let fence = format!("```hex {name}\n");
    let start = doc
        .find(&fence)
        .unwrap_or_else(|| panic!("docs/acp.md has no {fence:?} block"))
        + fence.len();
    let body = &doc[start..start + doc[start..].find("```").expect("block ends")];
    body.split_whitespace()
        .map(|b| {
            u8::from_str_radix(b, 16).unwrap_or_else(|_| panic!("{name}: {b:?} is not a hex byte"))
        })
        .collect()
}

fn oracle_checksum_ok(seg: &[u8]) -> bool {
    let sum = etherparse::checksum::Sum16BitWords::new()
        .add_4bytes(CLIENT.octets())
        .add_4bytes(SERVER.octets())
        .add_2bytes([0, 253])
        .add_2bytes((seg.len() as u16).to_be_bytes())
        .add_slice(seg)
        .ones_complement();
    sum == 0
}

/// Parses the block, compares header and frames, re-encodes and compares the bytes.
fn check(name: &str, want: Header, frames: &[(u32, &[u8])]) {
    let bytes = doc_block(name);
    assert!(oracle_checksum_ok(&bytes), "{name}: checksum (etherparse)");
    assert!(
        wire::verify_checksum(CLIENT, SERVER, &bytes),
        "{name}: checksum (codec)"
    );
    let seg = wire::parse_segment(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(seg.header, want, "{name}: header");
    let got: Vec<(u32, &[u8])> = seg.frames().map(|f| (f.fseq, f.data)).collect();
    assert_eq!(got, frames, "{name}: frames");
    let mut payload = Vec::new();
    for (fseq, data) in frames {
        wire::emit_frame(*fseq, 0, data, &mut payload);
    }
    let mut again = Vec::new();
    wire::emit_segment(&want, &payload, CLIENT, SERVER, &mut again);
    assert_eq!(again, bytes, "{name}: encoding");
}

fn header(
    seq: u32,
    ack: u32,
    flags: Flags,
    window: u16,
    checksum: u16,
    options: Options,
) -> Header {
    Header {
        src_port: 49152,
        dst_port: 7000,
        seq,
        ack,
        flags,
        window,
        checksum,
        options,
    }
}

#[test]
fn syn_example() {
    let options = Options {
        mss: Some(1452),
        window_shift: Some(5),
        patch: None,
    };
    check(
        "syn",
        header(0x12345678, 0, Flags::SYN, 65535, 0x2a74, options),
        &[],
    );
}

#[test]
fn data_example() {
    check(
        "data",
        header(
            0x12345679,
            0x9abcdef1,
            Flags::ACK,
            0x0800,
            0xf59b,
            Options::default(),
        ),
        &[(0, b"ping"), (1, b"pong!")],
    );
}

#[test]
fn patch_example() {
    let options = Options {
        patch: Some(0x123456b0),
        ..Options::default()
    };
    check(
        "patch",
        header(0x12345692, 0x9abcdef1, Flags::ACK, 0x0800, 0xa266, options),
        &[],
    );
}
