//! docs/pipeline.md section 2: one test per parse rule, built from crafted frames.

mod common;

use anypoint_model::regs::{reason, reg};
use anypoint_model::{FiveTuple, HostHeader, Outcome};
use common::*;

fn drop(code: u8) -> Outcome {
    Outcome::Drop { reason: code }
}

fn host(code: u8) -> Outcome {
    Outcome::Host { reason: code }
}

/// A frame the lab forwards, and where its IPv4 header starts.
fn good(vlan: bool) -> (Vec<u8>, usize) {
    let mut spec = FrameSpec::new(peer_tcp(40000));
    if vlan {
        spec.vlan = Some(7);
    }
    (spec.build(), spec.l3())
}

fn assert_forwards(frame: &[u8]) {
    let mut sw = lab();
    assert!(matches!(
        step(&mut sw, 0, frame).outcome,
        Some(Outcome::Forward { .. })
    ));
}

/// A host record for a frame rejected before its 5-tuple was parsed.
fn assert_no_tuple(h: &HostHeader, l3_offset: u8, vlan: bool) {
    assert_eq!((h.l3_offset, h.vlan), (l3_offset, vlan));
    assert_eq!((h.tuple, h.hash), (FiveTuple::default(), 0));
    assert_eq!((h.service, h.member), (0xffff, 0xffff));
}

#[test]
fn the_unmodified_frames_forward() {
    assert_forwards(&good(false).0);
    assert_forwards(&good(true).0);
}

#[test]
fn runt() {
    let mut sw = lab();
    let (f, _) = good(false);
    expect_punt(&mut sw, 0, &f[..13], drop(reason::RUNT));
    expect_punt(&mut sw, 0, &[], drop(reason::RUNT));
    let (t, _) = good(true);
    expect_punt(&mut sw, 0, &t[..17], drop(reason::RUNT));
    // 14 bytes untagged is long enough for rule 1 and fails later.
    expect_punt(&mut sw, 0, &f[..14], drop(reason::IP_TRUNCATED));
}

#[test]
fn oversize_against_max_frame() {
    let mut sw = lab();
    assert_eq!(sw.read32(reg::MAX_FRAME), 9022);
    let mut spec = FrameSpec::new(peer_tcp(40000));
    spec.padding = vec![0; 9022 - spec.build().len()];
    let f = spec.build();
    assert!(matches!(
        step(&mut sw, 0, &f).outcome,
        Some(Outcome::Forward { .. })
    ));
    spec.padding.push(0);
    expect_punt(&mut sw, 0, &spec.build(), drop(reason::OVERSIZE));

    sw.write32(reg::MAX_FRAME, 100);
    let (f, _) = good(false);
    let mut padded = f.clone();
    padded.resize(100, 0);
    assert!(matches!(
        step(&mut sw, 0, &padded).outcome,
        Some(Outcome::Forward { .. })
    ));
    padded.push(0);
    expect_punt(&mut sw, 0, &padded, drop(reason::OVERSIZE));
    // Oversize is checked before the EtherType.
    padded[12..14].copy_from_slice(&[0x08, 0x06]);
    expect_punt(&mut sw, 0, &padded, drop(reason::OVERSIZE));
}

#[test]
fn arp_goes_to_the_host() {
    let mut sw = lab();
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&mac(1, 1));
    f.extend_from_slice(&[0x08, 0x06]);
    f.extend_from_slice(&[0x5a; 28]);
    let h = expect_punt(&mut sw, 2, &f, host(reason::ARP)).unwrap();
    assert_no_tuple(&h, 0, false);

    let mut tagged = f[..12].to_vec();
    tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x07, 0x08, 0x06]);
    tagged.extend_from_slice(&[0x5a; 28]);
    let h = expect_punt(&mut sw, 2, &tagged, host(reason::ARP)).unwrap();
    assert_no_tuple(&h, 0, true);
}

#[test]
fn non_ipv4_goes_to_the_host() {
    let mut sw = lab();
    let (f, _) = good(false);
    for ethertype in [[0x86, 0xdd], [0x88, 0xcc], [0x88, 0xa8]] {
        let mut g = f.clone();
        g[12..14].copy_from_slice(&ethertype);
        let h = expect_punt(&mut sw, 0, &g, host(reason::NON_IPV4)).unwrap();
        assert_no_tuple(&h, 0, false);
    }
    // A second 802.1Q tag.
    let (mut t, _) = good(true);
    t[16..18].copy_from_slice(&[0x81, 0x00]);
    let h = expect_punt(&mut sw, 0, &t, host(reason::NON_IPV4)).unwrap();
    assert_no_tuple(&h, 0, true);
}

#[test]
fn ip_truncated() {
    let mut sw = lab();
    for vlan in [false, true] {
        let (f, l3) = good(vlan);
        expect_punt(&mut sw, 0, &f[..l3 + 19], drop(reason::IP_TRUNCATED));
        // 20 bytes pass rule 5 and fail on the total length.
        expect_punt(&mut sw, 0, &f[..l3 + 20], drop(reason::IP_TOTAL_LEN));
    }
}

#[test]
fn ip_version() {
    let mut sw = lab();
    let (mut f, l3) = good(false);
    f[l3] = 0x65;
    fix_ip_checksum(&mut f, l3);
    expect_punt(&mut sw, 0, &f, drop(reason::IP_VERSION));
}

#[test]
fn ip_ihl_below_5() {
    let mut sw = lab();
    let (mut f, l3) = good(false);
    f[l3] = 0x44;
    expect_punt(&mut sw, 0, &f, drop(reason::IP_IHL));
}

#[test]
fn ip_options_go_to_the_host_before_length_and_checksum_checks() {
    let mut sw = lab();
    for vlan in [false, true] {
        let (mut f, l3) = good(vlan);
        f[l3] = 0x46;
        f[l3 + 10] ^= 0xff; // bad checksum too: rule 8 decides first
        let h = expect_punt(&mut sw, 0, &f, host(reason::IP_OPTIONS)).unwrap();
        assert_no_tuple(&h, l3 as u8, vlan);
    }
}

#[test]
fn ip_total_len_beyond_the_frame_or_below_20() {
    let mut sw = lab();
    let (f, l3) = good(false);
    let avail = (f.len() - l3) as u16;
    for bad in [avail + 1, 19, 0] {
        let mut g = f.clone();
        g[l3 + 2..l3 + 4].copy_from_slice(&bad.to_be_bytes());
        fix_ip_checksum(&mut g, l3);
        expect_punt(&mut sw, 0, &g, drop(reason::IP_TOTAL_LEN));
    }
    // Checked before the header checksum.
    let mut g = f.clone();
    g[l3 + 2..l3 + 4].copy_from_slice(&(avail + 1).to_be_bytes());
    expect_punt(&mut sw, 0, &g, drop(reason::IP_TOTAL_LEN));
}

#[test]
fn ip_checksum() {
    let mut sw = lab();
    let (mut f, l3) = good(false);
    f[l3 + 11] ^= 0x01;
    expect_punt(&mut sw, 0, &f, drop(reason::IP_CHECKSUM));
    // Checked before the fragment rule.
    let (mut g, _) = good(false);
    g[l3 + 6] |= 0x20;
    expect_punt(&mut sw, 0, &g, drop(reason::IP_CHECKSUM));
}

#[test]
fn ip_fragment_on_mf_or_offset_but_not_df() {
    let mut sw = lab();
    let (f, l3) = good(false);
    for flags_frag in [0x2000u16, 0x0001, 0x1fff, 0x6000] {
        let mut g = f.clone();
        g[l3 + 6..l3 + 8].copy_from_slice(&flags_frag.to_be_bytes());
        g[l3 + 9] = 1; // ICMP: the fragment rule decides first
        fix_ip_checksum(&mut g, l3);
        let h = expect_punt(&mut sw, 0, &g, host(reason::IP_FRAGMENT)).unwrap();
        assert_no_tuple(&h, l3 as u8, false);
    }
    let mut g = f.clone();
    g[l3 + 6..l3 + 8].copy_from_slice(&0x4000u16.to_be_bytes());
    fix_ip_checksum(&mut g, l3);
    assert_forwards(&g);
}

#[test]
fn l4_other_goes_to_the_host() {
    let mut sw = lab();
    let (f, l3) = good(true);
    for proto in [1u8, 47, 132] {
        let mut g = f.clone();
        g[l3 + 9] = proto;
        fix_ip_checksum(&mut g, l3);
        let h = expect_punt(&mut sw, 1, &g, host(reason::L4_OTHER)).unwrap();
        assert_no_tuple(&h, l3 as u8, true);
    }
}

/// Sets the total length of the frame's IPv4 header.
fn with_total_len(f: &[u8], l3: usize, total: u16) -> Vec<u8> {
    let mut g = f.to_vec();
    g[l3 + 2..l3 + 4].copy_from_slice(&total.to_be_bytes());
    fix_ip_checksum(&mut g, l3);
    g
}

#[test]
fn l4_truncated_tcp() {
    let mut sw = lab();
    let (f, l3) = good(false); // 20-byte TCP header + 5 bytes payload
    let l4 = l3 + 20;
    expect_punt(
        &mut sw,
        0,
        &with_total_len(&f, l3, 39),
        drop(reason::L4_TRUNCATED),
    );
    let mut g = f.clone();
    g[l4 + 12] = 0x40; // data offset 4
    expect_punt(&mut sw, 0, &g, drop(reason::L4_TRUNCATED));
    g[l4 + 12] = 0x70; // 28 bytes > L4len 25
    expect_punt(&mut sw, 0, &g, drop(reason::L4_TRUNCATED));
    g[l4 + 12] = 0x60; // 24 bytes fit
    let out = step(&mut sw, 0, &g);
    assert!(matches!(out.outcome, Some(Outcome::Forward { .. })));
    // A bare 20-byte header is enough.
    assert_forwards(&with_total_len(&f, l3, 40));
}

#[test]
fn l4_truncated_udp() {
    let mut sw = lab();
    let mut spec = FrameSpec::new(peer_udp(999));
    spec.payload = vec![1, 2, 3, 4, 5, 6, 7, 8];
    let f = spec.build(); // L4len 16
    let (l3, l4) = (spec.l3(), spec.l3() + 20);
    expect_punt(
        &mut sw,
        0,
        &with_total_len(&f, l3, 27),
        drop(reason::L4_TRUNCATED),
    );
    for udp_len in [7u16, 17, 0] {
        let mut g = f.clone();
        g[l4 + 4..l4 + 6].copy_from_slice(&udp_len.to_be_bytes());
        expect_punt(&mut sw, 0, &g, drop(reason::L4_TRUNCATED));
    }
    // A UDP length shorter than L4len is accepted (the rest is not part of the datagram).
    let mut g = f.clone();
    g[l4 + 4..l4 + 6].copy_from_slice(&8u16.to_be_bytes());
    g[l4 + 6..l4 + 8].fill(0);
    assert_forwards(&g);
}
