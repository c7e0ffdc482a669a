`default_nettype none
// anypoint_acp_out: the device's fast path for ACP segments (docs/frame-switching.md section 9a):
// in the members' direction a member's ack or window update (`out_ack`), its next frame
// (`out_data`) and its retransmission of the oldest frame in flight to the peer (`out_rtx`); in the
// peer's direction the peer's ack or window update (`in_ack`), its next frame
// (`in_data`, redirected by the flow's ALRM) and a retransmission of a frame in flight (`in_rtx`).
// Bit-exact with the model's frame_switch::fast `member_segment`, `peer_segment` and `SpecEngine`:
// same decision, output bytes, record updates, ring entries and taken counts.
//
// A segment (the IP payload of a protocol-253 packet) belongs to the first valid slot whose flow it
// is (destination or source is the slot's peer address and port); it is the peer's when its
// destination is the slot's VIP address, else a member's.
//
// Members' direction: taken when it comes from a fast member with an ack the member may send and,
// for a frame, is either that member's next frame with room in the outbound ring or a
// retransmission of the oldest outbound frame in flight (the entry at out_left, read while the
// record is compared: this member's, before its next byte, at this member sequence number and of
// this length). The member's ack and window are taken, the inbound ring entries every member has
// acked are retired oldest first (at most MAX_RETIRE), and the peer's window field recomputed. A
// frame then goes to the peer from the VIP, renumbered, with the ack and window owed: a new one at
// the peer's next byte and frame number, writing an outbound ring entry; a retransmission at its
// entry's peer sequence number and frame number out_left, writing nothing in the ring. A pure ack
// sends the peer a pure ack only when its ack or window changed or it is a duplicate with peer data
// in flight, and otherwise nothing.
//
// Peer's direction: taken when it is a plain ack (a duplicate one, with member data in flight,
// when the member of the oldest frame in flight takes frames) or one frame, with an ack within
// what the peer was sent, retiring at most MAX_RETIRE outbound entries, and the frame either the
// peer's next (a live member to take it, room in the inbound ring) or a retransmission of an
// inbound frame in flight whose member is live. The retired
// entries advance their members' acks, the peer's window is shared out among the live members
// (their promises), a new frame goes to the member the ALRM picks (key hash: SipHash-1-3 of the
// key bytes; round robin; most open window) and takes an inbound ring entry, a retransmission to
// the member of its entry. Sent, in order: the frame to its member (src the peer) with that
// member's ack and window, then a pure ack to every other live member whose ack or window field
// changed since last sent, then, for a duplicate ack, one more to the member of the oldest frame in
// flight (the frame the peer misses: its fast retransmit needs the duplicates).
//
// Any other segment of a slot's flow is given back to the host unchanged (out_punt = 1) and the
// slot made invalid so the flow's later segments follow it to the host in order; a segment of no
// valid slot's flow is given back alone.
//
// Each segment is stored whole, since a segment given back must leave unchanged, while its 16-bit
// one's-complement sums are taken beat by beat, into a ring of beats (2^RL, at least two of the
// longest segments) that the segments take in turn, up to eight in the engine at once: a segment
// comes in while earlier ones are decided and sent, and in_tready is low only while eight are in
// or the ring is full. Segments are decided one at a time and in order, each decision committing
// (record, rings, counts, valid bit) as soon as it is made, so each sees the records the one before
// it left. What a committed segment sends (its new head, addresses, the pure acks it owes and their
// fields) is kept with it, and the send takes the segments in input order, so decisions overlap
// the sends of the segments before them (a run of acks queues behind a long frame's send) and
// outputs leave in input order.
// A segment's clocks from its last beat in (N beats): members' direction, 4 cycles (slot; record
// compares; leg; leg windows), the retire walk one inbound ring entry a cycle (1 to MAX_RETIRE + 1
// cycles: it reads one entry beyond the last it retires, or finds the ring empty), then 4 cycles
// (peer's right edge; window field; output sum; commit): 9 + k cycles for k entries retired, plus
// N to send. Peer's direction: 2 cycles (slot; record compares), the outbound retire walk (1 to
// MAX_RETIRE + 1; each of its cycles loads the window share's dividends, so the last loads the
// final ones), 3 for the share (2 divider steps; promises), for a new frame under key hash 24
// (4 key reads, 16 hash cycles, 4 divider steps: round robin's turn is divided beside the share,
// the most open window needs no division), for a frame 1 (member pick, frame checks), then 3
// (window fields; output sum; commit); the frame sent (N beats), then each pure ack in 3 beats
// (built in the last beat before it; the first of an ack that sends nothing else in 4, a cycle to
// build it). So, first beat in to done, one segment alone: out_data, out_rtx and out_ack
// N + 9 + k + N (a pure ack that sends nothing N + 9 + k), in_ack N + 9 + k (+ 1 with pure acks),
// in_rtx and in_data N + 10 + k + N (key hash N + 34 + k + N), each plus 3 per pure ack.
// Back to back the input, the decisions and the send overlap, the next segment's slot is matched
// in the cycle the one before commits (its decision 2 cycles shorter: no idle cycle, no ST_SLOT),
// and the next send starts with the last beat of the one before: a run of segments costs about
// the most of its beats in, its decisions and its beats out (docs/frame-switching.md section 9a
// has the figures).
//
// A segment of more than MAX_BEATS beats cannot be stored, so it cannot be given back either: it
// is dropped whole and counted nowhere (seg_done in its turn, after its last beat; 1152 beats hold
// the segment of any IP packet up to 9236 bytes).
//
// Record (FlowRecord, 3584 bits; numbers as numbers, IPv4 a.b.c.d as {a,b,c,d}): [31:0] peer_ip,
// [47:32] peer_port, [79:48] vip_ip, [95:80] vip_port, [111:96] w, [143:112] out_left,
// [175:144] out_next_fseq, [191:176] out_idx, [223:192] out_next, [239:224] min_out_frame,
// [271:240] in_left, [287:272] in_idx, [319:288] in_next_fseq, [351:320] in_next, [383:352] in_ack,
// [432:384] zero, [436:433] vip_shift, [468:437] adv_ack, [500:469] adv_edge,
// [516:501] adv_field, [532:517] out_lidx, [564:533] out_ack, [596:565] peer_edge,
// [612:597] peer_wnd_field, [616:613] peer_shift, [632:617] in_next_idx, [648:633] min_in_frame,
// [664:649] frame_max, [666:665] policy (0 key hash, 1 round robin, 2 speed-sensitive),
// [682:667] key_offset, [687:683] key_len, [719:688] turn, [723:720] nlegs, [767:724] zero,
// [895:768] hash key (HashKey words 0..3, word i at 768 + 32 i), [1023:896] zero; leg i (0..7) at
// 1024 + 320 i: [0] fast, [1] takes, [33:2] member_ip, [49:34] member_port, [81:50] out_next,
// [113:82] next, [145:114] una, [177:146] edge, [181:178] shift_from, [213:182] ack,
// [245:214] promise, [277:246] sent_ack, [293:278] sent_field, [297:294] shift_to, [319:298] zero.
// Ring entry (RingEntry, 83 bits, both rings): [2:0] leg, [34:3] member_seq, [66:35] peer_seq,
// [82:67] len.
//
// Parameters:
//   SLOTS     - flow records (at least 2: the slot ports are $clog2(SLOTS) bits).
//   RING_LOG2 - log2 of the ring entries per slot and direction (at most 16); the host keeps
//               2^RING_LOG2 >= w.
//   MAX_BEATS - store-and-forward buffer in 8-byte beats (at most 8191: lengths are 16 bits).
module anypoint_acp_out #(
    parameter int SLOTS = 2,
    parameter int RING_LOG2 = 9,
    parameter int MAX_BEATS = 1152
) (
    input logic clk,
    input logic rst,
    // Segment in: byte i of the segment at in_tdata[8i+7:8i] of its beat; in_src/in_dst held while
    // in_tvalid.
    input logic [63:0] in_tdata,
    input logic [7:0] in_tkeep,
    input logic in_tvalid,
    output logic in_tready,
    input logic in_tlast,
    input logic [31:0] in_src,
    input logic [31:0] in_dst,
    // Segments out, each rewritten or new (out_punt = 0) or the input given back (out_punt = 1);
    // the addresses and out_punt held while out_tvalid.
    output logic [63:0] out_tdata,
    output logic [7:0] out_tkeep,
    output logic out_tvalid,
    input logic out_tready,
    output logic out_tlast,
    output logic [31:0] out_src,
    output logic [31:0] out_dst,
    output logic out_punt,
    output logic [15:0] out_len,  // bytes of the segment out, held while out_tvalid
    // The engine is done with a segment, one pulse per segment in input order: the last beat of its
    // last segment out accepted, or its decision committed when it sends nothing (or its turn come
    // when it is dropped).
    output logic seg_done,
    // No segment in the engine, whole or in part: the host may use the ports below.
    output logic idle,
    // Host, while idle: rec_load writes slot rec_slot (valid, taken counts
    // 0), rec_unload makes it invalid; rec_rdata/rec_valid/rec_taken_* (segments taken by kind
    // since the load) show slot rec_slot.
    input logic rec_load,
    input logic rec_unload,
    input logic [$clog2(SLOTS)-1:0] rec_slot,
    input logic [3583:0] rec_wdata,
    output logic [3583:0] rec_rdata,
    output logic rec_valid,
    output logic [31:0] rec_taken_out_data,
    output logic [31:0] rec_taken_out_ack,
    output logic [31:0] rec_taken_in_data,
    output logic [31:0] rec_taken_in_rtx,
    output logic [31:0] rec_taken_in_ack,
    output logic [31:0] rec_taken_out_rtx,
    // Ring entry ring_idx of slot ring_slot's outbound (ring_out = 1) or inbound ring, one cycle
    // after.
    input logic [$clog2(SLOTS)-1:0] ring_slot,
    input logic ring_out,
    input logic [RING_LOG2-1:0] ring_idx,
    output logic [82:0] ring_rdata,
    // Host, while idle: ring entry ring_wr_idx of slot ring_wr_slot's
    // outbound (ring_wr_out = 1) or inbound ring.
    input logic ring_wr,
    input logic ring_wr_out,
    input logic [$clog2(SLOTS)-1:0] ring_wr_slot,
    input logic [RING_LOG2-1:0] ring_wr_idx,
    input logic [82:0] ring_wr_data
);
  localparam int SW = $clog2(SLOTS);
  localparam int BW = $clog2(MAX_BEATS);  // buffer address
  localparam int CW = $clog2(MAX_BEATS + 1);  // beat count
  // Segments in the engine at once (coming in, deciding, decided, sending), a power of two: enough
  // for a run of pure acks to queue behind a long segment's send without holding the input off.
  localparam int NSEG = 8;
  localparam int BI = $clog2(NSEG), BC = $clog2(NSEG + 1);  // segment index, segment count
  // The buffer, a ring of 2^RL beats the segments take in turn: at least two of the longest.
  localparam int RL = $clog2(MAX_BEATS) + 1;
  localparam int LEGS = 8;
  localparam int MAX_RETIRE = 8;  // fast::MAX_RETIRE

  if (SLOTS < 2 || RING_LOG2 < 1 || RING_LOG2 > 16 || MAX_BEATS < 4 || MAX_BEATS > 8191)
  begin : g_params
    $error("anypoint_acp_out: SLOTS >= 2, 1 <= RING_LOG2 <= 16, 4 <= MAX_BEATS <= 8191");
  end

  // Record layout (header comment): bit offsets of the fields.
  localparam int R_PEER_IP = 0, R_PEER_PORT = 32, R_VIP_IP = 48, R_VIP_PORT = 80, R_W = 96;
  localparam int R_OUT_LEFT = 112, R_FSEQ = 144, R_IDX = 176, R_OUT_NEXT = 192, R_MIN = 224;
  localparam int R_IN_LEFT = 240, R_IN_IDX = 272, R_IN_FSEQ = 288, R_IN_NEXT = 320;
  localparam int R_IN_ACK = 352;
  localparam int R_VIP_SHIFT = 433, R_ADV_ACK = 437, R_ADV_EDGE = 469, R_ADV_FIELD = 501;
  localparam int R_OUT_LIDX = 517, R_OUT_ACK = 533, R_PEER_EDGE = 565, R_PEER_WND = 597;
  localparam int R_PEER_SHIFT = 613, R_IN_NEXT_IDX = 617, R_MIN_IN = 633, R_FRAME_MAX = 649;
  localparam int R_POLICY = 665, R_KEY_OFF = 667, R_KEY_LEN = 683, R_TURN = 688, R_NLEGS = 720;
  localparam int R_KEY = 768;
  // Leg i (FastLeg) at LEG0 + LEG_W * i.
  localparam int LEG0 = 1024, LEG_W = 320;
  localparam int L_FAST = 0, L_TAKES = 1, L_IP = 2, L_PORT = 34, L_OUT_NEXT = 50, L_NEXT = 82;
  localparam int L_UNA = 114, L_EDGE = 146, L_SHIFT = 178, L_ACK = 182, L_PROMISE = 214;
  localparam int L_SENT_ACK = 246, L_SENT_FIELD = 278, L_SHIFT_TO = 294;
  // Policies (FrameAlrm).
  localparam logic [1:0] P_KEY = 2'd0, P_RR = 2'd1, P_SPEED = 2'd2;

  // Big-endian fields of a segment head (byte i at bits 8i), and values laid out in network order.
  function automatic logic [15:0] be16(input logic [255:0] h, input int at);
    be16 = {h[8*at+:8], h[8*(at+1)+:8]};
  endfunction
  function automatic logic [31:0] be32(input logic [255:0] h, input int at);
    be32 = {be16(h, at), be16(h, at + 2)};
  endfunction
  function automatic logic [15:0] net16(input logic [15:0] v);
    net16 = {v[7:0], v[15:8]};
  endfunction
  function automatic logic [31:0] net32(input logic [31:0] v);
    net32 = {net16(v[15:0]), net16(v[31:16])};
  endfunction
  // One's-complement fold of a sum of 16-bit words: 0 only for a zero sum, as wire::sum16's
  // word-by-word end-around carry gives (every sum here has the protocol word 253 in it).
  function automatic logic [15:0] fold(input logic [31:0] x);
    logic [16:0] t;
    t = {1'b0, x[15:0]} + {1'b0, x[31:16]};
    fold = t[15:0] + {15'd0, t[16]};
  endfunction
  // Sequence order (acp::conn::seq_lt: (a - b) as i32 < 0) and the model's gap(a, b).
  function automatic logic seq_lt(input logic [31:0] a, input logic [31:0] b);
    seq_lt = a - b > 32'h7fff_ffff;  // bit 31 of the 32-bit difference
  endfunction
  function automatic logic seq_le(input logic [31:0] a, input logic [31:0] b);
    seq_le = a == b || seq_lt(a, b);
  endfunction
  function automatic logic [31:0] gap(input logic [31:0] a, input logic [31:0] b);
    gap = seq_lt(a, b) ? b - a : '0;
  endfunction
  function automatic logic [31:0] min32(input logic [31:0] a, input logic [31:0] b);
    min32 = a < b ? a : b;
  endfunction
  function automatic logic [31:0] sat_sub(input logic [31:0] a, input logic [31:0] b);
    sat_sub = a > b ? a - b : '0;
  endfunction
  // A ring index plus one, wrapping at w.
  function automatic logic [15:0] idx_inc(input logic [15:0] i, input logic [15:0] w);
    idx_inc = i + 16'd1 == w ? '0 : i + 16'd1;
  endfunction
  // The 32-bit halves of a word, as one's-complement sum terms.
  function automatic logic [19:0] halves(input logic [31:0] v);
    halves = {4'd0, v[31:16]} + {4'd0, v[15:0]};
  endfunction
  // The window field for a member (Flow's window field with no hole): what is promised beyond its
  // ack, scaled, at most 0xffff.
  function automatic logic [15:0] wfield(input logic [31:0] a, input logic [31:0] p,
                                         input logic [3:0] shift);
    logic [31:0] g;
    g = gap(a, p) >> shift;
    wfield = g > 32'hffff ? 16'hffff : g[15:0];
  endfunction
  // Sixteen steps of long division by n (1 to 8): remainder r < n in and out, quotient bits of x.
  function automatic logic [19:0] div16(input logic [3:0] r, input logic [15:0] x,
                                        input logic [3:0] n);
    logic [4:0] t;
    logic [3:0] rr;
    logic [15:0] q;
    rr = r;
    for (int j = 15; j >= 0; j--) begin
      t = {rr, x[j]};
      q[j] = t >= {1'b0, n};
      if (q[j]) t = t - {1'b0, n};
      rr = t[3:0];
    end
    div16 = {rr, q};
  endfunction
  function automatic logic [3:0] popcount(input logic [LEGS-1:0] m);
    popcount = '0;
    for (int i = 0; i < LEGS; i++) popcount = popcount + {3'd0, m[i]};
  endfunction
  // The index of the k-th set bit of m (k < popcount(m)).
  function automatic logic [2:0] kth(input logic [LEGS-1:0] m, input logic [3:0] k);
    logic [3:0] c;
    kth = '0;
    c = '0;
    for (int i = 0; i < LEGS; i++) begin
      if (m[i] && c == k) kth = 3'(i);
      c = c + {3'd0, m[i]};
    end
  endfunction

  typedef enum logic [4:0] {
    ST_IDLE,    // waiting for a whole segment
    ST_SLOT,    // the slot, and the received checksum's sum
    ST_REC,     // the record's conditions, every leg compared at once; the direction
    ST_LEG,     // members': the sending leg: its checks, new right edge, duplicate
    ST_OPEN,    // members': every leg's open window; the first inbound entry read
    ST_WALK,    // members': retiring inbound entries, one a cycle
    ST_EDGE,    // members': the peer's right edge
    ST_FIELD,   // members': the window field for the peer
    ST_SUM,     // members': the sent segment's checksum sum and whether it is sent
    ST_PWALK,   // peer's: retiring outbound entries, one a cycle
    ST_PDIV,    // divider steps for the window share (2)
    ST_PGIVE,   // peer's: the live members' promises
    ST_PKEY,    // peer's: key bytes read (4)
    ST_PHASH,   // peer's: key hash (16)
    ST_PMOD,    // peer's: divider steps for the key hash's redirect (4)
    ST_PPICK,   // peer's: the member of the frame, the frame's conditions
    ST_PFIELD,  // peer's: every member's window field, the pure acks owed
    ST_PSUM,    // peer's: the frame's checksum sum
    ST_COMMIT   // record, rings, counts and valid bit written, once the send before is done
  } state_t;
  state_t state;
  // The send of a decided segment, while the next one is decided.
  typedef enum logic [1:0] {
    E_IDLE,
    E_OUT,     // sending the segment (the frame or the segment given back)
    E_ABUILD,  // peer's: the first pure ack's header, when nothing is sent before it
    E_ABEAT    // peer's: sending it
  } estate_t;
  estate_t estate;

  // Flow records: a register file (SLOTS is small) the decision reads whole.
  logic [3583:0] recs_q[SLOTS];
  logic [SLOTS-1:0] valid_q;
  logic [31:0] taken_od_q[SLOTS], taken_oa_q[SLOTS], taken_id_q[SLOTS], taken_ir_q[SLOTS];
  logic [31:0] taken_ia_q[SLOTS], taken_or_q[SLOTS];
  logic [82:0] ring_mem[SLOTS << RING_LOG2];  // outbound
  logic [82:0] in_mem[SLOTS << RING_LOG2];  // inbound

  assign rec_rdata = recs_q[rec_slot];
  assign rec_valid = valid_q[rec_slot];
  assign rec_taken_out_data = taken_od_q[rec_slot];
  assign rec_taken_out_ack = taken_oa_q[rec_slot];
  assign rec_taken_in_data = taken_id_q[rec_slot];
  assign rec_taken_in_rtx = taken_ir_q[rec_slot];
  assign rec_taken_in_ack = taken_ia_q[rec_slot];
  assign rec_taken_out_rtx = taken_or_q[rec_slot];

  // ---------------------------------------------------------------------------------------------
  // Ingest: the beats into the ring at `wp`, the first 32 bytes into `head_in`, and the
  // one's-complement sums as they arrive: header words (bytes 0..27, which the rewrite replaces)
  // apart from the data words (bytes 28 on, which it keeps), so both checksums need only the head
  // at the end. At the last beat the segment's first beat's address, head, length, addresses and
  // sums go to its entry `wi` (of NSEG), which it holds, with its beats, until it is done.
  logic [63:0] buf_mem[1 << RL];
  logic [RL-1:0] wp, seg0;  // the next beat's address; the incoming segment's first
  logic [RL:0] used;  // beats held
  // The segment coming in, the one deciding (or next to), the one sending (or next to).
  logic [BI-1:0] wi, di, ei;
  logic [BC-1:0] nfull, nund;  // full slots; of them, not yet decided
  logic [CW-1:0] nb;  // beats of the segment coming in (saturates at MAX_BEATS)
  logic full;
  logic ovf;  // a beat beyond MAX_BEATS: the segment is dropped in its turn
  logic acc, drop, fin, decided;
  logic [63:0] beat;  // bytes beyond tkeep zero: the odd byte's zero pad of sum16
  logic [3:0] kcnt;
  logic [16:0] lo_sum, hi_sum;  // words 0-1 and 2-3 of the beat
  logic [19:0] hsum, hsum_d;  // 14 header words
  logic [31:0] dsum, dsum_d;
  logic [255:0] head_in, head_d;  // bytes 0..31
  // Each segment's bytes 0..31, bytes, last beat's tkeep, beats, addresses, sums, dropped.
  logic [255:0] head_m[NSEG];
  logic [15:0] len_m[NSEG];
  logic [7:0] keep_m[NSEG];
  logic [CW-1:0] nb_m[NSEG];
  logic [31:0] src_m[NSEG], dst_m[NSEG], dsum_m[NSEG];
  logic [19:0] hsum_m[NSEG];
  logic [NSEG-1:0] drop_m;
  // The segment di, which the decision sees, and ei, which the send sees.
  logic [255:0] head;
  logic [15:0] len_q;
  logic [31:0] src_q, dst_q, dsum_q;
  logic [RL-1:0] base;  // its first beat in buf_mem
  logic [RL-1:0] start_m[NSEG];
  logic [7:0] e_keep;

  assign in_tready = nfull != BC'(NSEG) && (used != (RL + 1)'(1 << RL) || full);
  assign acc = in_tvalid && in_tready;
  assign full = nb == CW'(MAX_BEATS);
  assign drop = acc && in_tlast && (ovf || full);
  assign head = head_m[di];
  assign len_q = len_m[di];
  assign e_keep = keep_m[ei];
  assign src_q = src_m[di];
  assign dst_q = dst_m[di];
  assign dsum_q = dsum_m[di];
  assign base = start_m[di];

  always_comb begin
    kcnt = '0;
    for (int j = 0; j < 8; j++) begin
      beat[8*j+:8] = in_tkeep[j] ? in_tdata[8*j+:8] : 8'd0;
      kcnt = kcnt + {3'd0, in_tkeep[j]};
    end
    lo_sum = {1'b0, beat[7:0], beat[15:8]} + {1'b0, beat[23:16], beat[31:24]};
    hi_sum = {1'b0, beat[39:32], beat[47:40]} + {1'b0, beat[55:48], beat[63:56]};
    hsum_d = hsum + (nb < CW'(4) ? {3'd0, lo_sum} : 20'd0) + (nb < CW'(3) ? {3'd0, hi_sum} : 20'd0);
    dsum_d = dsum + (nb < CW'(4) ? 32'd0 : {15'd0, lo_sum}) +
        (nb < CW'(3) ? 32'd0 : {15'd0, hi_sum});
    head_d = nb == '0 ? '0 : head_in;
    if (nb < CW'(4)) head_d[{nb[1:0], 6'd0}+:64] = beat;
  end

  always_ff @(posedge clk) begin
    if (acc && !full) buf_mem[wp] <= in_tdata;
    if (acc) head_in <= head_d;
    if (acc && in_tlast) begin
      head_m[wi] <= head_d;
      start_m[wi] <= seg0;
      len_m[wi] <= 16'({nb, 3'd0}) + {12'd0, kcnt};
      keep_m[wi] <= in_tkeep;
      nb_m[wi] <= full ? nb : nb + 1'b1;
      src_m[wi] <= in_src;
      dst_m[wi] <= in_dst;
      hsum_m[wi] <= hsum_d;
      dsum_m[wi] <= dsum_d;
      drop_m[wi] <= ovf || full;
    end
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      wi <= '0;
      di <= '0;
      ei <= '0;
      nfull <= '0;
      nund <= '0;
      wp <= '0;
      seg0 <= '0;
      used <= '0;
      nb <= '0;
      ovf <= 1'b0;
      hsum <= '0;
      dsum <= '0;
    end else begin
      if (acc) begin
        nb <= full ? nb : nb + 1'b1;
        ovf <= ovf || full;
        hsum <= hsum_d;
        dsum <= dsum_d;
        if (in_tlast) begin
          nb <= '0;
          ovf <= 1'b0;
          hsum <= '0;
          dsum <= '0;
          wi <= wi + 1'b1;
          seg0 <= wp + RL'(!full);
        end
      end
      if (decided) di <= di + 1'b1;
      if (fin) ei <= ei + 1'b1;
      if (acc && !full) wp <= wp + 1'b1;
      used <= used + (RL + 1)'(acc && !full) - (fin ? (RL + 1)'(nb_m[ei]) : '0);
      nfull <= nfull + BC'(acc && in_tlast) - BC'(fin);
      nund <= nund + BC'(acc && in_tlast) - BC'(decided);
    end
  end

  // The key-hash key bytes are read through a second port while the first holds the beat to send.
  logic [BW-1:0] key_addr;
  logic [63:0] key_rd;

  always_ff @(posedge clk) key_rd <= buf_mem[base + RL'(key_addr)];

  // ---------------------------------------------------------------------------------------------
  // Decision. Fields of the segment head and of the selected slot's record.
  logic [15:0] sport, dport, window, flen, plen;
  logic [31:0] seq, ack, fseq;
  logic [7:0] fflags;
  logic data;  // a frame (out_data, in_data, in_rtx), else a pure ack (out_ack, in_ack)

  assign sport = be16(head, 0);
  assign dport = be16(head, 2);
  assign seq = be32(head, 4);
  assign ack = be32(head, 8);
  assign window = be16(head, 14);
  assign flen = be16(head, 20);
  assign fflags = head[8*22+:8];
  assign fseq = be32(head, 24);
  assign plen = len_q - 16'd20;  // the frame: segment less the 20-byte header
  assign data = len_q > 16'd20;

  logic [SW-1:0] slot_q;
  logic hit_q;  // a valid slot's flow
  logic peer_q;  // the peer's direction
  logic [3583:0] sel;
  logic [31:0] r_peer_ip, r_vip_ip, r_out_left, r_fseq, r_out_next, r_in_left, r_in_fseq;
  logic [31:0] r_in_next, r_in_ack, r_slack, r_adv_ack, r_out_ack, r_turn;
  logic [15:0] r_peer_port, r_vip_port, r_w, r_idx, r_min, r_in_idx, r_in_frame, r_adv_field;
  logic [15:0] r_out_lidx, r_peer_wnd, r_in_next_idx, r_min_in, r_frame_max, r_key_off;
  logic [3:0] r_vip_shift, r_peer_shift, r_nlegs;
  logic [4:0] r_key_len;
  logic [1:0] r_policy;
  logic r_sum;
  logic [LEGS-1:0] l_fast, l_takes;
  // Leg i's fields at [W*i +: W] (flat vectors: yosys reads no packed arrays of vectors).
  logic [32*LEGS-1:0] l_ip, l_out_next, l_next, l_una, l_edge, l_ack, l_promise, l_sent_ack;
  logic [16*LEGS-1:0] l_port, l_sent_field;
  logic [4*LEGS-1:0] l_shift, l_shift_to;

  assign sel = recs_q[slot_q];
  assign r_peer_ip = sel[R_PEER_IP+:32];
  assign r_peer_port = sel[R_PEER_PORT+:16];
  assign r_vip_ip = sel[R_VIP_IP+:32];
  assign r_vip_port = sel[R_VIP_PORT+:16];
  assign r_w = sel[R_W+:16];
  assign r_out_left = sel[R_OUT_LEFT+:32];
  assign r_fseq = sel[R_FSEQ+:32];
  assign r_idx = sel[R_IDX+:16];
  assign r_out_next = sel[R_OUT_NEXT+:32];
  assign r_min = sel[R_MIN+:16];
  assign r_in_left = sel[R_IN_LEFT+:32];
  assign r_in_idx = sel[R_IN_IDX+:16];
  assign r_in_fseq = sel[R_IN_FSEQ+:32];
  assign r_in_next = sel[R_IN_NEXT+:32];
  assign r_in_ack = sel[R_IN_ACK+:32];
  assign r_vip_shift = sel[R_VIP_SHIFT+:4];
  assign r_adv_ack = sel[R_ADV_ACK+:32];
  assign r_adv_field = sel[R_ADV_FIELD+:16];
  assign r_out_lidx = sel[R_OUT_LIDX+:16];
  assign r_out_ack = sel[R_OUT_ACK+:32];
  assign r_peer_wnd = sel[R_PEER_WND+:16];
  assign r_peer_shift = sel[R_PEER_SHIFT+:4];
  assign r_in_next_idx = sel[R_IN_NEXT_IDX+:16];
  assign r_min_in = sel[R_MIN_IN+:16];
  assign r_frame_max = sel[R_FRAME_MAX+:16];
  assign r_policy = sel[R_POLICY+:2];
  assign r_key_off = sel[R_KEY_OFF+:16];
  assign r_key_len = sel[R_KEY_LEN+:5];
  assign r_turn = sel[R_TURN+:32];
  assign r_nlegs = sel[R_NLEGS+:4];
  // Derived (FlowRecord::in_frame, Policy::offers_sum, FlowRecord::slack).
  assign r_in_frame = r_min_in < r_frame_max ? r_min_in : r_frame_max;
  assign r_sum = r_policy == P_SPEED;
  assign r_slack = r_frame_max == '0 ? '0 : {16'd0, r_frame_max - 16'd1};
  for (genvar i = 0; i < LEGS; i++) begin : g_leg
    assign l_fast[i] = sel[LEG0+LEG_W*i+L_FAST];
    assign l_takes[i] = sel[LEG0+LEG_W*i+L_TAKES];
    assign l_ip[32*i+:32] = sel[LEG0+LEG_W*i+L_IP+:32];
    assign l_port[16*i+:16] = sel[LEG0+LEG_W*i+L_PORT+:16];
    assign l_out_next[32*i+:32] = sel[LEG0+LEG_W*i+L_OUT_NEXT+:32];
    assign l_next[32*i+:32] = sel[LEG0+LEG_W*i+L_NEXT+:32];
    assign l_una[32*i+:32] = sel[LEG0+LEG_W*i+L_UNA+:32];
    assign l_edge[32*i+:32] = sel[LEG0+LEG_W*i+L_EDGE+:32];
    assign l_shift[4*i+:4] = sel[LEG0+LEG_W*i+L_SHIFT+:4];
    assign l_ack[32*i+:32] = sel[LEG0+LEG_W*i+L_ACK+:32];
    assign l_promise[32*i+:32] = sel[LEG0+LEG_W*i+L_PROMISE+:32];
    assign l_sent_ack[32*i+:32] = sel[LEG0+LEG_W*i+L_SENT_ACK+:32];
    assign l_sent_field[16*i+:16] = sel[LEG0+LEG_W*i+L_SENT_FIELD+:16];
    assign l_shift_to[4*i+:4] = sel[LEG0+LEG_W*i+L_SHIFT_TO+:4];
  end

  logic [31:0] in_sum_q;  // pseudo-header (src, dst, 0, 253, length) and every segment word

  // ST_REC: the record's conditions, every leg compared at once, and the sent checksum's words
  // known now (the rest are added by ST_EDGE and ST_SUM). The peer's segment: its form and ack
  // (peer_segment's conditions 1 and 2), and whether it is a duplicate ack (pure, same ack and
  // window, frames in flight), answered to the member of the oldest frame in flight.
  logic rec_ok, rec_ok_q, ring_full, ring_full_q, is_peer, form_ok, peer_ok, pdup, pdup_q;
  logic [LEGS-1:0] lm, lm_q;  // leg is the sender
  logic [19:0] s1_q;

  always_comb begin
    form_ok = len_q >= 16'd20 && head[8*12+4+:4] == 4'd5 && (head[8*13+:8] & 8'h17) == 8'h10 &&
        (!data || (len_q >= 16'd28 && flen == plen)) && fold(in_sum_q) == 16'hffff;
    rec_ok = form_ok && dst_q == r_peer_ip && dport == r_peer_port;
    ring_full = r_fseq - r_out_left >= {16'd0, r_w};
    for (int i = 0; i < LEGS; i++)
      lm[i] = l_fast[i] && l_ip[32*i+:32] == src_q && l_port[16*i+:16] == sport;
    is_peer = hit_q && dst_q == r_vip_ip;
    peer_ok = form_ok && src_q == r_peer_ip && sport == r_peer_port && dport == r_vip_port &&
        seq_le(r_out_ack, ack) && seq_le(ack, r_out_next);
    pdup = !data && ack == r_out_ack && window == r_peer_wnd && r_out_left != r_fseq;
  end

  // ST_LEG: the first leg that is the sender decides; its ack and window taken. A frame not at its
  // next byte is a retransmission, taken when it is the outbound entry at out_left (out_rd, read in
  // ST_REC): the sender's, before its next byte, same member sequence number and length.
  logic [2:0] li, li_q;
  logic ortx_ok;
  logic ortx_q;  // the frame is a retransmission (out_rtx)
  logic [31:0] ope_q;  // its entry's peer sequence number
  logic ok_q;  // taken so far (the retire walk or the frame's checks may still give it back)
  logic [31:0] s_out_next, s_next, s_una, s_edge;  // the sender's leg
  logic [31:0] nedge, nedge_q;  // its new right edge
  logic dup_q;

  always_comb begin
    li = '0;
    for (int i = LEGS - 1; i >= 0; i--) if (lm_q[i]) li = 3'(i);
    s_out_next = l_out_next[32*li+:32];
    s_next = l_next[32*li+:32];
    s_una = l_una[32*li+:32];
    s_edge = l_edge[32*li+:32];
    nedge = ack + ({16'd0, window} << l_shift[4*li+:4]);
  end

  // ST_OPEN: every leg's open window (the sender's with its new edge), and the room they leave
  // (registered in the walk's first cycle: the walk takes at least one).
  logic [32*LEGS-1:0] open_q;
  logic [31:0] room, room_q, open;
  always_comb begin
    room = r_sum || l_takes == '0 ? '0 : '1;
    for (int i = 0; i < LEGS; i++) begin
      open = open_q[32*i+:32];
      if (l_takes[i] && r_sum) room = room + (open > r_slack ? open - r_slack : '0);
      if (l_takes[i] && !r_sum && open < room) room = open;
    end
  end

  // The retire walks, one ring entry a cycle (the entry at cur_idx read the cycle before, the next
  // index read meanwhile). ST_WALK: an inbound entry retires when its member has acked its end (the
  // sender's una being the new ack). ST_PWALK: an outbound entry retires when the peer's ack covers
  // its end, and its member's ack advances to the entry's end. MAX_RETIRE entries retired and one
  // more retirable: given back.
  logic [82:0] in_rd;  // in_mem[{slot_q, in_ra}] of the cycle before
  logic [82:0] out_rd;  // ring_mem[{slot_q, out_ra}] of the cycle before
  logic [RING_LOG2-1:0] in_ra, out_ra;
  logic [31:0] cur_left, cur_ack;
  logic [15:0] cur_idx, nxt_idx;
  logic [3:0] nret;  // entries retired
  logic over_q;  // a retire beyond MAX_RETIRE
  logic [2:0] e_leg, o_leg;
  logic [31:0] e_end, e_una, o_mend, o_pend;
  logic retire, o_retire, walk_end;
  logic [RING_LOG2-1:0] rtx_idx;  // the inbound entry of a retransmitted frame
  logic [16:0] rtx_sum;

  assign e_leg = in_rd[2:0];
  assign e_end = in_rd[34:3] + {16'd0, in_rd[82:67]};
  assign e_una = e_leg == li_q ? ack : l_una[32*e_leg+:32];
  assign retire = cur_left != r_in_fseq && seq_le(e_end, e_una);
  assign o_leg = out_rd[2:0];
  assign o_mend = out_rd[34:3] + {16'd0, out_rd[82:67]};
  assign o_pend = out_rd[66:35] + {16'd0, out_rd[82:67]};
  assign o_retire = cur_left != r_fseq && seq_le(o_pend, ack);
  assign ortx_ok = r_out_left != r_fseq && seq_lt(seq, s_out_next) && out_rd[2:0] == li &&
      out_rd[34:3] == seq && out_rd[82:67] == plen;
  assign walk_end = (state == ST_PWALK ? !o_retire : !retire) || nret == 4'(MAX_RETIRE);
  assign nxt_idx = idx_inc(cur_idx, r_w);
  assign rtx_sum = {1'b0, r_in_idx} + {1'b0, fseq[15:0] - r_in_left[15:0]};
  assign rtx_idx = RING_LOG2'(rtx_sum >= {1'b0, r_w} ? rtx_sum - {1'b0, r_w} : rtx_sum);
  assign in_ra = peer_q ? rtx_idx :
      state == ST_OPEN ? r_in_idx[RING_LOG2-1:0] : nxt_idx[RING_LOG2-1:0];
  assign out_ra = state == ST_REC ? r_out_lidx[RING_LOG2-1:0] : nxt_idx[RING_LOG2-1:0];

  // ST_EDGE: the peer's right edge (next byte plus the room, capped by the free inbound entries);
  // ST_FIELD: the window field; ST_SUM: whether anything is sent, and its checksum's sum.
  logic [31:0] free, cap, pedge_q, pgap;
  logic [15:0] field_q;
  logic [19:0] s2_q;
  logic send_q;
  logic [31:0] out_sum_q;

  always_comb begin
    free = {16'd0, r_w} - (r_in_fseq - cur_left);
    cap = free * {16'd0, r_in_frame};  // u32 arithmetic, as the model
    pgap = gap(cur_ack, pedge_q) >> r_vip_shift;
  end

  // ---------------------------------------------------------------------------------------------
  // The peer's direction after its walk: the peer's right edge, the window free to share and each
  // member's cap (Flow::distribute_peer_window), loaded into the divider in every ST_PWALK cycle
  // and divided by the members taking frames in ST_PDIV.
  logic [LEGS-1:0] live;  // members the ALRM may pick
  logic [3:0] ntakes, nlive;
  logic [31:0] p_edge, promised, free_slots, ring_room, ring_cap, share_num, cap_num;
  logic [32*LEGS-1:0] unused;
  logic [31:0] p_edge_q;
  logic [32*LEGS-1:0] ackw_q;  // members' acks, advanced by the walk
  logic [32*LEGS-1:0] prom_q;  // members' promises after the share

  always_comb begin
    p_edge = ack + ({16'd0, window} << r_peer_shift);
    promised = '0;
    for (int i = 0; i < LEGS; i++) begin
      unused[32*i+:32] = gap(l_out_next[32*i+:32], l_promise[32*i+:32]);
      if (l_takes[i]) promised = promised + unused[32*i+:32];
      live[i] = l_takes[i] && 4'(i) < r_nlegs;
    end
    ntakes = popcount(l_takes);
    nlive = popcount(live);
    free_slots = {16'd0, r_w} - (r_fseq - cur_left);
    ring_room = free_slots * {16'd0, r_min};
    ring_cap = {16'd0, r_w} * {16'd0, r_min};
    share_num = sat_sub(min32(gap(r_out_next, p_edge), ring_room), promised);
    cap_num = min32(gap(ack, p_edge), ring_cap);
  end

  // Divider: two lanes of 64-bit dividends by 1 to 8, sixteen bits a cycle: the window share's
  // 32-bit dividends in 2 steps (loaded as the high half), the key hash in 4. A third lane takes
  // the round-robin turn mod the live members beside the share (turn and members are the
  // record's).
  logic [63:0] dva, dvb;
  logic [31:0] dqa, dqb;  // the quotients' low halves (only the share's are used)
  logic [3:0] dra, drb, dna, dnb;
  logic [31:0] dvc;
  logic [3:0] drc, dnc;
  logic [1:0] dcnt;
  logic [19:0] da_step, db_step, dc_step;
  assign da_step = div16(dra, dva[63:48], dna);
  assign db_step = div16(drb, dvb[63:48], dnb);
  assign dc_step = div16(drc, dvc[31:16], dnc);

  // ST_PGIVE: a live member's promise grows by its share, up to its cap.
  logic [32*LEGS-1:0] prom_d;
  logic [31:0] give, pbase;
  always_comb begin
    prom_d = l_promise;
    for (int i = 0; i < LEGS; i++) begin
      give = min32(dqa, sat_sub(dqb, unused[32*i+:32]));
      pbase = seq_lt(l_promise[32*i+:32], l_out_next[32*i+:32]) ? l_out_next[32*i+:32] :
          l_promise[32*i+:32];
      if (l_takes[i] && give != '0) prom_d[32*i+:32] = pbase + give;
    end
  end

  // ST_PKEY, ST_PHASH: the key-hash key, up to 16 bytes at the key offset in the frame's data
  // (bytes 28 on), and its SipHash-1-3 message (hash::key_hash).
  logic [15:0] dlen, k_start, k_end, k_pos, k_len;
  logic [1:0] kc;  // key beat
  logic [3:0] hc;  // hash wait
  logic [191:0] kw_q;  // three beats, from the one holding the key's first byte
  logic [191:0] k_sh;
  logic [191:0] msg, msg_q;
  logic [63:0] hash;

  always_comb begin
    dlen = plen - 16'd8;
    k_start = r_key_off < dlen ? r_key_off : dlen;
    k_len = r_key_len > 5'd16 ? 16'd16 : {11'd0, r_key_len};
    k_end = k_start + k_len < dlen ? k_start + k_len : dlen;
    k_pos = 16'd28 + k_start;
    key_addr = BW'(k_pos[15:3] + {11'd0, kc});
    k_sh = kw_q >> {k_pos[2:0], 3'd0};
    msg = '0;
    for (int j = 0; j < 16; j++) if (16'(j) < k_end - k_start) msg[8*j+:8] = k_sh[8*j+:8];
    msg[128+:8] = 8'd1;
    msg[136+:8] = 8'(k_end - k_start);
  end

  anypoint_siphash u_hash (
      .clk  (clk),
      .valid(1'b1),
      .k0   (sel[R_KEY+:64]),
      .k1   (sel[R_KEY+64+:64]),
      .msg  (msg_q),
      .hash (hash)
  );

  // ST_PPICK: the frame's member. A retransmission: its inbound entry's, if the entry is the frame's
  // and the member live. A new frame: the peer's next with room in the ring, to the member the ALRM
  // picks (key hash: the hash mod the members, else mod the live ones; round robin: the turn mod
  // the live ones; speed-sensitive: the most open window, lowest index on a tie).
  logic stale, rtx, rtx_ok, new_ok;
  logic [2:0] t_pick, speed_t, t_q;
  logic [31:0] best, og;
  logic rtx_q;
  logic [31:0] mseq_q;

  always_comb begin
    stale = seq_lt(fseq, r_in_left);
    rtx = seq_lt(fseq, r_in_fseq);
    rtx_ok = in_rd[66:35] == seq && in_rd[82:67] == plen && l_takes[in_rd[2:0]];
    new_ok = fseq == r_in_fseq && seq == r_in_next && r_in_fseq - r_in_left < {16'd0, r_w} &&
        nlive != '0;
    speed_t = '0;
    best = '0;
    for (int i = LEGS - 1; i >= 0; i--) begin
      og = gap(l_next[32*i+:32], l_edge[32*i+:32]);
      if (live[i] && og >= best) begin
        speed_t = 3'(i);
        best = og;
      end
    end
    case (r_policy)
      P_KEY: t_pick = live[dra[2:0]] ? dra[2:0] : kth(live, drb);
      P_RR: t_pick = kth(live, drc);
      default: t_pick = speed_t;
    endcase
  end

  // ST_PFIELD: every member's window field (with its new ack and promise), and the pure acks owed.
  logic [16*LEGS-1:0] fld_q;
  // Pure acks owed: bit i (i < LEGS) to member i, in member order, then bit LEGS to the member a
  // duplicate ack is answered to (dli_q: the oldest outbound entry's, read in the walk's first
  // cycle), once more even when it got one in order.
  logic [LEGS:0] pend_q;
  logic [LEGS:0] e_pend;  // the send's acks still owed
  logic [2:0] dli_q, e_dli;
  logic [3:0] ab;  // the next of them: its bit
  logic [2:0] ai;  // and its member
  logic [31:0] ack_t;
  logic [15:0] fld_t;

  assign ack_t = ackw_q[32*t_q+:32];
  assign fld_t = fld_q[16*t_q+:16];
  always_comb begin
    ab = 4'(LEGS);
    for (int i = LEGS - 1; i >= 0; i--) if (e_pend[i]) ab = 4'(i);
    ai = ab == 4'(LEGS) ? e_dli : ab[2:0];
  end

  // ST_COMMIT: the rewritten head, the advanced record and the ring entry.
  logic [255:0] nh, nh_p;
  logic [3583:0] upd, upd_p;

  always_comb begin
    nh = head;  // frame length and flags (bytes 20-22) and data bytes 28-31 kept
    nh[0+:16] = net16(r_vip_port);
    nh[16+:16] = net16(r_peer_port);
    nh[32+:32] = net32(ortx_q ? ope_q : r_out_next);
    nh[64+:32] = net32(cur_ack);
    nh[96+:16] = 16'h1050;  // data offset 5 words, ACK
    nh[112+:16] = net16(field_q);
    nh[128+:16] = net16(~fold(out_sum_q));
    nh[144+:16] = '0;  // urgent
    nh[184+:8] = '0;
    nh[192+:32] = net32(ortx_q ? r_out_left : r_fseq);

    nh_p = head;  // the frame (bytes 20 on) kept
    nh_p[16+:16] = net16(l_port[16*t_q+:16]);
    nh_p[32+:32] = net32(mseq_q);
    nh_p[64+:32] = net32(ack_t);
    nh_p[96+:16] = 16'h1050;
    nh_p[112+:16] = net16(fld_t);
    nh_p[128+:16] = net16(~fold(out_sum_q));
    nh_p[144+:16] = '0;

    upd = sel;
    upd[LEG0+LEG_W*li_q+L_UNA+:32] = ack;
    upd[LEG0+LEG_W*li_q+L_EDGE+:32] = nedge_q;
    upd[R_IN_LEFT+:32] = cur_left;
    upd[R_IN_IDX+:16] = cur_idx;
    upd[R_IN_ACK+:32] = cur_ack;
    if (send_q) begin
      upd[R_ADV_ACK+:32] = cur_ack;
      upd[R_ADV_EDGE+:32] = cur_ack + ({16'd0, field_q} << r_vip_shift);
      upd[R_ADV_FIELD+:16] = field_q;
    end
    if (data && !ortx_q) begin
      upd[R_OUT_NEXT+:32] = r_out_next + {16'd0, plen};
      upd[R_FSEQ+:32] = r_fseq + 32'd1;
      upd[R_IDX+:16] = idx_inc(r_idx, r_w);
      upd[LEG0+LEG_W*li_q+L_OUT_NEXT+:32] = seq + {16'd0, plen};
    end
    if (data && plen < r_min) upd[R_MIN+:16] = plen;

    upd_p = sel;
    upd_p[R_OUT_LEFT+:32] = cur_left;
    upd_p[R_OUT_LIDX+:16] = cur_idx;
    upd_p[R_OUT_ACK+:32] = ack;
    upd_p[R_PEER_EDGE+:32] = p_edge_q;
    upd_p[R_PEER_WND+:16] = window;
    for (int i = 0; i < LEGS; i++) begin
      upd_p[LEG0+LEG_W*i+L_ACK+:32] = ackw_q[32*i+:32];
      upd_p[LEG0+LEG_W*i+L_PROMISE+:32] = prom_q[32*i+:32];
      if (pend_q[i] || (data && t_q == 3'(i))) begin
        upd_p[LEG0+LEG_W*i+L_SENT_ACK+:32] = ackw_q[32*i+:32];
        upd_p[LEG0+LEG_W*i+L_SENT_FIELD+:16] = fld_q[16*i+:16];
      end
    end
    if (data) begin
      if (plen < r_min_in) upd_p[R_MIN_IN+:16] = plen;
      if (!rtx_q) begin
        upd_p[LEG0+LEG_W*t_q+L_NEXT+:32] = mseq_q + {16'd0, plen};
        upd_p[R_IN_NEXT+:32] = r_in_next + {16'd0, plen};
        upd_p[R_IN_FSEQ+:32] = r_in_fseq + 32'd1;
        upd_p[R_IN_NEXT_IDX+:16] = idx_inc(r_in_next_idx, r_w);
        if (r_policy == P_RR) upd_p[R_TURN+:32] = r_turn + 32'd1;
      end
    end
  end

  // What a decided segment sends, kept in its entry until the send reaches it (later
  // segments are decided and committed meanwhile): whether the segment or its rewrite goes out, its
  // bytes 0..31 when rewritten, its addresses, the members owed a pure ack and what those acks
  // carry (each member's next sequence number, ack and window field as the commit left them; the
  // addresses from its record, which only the host changes, while the engine is idle).
  logic [NSEG-1:0] out_m, punt_m;
  logic [255:0] nhead_m[NSEG];
  logic [31:0] osrc_m[NSEG], odst_m[NSEG];
  logic [LEGS:0] pend_m[NSEG];
  logic [2:0] dli_m[NSEG];
  logic [SW-1:0] erec_m[NSEG];
  logic [32*LEGS-1:0] enext_m[NSEG], eack_m[NSEG];
  logic [16*LEGS-1:0] efld_m[NSEG];

  // A pure ack to member ai, built in E_ABUILD when the segment sends nothing before it, else as
  // the last beat before it leaves (next_ack), and sent as three beats (E_ABEAT).
  logic [159:0] ah;
  logic [1:0] abeat;
  logic [31:0] a_ack, a_next, a_ip, a_src, a_dst, e_peer_ip;
  logic [15:0] a_port, a_fld, e_peer_port;
  logic [SW-1:0] er;  // the record of the segment sending
  always_comb begin
    er = erec_m[ei];
    e_peer_ip = recs_q[er][R_PEER_IP+:32];
    e_peer_port = recs_q[er][R_PEER_PORT+:16];
    a_ack = eack_m[ei][32*ai+:32];
    a_next = enext_m[ei][32*ai+:32];
    a_fld = efld_m[ei][16*ai+:16];
    a_ip = recs_q[er][LEG0+LEG_W*ai+L_IP+:32];
    a_port = recs_q[er][LEG0+LEG_W*ai+L_PORT+:16];
  end

  // gone: a dropped segment decided; start, next_ack: see the send.
  logic take, commit, gone, start, next_ack;
  logic [LEGS:0] e_pend_d;
  assign take = ok_q && !over_q;
  assign commit = state == ST_COMMIT;

  // ST_SLOT: the first valid slot of the segment's flow (same_flow; a segment under 4 bytes has
  // no ports and matches none), and the received checksum's sum. Back to back this is done for the
  // next segment in the cycle the one before it commits (`chain`), with that commit's giving back
  // seen (valid_n), so the next decision starts at ST_REC.
  logic chain;
  logic [BI-1:0] si;  // the segment matched: di, or the next while di commits
  logic [SLOTS-1:0] valid_n;  // valid_q after this cycle's commit
  logic [255:0] s_head;
  logic [15:0] s_len;
  logic [31:0] s_src, s_dst;
  logic [SW-1:0] slot_d;
  logic hit_d;
  assign chain = commit && nund >= BC'(2) && !drop_m[di+1'b1];
  assign si = di + BI'(commit);
  assign s_head = head_m[si];
  assign s_len = len_m[si];
  assign s_src = src_m[si];
  assign s_dst = dst_m[si];

  always_comb begin
    valid_n = valid_q;
    if (commit && !take && hit_q) valid_n[slot_q] = 1'b0;
    slot_d = '0;
    hit_d = 1'b0;
    for (int s = SLOTS - 1; s >= 0; s--) begin
      if (valid_n[s] && s_len >= 16'd4 &&
          ((s_dst == recs_q[s][R_PEER_IP+:32] && be16(s_head, 2) == recs_q[s][R_PEER_PORT+:16]) ||
           (s_src == recs_q[s][R_PEER_IP+:32] && be16(s_head, 0) == recs_q[s][R_PEER_PORT+:16])))
      begin
        slot_d = SW'(s);
        hit_d = 1'b1;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (state == ST_SLOT || chain) begin
      slot_q <= slot_d;
      hit_q <= hit_d;
      in_sum_q <= dsum_m[si] + {12'd0, hsum_m[si]} + {12'd0, halves(s_src)} +
          {12'd0, halves(s_dst)} + 32'd253 + {16'd0, s_len};
    end
    case (state)
      ST_REC: begin
        rec_ok_q <= rec_ok;
        ring_full_q <= ring_full;
        lm_q <= lm;
        s1_q <= halves(r_vip_ip) + halves(r_peer_ip) + 20'd253 + {4'd0, len_q} +
            {4'd0, r_vip_port} + {4'd0, r_peer_port} + 20'h05010;
        ortx_q <= 1'b0;
        peer_q <= is_peer;
        ok_q <= peer_ok;  // the members' direction sets it in ST_LEG
        pdup_q <= pdup;
        pend_q <= '0;
        cur_left <= is_peer ? r_out_left : r_in_left;
        cur_idx <= is_peer ? r_out_lidx : r_in_idx;
        cur_ack <= r_in_ack;
        ackw_q <= l_ack;
        nret <= '0;
        over_q <= 1'b0;
      end
      ST_LEG: begin
        li_q <= li;
        ok_q <= hit_q && rec_ok_q && |lm_q && !seq_lt(ack, s_una) && !seq_lt(s_next, ack) &&
            (!data || (seq == s_out_next ? !ring_full_q : ortx_ok));
        ortx_q <= data && seq != s_out_next;
        ope_q <= out_rd[66:35];
        nedge_q <= nedge;
        dup_q <= !data && !seq_lt(s_una, ack) && nedge == s_edge;
      end
      ST_OPEN: begin
        for (int i = 0; i < LEGS; i++)
          open_q[32*i+:32] <= gap(l_next[32*i+:32], li_q == 3'(i) ? nedge_q : l_edge[32*i+:32]);
      end
      ST_WALK: begin
        if (nret == '0) room_q <= room;
        if (retire && nret == 4'(MAX_RETIRE)) over_q <= 1'b1;
        else if (retire) begin
          nret <= nret + 4'd1;
          cur_left <= cur_left + 32'd1;
          cur_idx <= nxt_idx;
          cur_ack <= in_rd[66:35] + {16'd0, in_rd[82:67]};
        end
      end
      ST_PWALK: begin
        // A duplicate retires nothing: the first cycle reads the oldest entry, whose member must
        // take frames (a removed one's frame is null-filled by the host).
        if (nret == '0) begin
          dli_q <= o_leg;
          if (pdup_q && !l_takes[o_leg]) ok_q <= 1'b0;
        end
        // The share's dividends, from this cycle's oldest entry: final in the walk's last cycle.
        p_edge_q <= p_edge;
        dva <= {share_num, 32'd0};
        dvb <= {cap_num, 32'd0};
        dna <= ntakes;
        dnb <= ntakes;
        if (o_retire && nret == 4'(MAX_RETIRE)) over_q <= 1'b1;
        else if (o_retire) begin
          nret <= nret + 4'd1;
          cur_left <= cur_left + 32'd1;
          cur_idx <= nxt_idx;
          for (int i = 0; i < LEGS; i++)
            if (o_leg == 3'(i) && seq_lt(ackw_q[32*i+:32], o_mend)) ackw_q[32*i+:32] <= o_mend;
        end
      end
      ST_PGIVE: prom_q <= ntakes == '0 ? l_promise : prom_d;
      ST_PKEY: if (kc != '0) kw_q <= {key_rd, kw_q[191:64]};
      ST_PHASH: begin
        if (hc == '0) msg_q <= msg;
        dva <= hash;
        dvb <= {32'd0, hash[63:32]};
        dna <= r_nlegs;
        dnb <= nlive;
      end
      ST_PPICK: begin
        t_q <= rtx ? in_rd[2:0] : t_pick;
        mseq_q <= rtx ? in_rd[34:3] : l_next[32*t_pick+:32];
        rtx_q <= rtx;
        if (data && (stale || (rtx ? !rtx_ok : !new_ok))) ok_q <= 1'b0;
      end
      ST_PFIELD: begin
        pend_q[LEGS] <= pdup_q;
        for (int i = 0; i < LEGS; i++) begin
          fld_q[16*i+:16] <= wfield(ackw_q[32*i+:32], prom_q[32*i+:32], l_shift_to[4*i+:4]);
          pend_q[i] <= l_takes[i] && !(data && t_q == 3'(i)) &&
              (l_sent_ack[32*i+:32] != ackw_q[32*i+:32] ||
               l_sent_field[16*i+:16] !=
               wfield(ackw_q[32*i+:32], prom_q[32*i+:32], l_shift_to[4*i+:4]));
        end
      end
      ST_PSUM: begin
        send_q <= data;
        out_sum_q <= dsum_q + {12'd0, halves(r_peer_ip)} + {12'd0, halves(l_ip[32*t_q+:32])} +
            32'd253 + {16'd0, len_q} + {16'd0, r_peer_port} + {16'd0, l_port[16*t_q+:16]} +
            {12'd0, halves(mseq_q)} + {12'd0, halves(ack_t)} + 32'h5010 + {16'd0, fld_t} +
            {16'd0, flen} + {16'd0, be16(head, 22)} + {12'd0, halves(fseq)};
      end
      ST_EDGE: begin
        pedge_q <= r_in_next + (room_q < cap ? room_q : cap);
        s2_q <= halves(cur_ack) + halves(ortx_q ? ope_q : r_out_next) +
            (data ? {4'd0, flen} + {4'd0, fflags, 8'd0} + halves(ortx_q ? r_out_left : r_fseq) :
            20'd0);
      end
      ST_FIELD: field_q <= pgap > 32'hffff ? 16'hffff : pgap[15:0];
      ST_SUM: begin
        send_q <= data || cur_ack != r_adv_ack || field_q != r_adv_field ||
            (dup_q && cur_left != r_in_fseq);
        out_sum_q <= dsum_q + {12'd0, s1_q} + {12'd0, s2_q} + {16'd0, field_q};
      end
      ST_COMMIT: begin
        out_m[di] <= !take || send_q;
        punt_m[di] <= !take;
        nhead_m[di] <= peer_q ? nh_p : nh;
        osrc_m[di] <= !take ? src_q : peer_q ? r_peer_ip : r_vip_ip;
        odst_m[di] <= !take ? dst_q : peer_q ? l_ip[32*t_q+:32] : r_peer_ip;
        pend_m[di] <= take ? pend_q : '0;
        dli_m[di] <= dli_q;
        erec_m[di] <= slot_q;
        eack_m[di] <= ackw_q;
        efld_m[di] <= fld_q;
        for (int i = 0; i < LEGS; i++) enext_m[di][32*i+:32] <= upd_p[LEG0+LEG_W*i+L_NEXT+:32];
      end
      default: ;
    endcase
    if (estate == E_ABUILD || next_ack) begin
      ah[0+:16] <= net16(e_peer_port);
      ah[16+:16] <= net16(a_port);
      ah[32+:32] <= net32(a_next);
      ah[64+:32] <= net32(a_ack);
      ah[96+:16] <= 16'h1050;
      ah[112+:16] <= net16(a_fld);
      ah[128+:16] <= net16(~fold({12'd0, halves(e_peer_ip)} + {12'd0, halves(a_ip)} +
          32'd253 + 32'd20 + {16'd0, e_peer_port} + {16'd0, a_port} + {12'd0, halves(a_next)} +
          {12'd0, halves(a_ack)} + 32'h5010 + {16'd0, a_fld}));
      ah[144+:16] <= '0;
      a_src <= e_peer_ip;
      a_dst <= a_ip;
      e_pend[ab] <= 1'b0;
    end
    if (gone) begin  // sends nothing
      out_m[di] <= 1'b0;
      pend_m[di] <= '0;
    end
    if (start) begin
      e_pend <= e_pend_d;
      e_dli <= s_now ? dli_q : dli_m[sx];
    end
  end

  always_ff @(posedge clk) begin
    if (state == ST_PDIV || state == ST_PMOD) begin
      dra <= da_step[19:16];
      drb <= db_step[19:16];
      dqa <= {dqa[15:0], da_step[15:0]};
      dqb <= {dqb[15:0], db_step[15:0]};
      dva <= {dva[47:0], 16'd0};
      dvb <= {dvb[47:0], 16'd0};
    end
    if (state == ST_PWALK) begin
      dvc <= r_turn;
      drc <= '0;
      dnc <= nlive;
    end else if (state == ST_PDIV) begin
      drc <= dc_step[19:16];
      dvc <= {dvc[15:0], 16'd0};
    end
    if (state != ST_PDIV && state != ST_PMOD) begin
      dra <= '0;
      drb <= '0;
    end
  end

  always_ff @(posedge clk) begin
    if (commit && take) recs_q[slot_q] <= peer_q ? upd_p : upd;
    if (rec_load) recs_q[rec_slot] <= rec_wdata;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      valid_q <= '0;
      for (int s = 0; s < SLOTS; s++) begin
        taken_od_q[s] <= '0;
        taken_oa_q[s] <= '0;
        taken_id_q[s] <= '0;
        taken_ir_q[s] <= '0;
        taken_ia_q[s] <= '0;
        taken_or_q[s] <= '0;
      end
    end else begin
      if (commit && take) begin
        if (!peer_q && data && !ortx_q) taken_od_q[slot_q] <= taken_od_q[slot_q] + 32'd1;
        if (!peer_q && data && ortx_q) taken_or_q[slot_q] <= taken_or_q[slot_q] + 32'd1;
        if (!peer_q && !data) taken_oa_q[slot_q] <= taken_oa_q[slot_q] + 32'd1;
        if (peer_q && data && !rtx_q) taken_id_q[slot_q] <= taken_id_q[slot_q] + 32'd1;
        if (peer_q && data && rtx_q) taken_ir_q[slot_q] <= taken_ir_q[slot_q] + 32'd1;
        if (peer_q && !data) taken_ia_q[slot_q] <= taken_ia_q[slot_q] + 32'd1;
      end
      valid_q <= valid_n;  // a slot given back made invalid
      if (rec_load) begin
        valid_q[rec_slot] <= 1'b1;
        taken_od_q[rec_slot] <= '0;
        taken_oa_q[rec_slot] <= '0;
        taken_id_q[rec_slot] <= '0;
        taken_ir_q[rec_slot] <= '0;
        taken_ia_q[rec_slot] <= '0;
        taken_or_q[rec_slot] <= '0;
      end
      if (rec_unload) valid_q[rec_slot] <= 1'b0;
    end
  end

  // The rings: the host's writes while idle, the engine's at commit (outbound {len, peer_seq,
  // member_seq, leg} at out_idx for a member's new frame; inbound at in_next_idx for a new peer
  // frame).
  logic out_we, in_we;
  logic [SW+RING_LOG2-1:0] out_wa, in_wa;
  logic [82:0] out_wd, in_wd;
  always_comb begin
    out_we = ring_wr && ring_wr_out;
    out_wa = {ring_wr_slot, ring_wr_idx};
    out_wd = ring_wr_data;
    if (commit && take && data && !peer_q && !ortx_q) begin
      out_we = 1'b1;
      out_wa = {slot_q, r_idx[RING_LOG2-1:0]};
      out_wd = {plen, r_out_next, seq, li_q};
    end
    in_we = ring_wr && !ring_wr_out;
    in_wa = {ring_wr_slot, ring_wr_idx};
    in_wd = ring_wr_data;
    if (commit && take && data && peer_q && !rtx_q) begin
      in_we = 1'b1;
      in_wa = {slot_q, r_in_next_idx[RING_LOG2-1:0]};
      in_wd = {plen, seq, mseq_q, t_q};
    end
  end

  always_ff @(posedge clk) begin
    if (out_we) ring_mem[out_wa] <= out_wd;
    if (in_we) in_mem[in_wa] <= in_wd;
    out_rd <= ring_mem[{slot_q, out_ra}];
    in_rd <= in_mem[{slot_q, in_ra}];
    ring_rdata <= ring_out ? ring_mem[{ring_slot, ring_idx}] : in_mem[{ring_slot, ring_idx}];
  end

  // ---------------------------------------------------------------------------------------------
  // Send, in input order, each decided segment (entry `ei`) from the ring while later ones are
  // decided: the buffer read into ram_q a beat ahead, a rewritten segment's first 4 beats from its
  // new head instead, then its pure acks from `ah`. A segment committed now starts at once when the
  // send is idle and it is next (s_now: the send reads what the commit writes from the next cycle
  // on). Taken silently or dropped, a segment is done in its turn, sending nothing. As a segment's
  // last beat leaves, the next one, decided, starts in the same cycle when it sends something
  // (handover), so back to back the send leaves no cycle between segments.
  logic [CW-1:0] rd_ptr, lp;  // lp: the beat to load, of segment sx
  logic [BI-1:0] sx;  // the segment the send may start: ei, or the next as ei's last beat leaves
  logic q_valid, q_head, q_last, pop, apop, load, alast, done, quiet, s_now, e_out, handover;
  logic [1:0] q_beat;
  logic [63:0] ram_q;

  assign s_now = decided && di == ei;
  assign sx = ei + BI'(done);
  assign lp = done ? '0 : rd_ptr;
  assign handover = done && nfull - nund >= BC'(2) && (out_m[sx] || pend_m[sx] != '0);
  assign start = (estate == E_IDLE && (nfull != nund || s_now)) || handover;
  assign e_out = s_now ? commit && (!take || send_q) : out_m[sx];
  assign e_pend_d = s_now ? (commit && take ? pend_q : '0) : pend_m[sx];
  assign quiet = start && !e_out && e_pend_d == '0;
  assign pop = estate == E_OUT && q_valid && out_tready;
  assign apop = estate == E_ABEAT && out_tready;
  assign alast = abeat == 2'd2;
  assign load = ((estate == E_OUT && !done) || (start && e_out)) && lp != nb_m[sx] &&
      (!q_valid || pop);
  assign out_tvalid = (estate == E_OUT && q_valid) || estate == E_ABEAT;
  assign out_tdata = estate == E_ABEAT ?
      (alast ? {32'd0, ah[128+:32]} : abeat[0] ? ah[64+:64] : ah[0+:64]) :
      (!punt_m[ei] && q_head) ? nhead_m[ei][{q_beat, 6'd0}+:64] : ram_q;
  assign out_tkeep = estate == E_ABEAT ? (alast ? 8'h0f : 8'hff) : q_last ? e_keep : 8'hff;
  assign out_tlast = estate == E_ABEAT ? alast : q_last;
  assign out_len = estate == E_ABEAT ? 16'd20 : len_m[ei];
  assign out_src = estate == E_ABEAT ? a_src : osrc_m[ei];
  assign out_dst = estate == E_ABEAT ? a_dst : odst_m[ei];
  assign out_punt = estate != E_ABEAT && punt_m[ei];
  // The segment's last out: the frame or given-back segment with no ack after it, or the last ack.
  assign done = ((pop && q_last) || (apop && alast)) && e_pend == '0;
  assign next_ack = ((pop && q_last) || (apop && alast)) && e_pend != '0;
  assign gone = state == ST_IDLE && nund != '0 && drop_m[di];
  assign decided = commit || gone;
  assign fin = done || quiet;
  assign seg_done = fin;
  assign idle = state == ST_IDLE && estate == E_IDLE && nfull == '0 && nb == '0;

  always_ff @(posedge clk) begin
    if (load) begin
      ram_q <= buf_mem[start_m[sx] + RL'(lp[BW-1:0])];
      q_head <= lp < CW'(4);
      q_beat <= lp[1:0];
      q_last <= lp + 1'b1 == nb_m[sx];
    end
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      estate <= E_IDLE;
      rd_ptr <= '0;
      q_valid <= 1'b0;
    end else begin
      if (fin) rd_ptr <= '0;
      if (load) begin
        rd_ptr <= lp + 1'b1;
        q_valid <= 1'b1;
      end else if (pop) begin
        q_valid <= 1'b0;
      end
      case (estate)
        E_IDLE: begin
          // The segment given back or its rewrite (then any pure acks); pure acks only.
          if (start && (e_out || e_pend_d != '0)) estate <= e_out ? E_OUT : E_ABUILD;
        end
        E_OUT: begin
          abeat <= '0;
          if (pop && q_last)
            estate <= e_pend != '0 ? E_ABEAT : !handover ? E_IDLE : e_out ? E_OUT : E_ABUILD;
        end
        E_ABUILD: begin
          estate <= E_ABEAT;
          abeat <= '0;
        end
        default: begin  // E_ABEAT
          if (apop) begin
            abeat <= alast ? '0 : abeat + 2'd1;
            if (done) estate <= !handover ? E_IDLE : e_out ? E_OUT : E_ABUILD;
          end
        end
      endcase
    end
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      state <= ST_IDLE;
    end else begin
      case (state)
        ST_IDLE: begin
          // The oldest undecided segment, or the one whose last beat comes in now when none is.
          if ((nund != '0 && !drop_m[di]) || (nund == '0 && acc && in_tlast && !drop))
            state <= ST_SLOT;
        end
        ST_SLOT: state <= ST_REC;
        ST_REC: state <= is_peer ? ST_PWALK : ST_LEG;
        ST_LEG: state <= ST_OPEN;
        ST_OPEN: state <= ST_WALK;
        ST_WALK: if (walk_end) state <= ST_EDGE;
        ST_EDGE: state <= ST_FIELD;
        ST_FIELD: state <= ST_SUM;
        ST_SUM: state <= ST_COMMIT;
        ST_PWALK: begin
          dcnt <= '0;
          if (walk_end) state <= ST_PDIV;
        end
        ST_PDIV: begin
          dcnt <= dcnt + 2'd1;
          if (dcnt == 2'd1) state <= ST_PGIVE;
        end
        ST_PGIVE: begin
          // A new frame is redirected; a retransmission (or a stale frame) needs no ALRM.
          kc <= '0;
          hc <= '0;
          dcnt <= '0;
          state <= !data ? ST_PFIELD : !seq_lt(fseq, r_in_fseq) && r_policy == P_KEY ? ST_PKEY :
              ST_PPICK;
        end
        ST_PKEY: begin
          kc <= kc + 2'd1;
          if (kc == 2'd3) state <= ST_PHASH;
        end
        ST_PHASH: begin
          hc <= hc + 4'd1;
          if (hc == 4'd15) state <= ST_PMOD;
        end
        ST_PMOD: begin
          dcnt <= dcnt + 2'd1;
          if (dcnt == 2'd3) state <= ST_PPICK;
        end
        ST_PPICK: state <= ST_PFIELD;
        ST_PFIELD: state <= ST_PSUM;
        ST_PSUM: state <= ST_COMMIT;
        default: state <= chain ? ST_REC : ST_IDLE;  // ST_COMMIT
      endcase
    end
  end
endmodule
`default_nettype wire
