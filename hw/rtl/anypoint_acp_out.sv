`default_nettype none
// anypoint_acp_out: the device's fast path for ACP member segments, a member's ack or window
// update (`out_ack`) and its next frame (`out_data`) (docs/frame-switching.md section 9a).
// Bit-exact with the model's frame_switch::fast `member_segment` and `SpecEngine`: same decision,
// output bytes, record updates, ring entry and taken counts.
//
// A segment (the IP payload of a protocol-253 packet) is taken when the first valid slot whose
// flow it is (either direction: destination or source is the slot's peer address and port) holds
// a record under which it comes from a fast member with an ack the member may send and, for a
// frame, is that member's next frame with room in the outbound ring. The member's ack and window
// are taken, the inbound ring entries every member has acked are retired oldest first (at most
// MAX_RETIRE), and the peer's window field recomputed. A frame then goes to the peer from the VIP,
// renumbered, with the ack and window owed, and an outbound ring entry is written; a pure ack sends
// the peer a pure ack only when its ack or window changed or it is a duplicate with peer data in
// flight, and otherwise nothing. Any other segment of a slot's flow is given back to the host
// unchanged (out_punt = 1) and the slot made invalid so the flow's later segments follow it to the
// host in order; a segment of no valid slot's flow is given back alone.
//
// One segment at a time: the segment is stored whole, since a segment given back must leave
// unchanged, while its 16-bit one's-complement sums are taken beat by beat. After the last beat
// the decision takes 4 cycles (slot; record compares; leg; leg windows), then the retire walk one
// inbound ring entry a cycle (1 to MAX_RETIRE + 1 cycles: it reads one entry beyond the last it
// retires, or finds the ring empty), then 4 cycles (peer's right edge; window field; output sum;
// commit), then the segment is sent from the buffer. in_tready is low from the cycle after the last
// beat in until seg_done: a segment of N beats and k retired entries occupies the module
// N + 9 + k + N cycles when out_tready stays high (N + 9 + k when it sends nothing).
//
// A segment of more than MAX_BEATS beats cannot be stored, so it cannot be given back either: it
// is dropped whole and counted nowhere (seg_done with its last beat; 1152 beats hold the segment of
// any IP packet up to 9236 bytes).
//
// Record (FlowRecord, 3584 bits; numbers as numbers, IPv4 a.b.c.d as {a,b,c,d}): [31:0] peer_ip,
// [47:32] peer_port, [79:48] vip_ip, [95:80] vip_port, [111:96] w, [143:112] out_left,
// [175:144] out_next_fseq, [191:176] out_idx, [223:192] out_next, [239:224] min_out_frame,
// [271:240] in_left, [287:272] in_idx, [319:288] in_next_fseq, [351:320] in_next, [383:352] in_ack,
// [399:384] in_frame, [400] offers_sum, [432:401] slack (these three derived by the host from
// min_in_frame, frame_max and policy), [436:433] vip_shift, [468:437] adv_ack, [500:469] adv_edge,
// [516:501] adv_field, [532:517] out_lidx, [564:533] out_ack, [596:565] peer_edge,
// [612:597] peer_wnd_field, [616:613] peer_shift, [632:617] in_next_idx, [648:633] min_in_frame,
// [664:649] frame_max, [666:665] policy (0 key hash, 1 round robin, 2 speed-sensitive),
// [682:667] key_offset, [687:683] key_len, [719:688] turn, [723:720] nlegs, [767:724] zero,
// [895:768] hash key (HashKey words 0..3, word i at 768 + 32 i), [1023:896] zero; leg i (0..7) at
// 1024 + 320 i: [0] fast, [1] takes, [33:2] member_ip, [49:34] member_port, [81:50] out_next,
// [113:82] next, [145:114] una, [177:146] edge, [181:178] shift_from, [213:182] ack,
// [245:214] promise, [277:246] sent_ack, [293:278] sent_field, [297:294] shift_to, [319:298] zero.
// Ring entry (RingEntry, 83 bits, both
// rings): [2:0] leg, [34:3] member_seq, [66:35] peer_seq, [82:67] len.
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
    // Segment out, rewritten (out_punt = 0) or given back (out_punt = 1); the addresses and
    // out_punt held while out_tvalid.
    output logic [63:0] out_tdata,
    output logic [7:0] out_tkeep,
    output logic out_tvalid,
    input logic out_tready,
    output logic out_tlast,
    output logic [31:0] out_src,
    output logic [31:0] out_dst,
    output logic out_punt,
    // The engine is done with a segment: its last beat out accepted, or its decision committed
    // when it sends nothing (or its last beat in when it is dropped).
    output logic seg_done,
    // Host, while no segment is in the engine: rec_load writes slot rec_slot (valid, taken counts
    // 0), rec_unload makes it invalid; rec_rdata/rec_valid/rec_taken_* show slot rec_slot.
    input logic rec_load,
    input logic rec_unload,
    input logic [$clog2(SLOTS)-1:0] rec_slot,
    input logic [3583:0] rec_wdata,
    output logic [3583:0] rec_rdata,
    output logic rec_valid,
    output logic [31:0] rec_taken_data,
    output logic [31:0] rec_taken_ack,
    // Outbound ring entry ring_idx of slot ring_slot, one cycle after.
    input logic [$clog2(SLOTS)-1:0] ring_slot,
    input logic [RING_LOG2-1:0] ring_idx,
    output logic [82:0] ring_rdata,
    // Host, while no segment is in the engine: inbound ring entry in_wr_idx of slot in_wr_slot.
    input logic in_wr,
    input logic [$clog2(SLOTS)-1:0] in_wr_slot,
    input logic [RING_LOG2-1:0] in_wr_idx,
    input logic [82:0] in_wr_data
);
  localparam int SW = $clog2(SLOTS);
  localparam int BW = $clog2(MAX_BEATS);  // buffer address
  localparam int CW = $clog2(MAX_BEATS + 1);  // beat count
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
  localparam int R_IN_ACK = 352, R_IN_FRAME = 384, R_SUM = 400, R_SLACK = 401;
  localparam int R_VIP_SHIFT = 433, R_ADV_ACK = 437, R_ADV_EDGE = 469, R_ADV_FIELD = 501;
  // Leg i (FastLeg) at LEG0 + LEG_W * i.
  localparam int LEG0 = 1024, LEG_W = 320;
  localparam int L_FAST = 0, L_TAKES = 1, L_IP = 2, L_PORT = 34, L_OUT_NEXT = 50, L_NEXT = 82;
  localparam int L_UNA = 114, L_EDGE = 146, L_SHIFT = 178;

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
  function automatic logic [31:0] gap(input logic [31:0] a, input logic [31:0] b);
    gap = seq_lt(a, b) ? b - a : '0;
  endfunction
  // A ring index plus one, wrapping at w.
  function automatic logic [15:0] idx_inc(input logic [15:0] i, input logic [15:0] w);
    idx_inc = i + 16'd1 == w ? '0 : i + 16'd1;
  endfunction
  // The 32-bit halves of a word, as one's-complement sum terms.
  function automatic logic [19:0] halves(input logic [31:0] v);
    halves = {4'd0, v[31:16]} + {4'd0, v[15:0]};
  endfunction

  typedef enum logic [3:0] {
    ST_IN,      // taking a segment's beats
    ST_SLOT,    // the slot, and the received checksum's sum
    ST_REC,     // the record's conditions, every leg compared at once
    ST_LEG,     // the sending leg: its checks, new right edge, duplicate
    ST_OPEN,    // every leg's open window; the first inbound entry read
    ST_WALK,    // retiring inbound entries, one a cycle
    ST_EDGE,    // the peer's right edge
    ST_FIELD,   // the window field for the peer
    ST_SUM,     // the sent segment's checksum sum and whether it is sent
    ST_COMMIT,  // record, rings, counts and valid bit written
    ST_OUT      // sending
  } state_t;
  state_t state;

  // Flow records: a register file (SLOTS is small) the decision reads whole.
  logic [3583:0] recs_q[SLOTS];
  logic [SLOTS-1:0] valid_q;
  logic [31:0] taken_data_q[SLOTS], taken_ack_q[SLOTS];
  logic [82:0] ring_mem[SLOTS << RING_LOG2];  // outbound, written by the engine
  logic [82:0] in_mem[SLOTS << RING_LOG2];  // inbound, written by the host

  assign rec_rdata = recs_q[rec_slot];
  assign rec_valid = valid_q[rec_slot];
  assign rec_taken_data = taken_data_q[rec_slot];
  assign rec_taken_ack = taken_ack_q[rec_slot];

  // ---------------------------------------------------------------------------------------------
  // Ingest: the beats into the buffer, the first 32 bytes into `head`, and the one's-complement
  // sums as they arrive: header words (bytes 0..27, which the rewrite replaces) apart from the
  // data words (bytes 28 on, which it keeps), so both checksums need only the head at the end.
  logic [63:0] buf_mem[MAX_BEATS];
  logic [CW-1:0] nb;  // beats stored (saturates at MAX_BEATS)
  logic full;
  logic ovf;  // a beat beyond MAX_BEATS: the segment is dropped at its last beat
  logic acc, drop;
  logic [63:0] beat;  // bytes beyond tkeep zero: the odd byte's zero pad of sum16
  logic [3:0] kcnt;
  logic [16:0] lo_sum, hi_sum;  // words 0-1 and 2-3 of the beat
  logic [19:0] hsum;  // 14 header words
  logic [31:0] dsum;
  logic [255:0] head;  // bytes 0..31; rewritten in place by the commit when a segment is sent
  logic [15:0] len_q;  // segment bytes
  logic [7:0] keep_q;  // last beat's tkeep
  logic [31:0] src_q, dst_q;

  assign in_tready = state == ST_IN;
  assign acc = in_tvalid && in_tready;
  assign full = nb == CW'(MAX_BEATS);
  assign drop = acc && in_tlast && (ovf || full);

  always_comb begin
    kcnt = '0;
    for (int j = 0; j < 8; j++) begin
      beat[8*j+:8] = in_tkeep[j] ? in_tdata[8*j+:8] : 8'd0;
      kcnt = kcnt + {3'd0, in_tkeep[j]};
    end
    lo_sum = {1'b0, beat[7:0], beat[15:8]} + {1'b0, beat[23:16], beat[31:24]};
    hi_sum = {1'b0, beat[39:32], beat[47:40]} + {1'b0, beat[55:48], beat[63:56]};
  end

  always_ff @(posedge clk) begin
    if (acc && !full) buf_mem[nb[BW-1:0]] <= in_tdata;
  end

  // ---------------------------------------------------------------------------------------------
  // Decision. Fields of the segment head and of the selected slot's record.
  logic [15:0] sport, dport, window, flen, plen;
  logic [31:0] seq, ack;
  logic [7:0] fflags;
  logic data;  // a frame (out_data), else a pure ack (out_ack)

  assign sport = be16(head, 0);
  assign dport = be16(head, 2);
  assign seq = be32(head, 4);
  assign ack = be32(head, 8);
  assign window = be16(head, 14);
  assign flen = be16(head, 20);
  assign fflags = head[8*22+:8];
  assign plen = len_q - 16'd20;  // the frame: segment less the 20-byte header
  assign data = len_q > 16'd20;

  logic [SW-1:0] slot_q;
  logic hit_q;  // a valid slot's flow
  logic [3583:0] sel;
  logic [31:0] r_peer_ip, r_vip_ip, r_out_left, r_fseq, r_out_next, r_in_left, r_in_fseq;
  logic [31:0] r_in_next, r_in_ack, r_slack, r_adv_ack;
  logic [15:0] r_peer_port, r_vip_port, r_w, r_idx, r_min, r_in_idx, r_in_frame, r_adv_field;
  logic [3:0] r_vip_shift;
  logic r_sum;
  logic [LEGS-1:0] l_fast, l_takes;
  // Leg i's fields at [W*i +: W] (flat vectors: yosys reads no packed arrays of vectors).
  logic [32*LEGS-1:0] l_ip, l_out_next, l_next, l_una, l_edge;
  logic [16*LEGS-1:0] l_port;
  logic [4*LEGS-1:0] l_shift;

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
  assign r_in_frame = sel[R_IN_FRAME+:16];
  assign r_sum = sel[R_SUM];
  assign r_slack = sel[R_SLACK+:32];
  assign r_vip_shift = sel[R_VIP_SHIFT+:4];
  assign r_adv_ack = sel[R_ADV_ACK+:32];
  assign r_adv_field = sel[R_ADV_FIELD+:16];
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
  end

  // ST_SLOT: the first valid slot of the segment's flow (same_flow; a segment under 4 bytes has
  // no ports and matches none), and the received checksum's sum.
  logic [SW-1:0] slot_d;
  logic hit_d;
  always_comb begin
    slot_d = '0;
    hit_d = 1'b0;
    for (int s = SLOTS - 1; s >= 0; s--) begin
      if (valid_q[s] && len_q >= 16'd4 &&
          ((dst_q == recs_q[s][R_PEER_IP+:32] && dport == recs_q[s][R_PEER_PORT+:16]) ||
           (src_q == recs_q[s][R_PEER_IP+:32] && sport == recs_q[s][R_PEER_PORT+:16]))) begin
        slot_d = SW'(s);
        hit_d = 1'b1;
      end
    end
  end

  logic [31:0] in_sum_q;  // pseudo-header (src, dst, 0, 253, length) and every segment word

  // ST_REC: the record's conditions, every leg compared at once, and the sent checksum's words
  // known now (the rest are added by ST_EDGE and ST_SUM).
  logic rec_ok, rec_ok_q, ring_full, ring_full_q;
  logic [LEGS-1:0] lm, lm_q;  // leg is the sender
  logic [19:0] s1_q;

  always_comb begin
    rec_ok = len_q >= 16'd20 && dst_q == r_peer_ip && dport == r_peer_port &&
        head[8*12+4+:4] == 4'd5 && (head[8*13+:8] & 8'h17) == 8'h10 &&
        (!data || (len_q >= 16'd28 && flen == plen)) && fold(in_sum_q) == 16'hffff;
    ring_full = r_fseq - r_out_left >= {16'd0, r_w};
    for (int i = 0; i < LEGS; i++)
      lm[i] = l_fast[i] && l_ip[32*i+:32] == src_q && l_port[16*i+:16] == sport;
  end

  // ST_LEG: the first leg that is the sender decides; its ack and window taken.
  logic [2:0] li, li_q;
  logic ok_q;  // taken so far (the retire walk may still give it back)
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

  // ST_WALK: inbound entry cur_idx (read the cycle before) retires when its member has acked its
  // end (the sender's una being the new ack); the next index is read meanwhile. MAX_RETIRE entries
  // retired and one more retirable: given back.
  logic [82:0] in_rd;  // in_mem[{slot_q, cur_idx}]
  logic [RING_LOG2-1:0] in_ra;
  logic [31:0] cur_left, cur_ack;
  logic [15:0] cur_idx, nxt_idx;
  logic [3:0] nret;  // entries retired
  logic over_q;  // a retire beyond MAX_RETIRE
  logic [2:0] e_leg;
  logic [31:0] e_end, e_una;
  logic retire, walk_end;

  assign e_leg = in_rd[2:0];
  assign e_end = in_rd[34:3] + {16'd0, in_rd[82:67]};
  assign e_una = e_leg == li_q ? ack : l_una[32*e_leg+:32];
  assign retire = cur_left != r_in_fseq && (e_end == e_una || seq_lt(e_end, e_una));
  assign walk_end = !retire || nret == 4'(MAX_RETIRE);
  assign nxt_idx = idx_inc(cur_idx, r_w);
  assign in_ra = state == ST_OPEN ? r_in_idx[RING_LOG2-1:0] : nxt_idx[RING_LOG2-1:0];

  always_ff @(posedge clk) begin
    if (in_wr) in_mem[{in_wr_slot, in_wr_idx}] <= in_wr_data;
    in_rd <= in_mem[{slot_q, in_ra}];
  end

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

  // ST_COMMIT: the rewritten head, the advanced record and the ring entry.
  logic [255:0] nh;
  logic [3583:0] upd;

  always_comb begin
    nh = head;  // frame length and flags (bytes 20-22) and data bytes 28-31 kept
    nh[0+:16] = net16(r_vip_port);
    nh[16+:16] = net16(r_peer_port);
    nh[32+:32] = net32(r_out_next);
    nh[64+:32] = net32(cur_ack);
    nh[96+:16] = 16'h1050;  // data offset 5 words, ACK
    nh[112+:16] = net16(field_q);
    nh[128+:16] = net16(~fold(out_sum_q));
    nh[144+:16] = '0;  // urgent
    nh[184+:8] = '0;
    nh[192+:32] = net32(r_fseq);

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
    if (data) begin
      upd[R_OUT_NEXT+:32] = r_out_next + {16'd0, plen};
      upd[R_FSEQ+:32] = r_fseq + 32'd1;
      upd[R_IDX+:16] = idx_inc(r_idx, r_w);
      if (plen < r_min) upd[R_MIN+:16] = plen;
      upd[LEG0+LEG_W*li_q+L_OUT_NEXT+:32] = seq + {16'd0, plen};
    end
  end

  logic take, commit, silent;
  assign take = ok_q && !over_q;
  assign commit = state == ST_COMMIT;
  assign silent = commit && take && !send_q;  // taken, nothing sent

  always_ff @(posedge clk) begin
    if (acc) begin
      if (nb < CW'(4)) head[{nb[1:0], 6'd0}+:64] <= beat;
      len_q <= 16'({nb, 3'd0}) + {12'd0, kcnt};
      keep_q <= in_tkeep;
      src_q <= in_src;
      dst_q <= in_dst;
    end
    case (state)
      ST_SLOT: begin
        slot_q <= slot_d;
        hit_q <= hit_d;
        in_sum_q <= dsum + {12'd0, hsum} + {12'd0, halves(src_q)} + {12'd0, halves(dst_q)} +
            32'd253 + {16'd0, len_q};
      end
      ST_REC: begin
        rec_ok_q <= rec_ok;
        ring_full_q <= ring_full;
        lm_q <= lm;
        s1_q <= halves(r_vip_ip) + halves(r_peer_ip) + 20'd253 + {4'd0, len_q} +
            {4'd0, r_vip_port} + {4'd0, r_peer_port} + 20'h05010 + halves(r_out_next);
      end
      ST_LEG: begin
        li_q <= li;
        ok_q <= hit_q && rec_ok_q && |lm_q && !seq_lt(ack, s_una) && !seq_lt(s_next, ack) &&
            (!data || (seq == s_out_next && !ring_full_q));
        nedge_q <= nedge;
        dup_q <= !data && !seq_lt(s_una, ack) && nedge == s_edge;
      end
      ST_OPEN: begin
        for (int i = 0; i < LEGS; i++)
          open_q[32*i+:32] <= gap(l_next[32*i+:32], li_q == 3'(i) ? nedge_q : l_edge[32*i+:32]);
        cur_left <= r_in_left;
        cur_idx <= r_in_idx;
        cur_ack <= r_in_ack;
        nret <= '0;
        over_q <= 1'b0;
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
      ST_EDGE: begin
        pedge_q <= r_in_next + (room_q < cap ? room_q : cap);
        s2_q <= halves(cur_ack) + (data ? {4'd0, flen} + {4'd0, fflags, 8'd0} + halves(r_fseq) :
            20'd0);
      end
      ST_FIELD: field_q <= pgap > 32'hffff ? 16'hffff : pgap[15:0];
      ST_SUM: begin
        send_q <= data || cur_ack != r_adv_ack || field_q != r_adv_field ||
            (dup_q && cur_left != r_in_fseq);
        out_sum_q <= dsum + {12'd0, s1_q} + {12'd0, s2_q} + {16'd0, field_q};
      end
      ST_COMMIT: begin
        if (take && send_q) head <= nh;
        out_punt <= !take;
        out_src <= take ? r_vip_ip : src_q;
        out_dst <= take ? r_peer_ip : dst_q;
      end
      default: ;
    endcase
  end

  always_ff @(posedge clk) begin
    if (commit && take) recs_q[slot_q] <= upd;
    if (rec_load) recs_q[rec_slot] <= rec_wdata;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      valid_q <= '0;
      for (int s = 0; s < SLOTS; s++) begin
        taken_data_q[s] <= '0;
        taken_ack_q[s] <= '0;
      end
    end else begin
      if (commit && take && data) taken_data_q[slot_q] <= taken_data_q[slot_q] + 32'd1;
      if (commit && take && !data) taken_ack_q[slot_q] <= taken_ack_q[slot_q] + 32'd1;
      if (commit && !take && hit_q) valid_q[slot_q] <= 1'b0;
      if (rec_load) begin
        valid_q[rec_slot] <= 1'b1;
        taken_data_q[rec_slot] <= '0;
        taken_ack_q[rec_slot] <= '0;
      end
      if (rec_unload) valid_q[rec_slot] <= 1'b0;
    end
  end

  // Outbound ring entry {len, peer_seq, member_seq, leg} at the record's out_idx.
  always_ff @(posedge clk) begin
    if (commit && take && data)
      ring_mem[{slot_q, r_idx[RING_LOG2-1:0]}] <= {plen, r_out_next, seq, li_q};
    ring_rdata <= ring_mem[{ring_slot, ring_idx}];
  end

  // ---------------------------------------------------------------------------------------------
  // Send: the buffer read into ram_q from the decision's first cycle on, so the first beat is ready
  // when the decision is; a sent segment's first 4 beats come from the rewritten head instead.
  logic [CW-1:0] rd_ptr;
  logic q_valid, q_head, q_last, pop, load, rewritten;
  logic [1:0] q_beat;
  logic [63:0] ram_q;

  assign out_tvalid = state == ST_OUT && q_valid;
  assign pop = out_tvalid && out_tready;
  assign load = state != ST_IN && rd_ptr != nb && (!q_valid || pop);
  assign out_tdata = (rewritten && q_head) ? head[{q_beat, 6'd0}+:64] : ram_q;
  assign out_tkeep = q_last ? keep_q : 8'hff;
  assign out_tlast = q_last;
  assign seg_done = (pop && q_last) || silent || drop;

  always_ff @(posedge clk) begin
    if (load) begin
      ram_q <= buf_mem[rd_ptr[BW-1:0]];
      q_head <= rd_ptr < CW'(4);
      q_beat <= rd_ptr[1:0];
      q_last <= rd_ptr + 1'b1 == nb;
    end
    if (commit) rewritten <= take;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      state <= ST_IN;
      nb <= '0;
      ovf <= 1'b0;
      hsum <= '0;
      dsum <= '0;
      rd_ptr <= '0;
      q_valid <= 1'b0;
    end else begin
      if (load) begin
        rd_ptr <= rd_ptr + 1'b1;
        q_valid <= 1'b1;
      end else if (pop) begin
        q_valid <= 1'b0;
      end
      case (state)
        ST_IN: begin
          if (acc) begin
            if (!full) nb <= nb + 1'b1;
            ovf <= ovf || full;
            hsum <= hsum + (nb < CW'(4) ? {3'd0, lo_sum} : 20'd0) +
                (nb < CW'(3) ? {3'd0, hi_sum} : 20'd0);
            dsum <= dsum + (nb < CW'(4) ? 32'd0 : {15'd0, lo_sum}) +
                (nb < CW'(3) ? 32'd0 : {15'd0, hi_sum});
            if (drop) begin  // too long to store
              nb <= '0;
              ovf <= 1'b0;
              hsum <= '0;
              dsum <= '0;
            end else if (in_tlast) begin
              state <= ST_SLOT;
              rd_ptr <= '0;
            end
          end
        end
        ST_SLOT: state <= ST_REC;
        ST_REC: state <= ST_LEG;
        ST_LEG: state <= ST_OPEN;
        ST_OPEN: state <= ST_WALK;
        ST_WALK: if (walk_end) state <= ST_EDGE;
        ST_EDGE: state <= ST_FIELD;
        ST_FIELD: state <= ST_SUM;
        ST_SUM: state <= ST_COMMIT;
        ST_COMMIT: begin
          state <= ST_OUT;
          if (silent) begin  // nothing to send: the preloaded first beat dropped
            state <= ST_IN;
            nb <= '0;
            hsum <= '0;
            dsum <= '0;
            q_valid <= 1'b0;
          end
        end
        default: begin
          if (pop && q_last) begin
            state <= ST_IN;
            nb <= '0;
            hsum <= '0;
            dsum <= '0;
          end
        end
      endcase
    end
  end
endmodule
`default_nettype wire
