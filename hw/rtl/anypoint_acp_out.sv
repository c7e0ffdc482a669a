`default_nettype none
// anypoint_acp_out: the device's outbound fast path for ACP member frames in sequence (`out_data`,
// docs/frame-switching.md section 9a). Bit-exact with the model's frame_switch::fast `out_data` and
// `SpecEngine::send`: same decision, output bytes, record updates and ring entry.
//
// A segment (the IP payload of a protocol-253 packet) is taken when the first valid slot whose
// flow it is (either direction: destination or source is the slot's peer address and port) holds
// a record under which it is the next frame of a fast member: it then goes to the peer from the
// VIP, renumbered, with the record's ack and window, an outbound ring entry is written and the
// record advanced. Otherwise it is given back to the host unchanged (out_punt = 1), and a slot
// that matched is made invalid so the flow's later segments follow it to the host in order.
//
// One segment at a time (first version): the segment is stored whole, since a segment given back
// must leave unchanged, while its 16-bit one's-complement sums are taken beat by beat; after the
// last beat the decision takes 4 cycles (slot; record compares and partial sums; leg and total;
// commit), then the segment is sent from the buffer. in_tready is low from the cycle after the
// last beat in until the last beat out: a segment of N beats occupies the module N + 4 + N cycles
// when out_tready stays high.
//
// A segment of more than MAX_BEATS beats cannot be stored, so it cannot be given back either: it
// is dropped whole and counted nowhere (1152 beats hold the segment of any IP packet up to 9236
// bytes).
//
// Parameters:
//   SLOTS     - flow records (at least 2: the slot ports are $clog2(SLOTS) bits).
//   RING_LOG2 - log2 of the ring entries per slot (at most 16); the host keeps 2^RING_LOG2 >= w.
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
    // Host, while no segment is in the engine: rec_load writes slot rec_slot (valid, taken = 0),
    // rec_unload makes it invalid; rec_rdata/rec_valid/rec_taken show slot rec_slot.
    input logic rec_load,
    input logic rec_unload,
    input logic [$clog2(SLOTS)-1:0] rec_slot,
    input logic [1663:0] rec_wdata,
    output logic [1663:0] rec_rdata,
    output logic rec_valid,
    output logic [31:0] rec_taken,
    // Ring entry ring_idx of slot ring_slot, one cycle after.
    input logic [$clog2(SLOTS)-1:0] ring_slot,
    input logic [RING_LOG2-1:0] ring_idx,
    output logic [82:0] ring_rdata
);
  localparam int SW = $clog2(SLOTS);
  localparam int BW = $clog2(MAX_BEATS);  // buffer address
  localparam int CW = $clog2(MAX_BEATS + 1);  // beat count
  localparam int LEGS = 8;

  if (SLOTS < 2 || RING_LOG2 < 1 || RING_LOG2 > 16 || MAX_BEATS < 4 || MAX_BEATS > 8191)
  begin : g_params
    $error("anypoint_acp_out: SLOTS >= 2, 1 <= RING_LOG2 <= 16, 4 <= MAX_BEATS <= 8191");
  end

  // Record layout (OutRecord; docs/frame-switching.md section 9a): bit offsets of the fields.
  localparam int R_PEER_IP = 0, R_PEER_PORT = 32, R_VIP_IP = 48, R_VIP_PORT = 80, R_W = 96;
  localparam int R_OUT_LEFT = 112, R_FSEQ = 144, R_IDX = 176, R_OUT_NEXT = 192, R_PEER_ACK = 224;
  localparam int R_PEER_FIELD = 256, R_VIP_SHIFT = 272, R_MIN = 276, R_ADV_ACK = 292;
  localparam int R_ADV_EDGE = 324, R_ADV_FIELD = 356;
  // Leg i (FastLeg) at LEG0 + LEG_W * i.
  localparam int LEG0 = 384, LEG_W = 160;
  localparam int L_FAST = 0, L_IP = 1, L_PORT = 33, L_NEXT = 49, L_UNA = 81, L_EDGE = 113;
  localparam int L_SHIFT = 145;

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

  typedef enum logic [1:0] {
    ST_IN,   // taking a segment's beats
    ST_DEC,  // deciding, `step` 0..3
    ST_OUT   // sending it
  } state_t;
  state_t state;
  logic [1:0] step;
  logic commit;  // the decision's last cycle: record, ring and valid bits written

  // Flow records: a register file (SLOTS is small) the decision reads whole.
  logic [1663:0] recs_q[SLOTS];
  logic [SLOTS-1:0] valid_q;
  logic [31:0] taken_q[SLOTS];
  logic [82:0] ring_mem[SLOTS << RING_LOG2];

  assign rec_rdata = recs_q[rec_slot];
  assign rec_valid = valid_q[rec_slot];
  assign rec_taken = taken_q[rec_slot];

  // ---------------------------------------------------------------------------------------------
  // Ingest: the beats into the buffer, the first 32 bytes into `head`, and the one's-complement
  // sums as they arrive: header words (bytes 0..27, which the rewrite replaces) apart from the
  // data words (bytes 28 on, which it keeps), so both checksums need only the head at the end.
  logic [63:0] buf_mem[MAX_BEATS];
  logic [CW-1:0] nb;  // beats stored (saturates at MAX_BEATS)
  logic full;
  logic ovf;  // a beat beyond MAX_BEATS: the segment is dropped at its last beat
  logic acc;
  logic [63:0] beat;  // bytes beyond tkeep zero: the odd byte's zero pad of sum16
  logic [3:0] kcnt;
  logic [16:0] lo_sum, hi_sum;  // words 0-1 and 2-3 of the beat
  logic [19:0] hsum;  // 14 header words
  logic [31:0] dsum;
  logic [255:0] head;  // bytes 0..31; rewritten in place by the commit when the segment is taken
  logic [15:0] len_q;  // segment bytes
  logic [7:0] keep_q;  // last beat's tkeep
  logic [31:0] src_q, dst_q;

  assign in_tready = state == ST_IN;
  assign acc = in_tvalid && in_tready;
  assign full = nb == CW'(MAX_BEATS);

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

  assign sport = be16(head, 0);
  assign dport = be16(head, 2);
  assign seq = be32(head, 4);
  assign ack = be32(head, 8);
  assign window = be16(head, 14);
  assign flen = be16(head, 20);
  assign fflags = head[8*22+:8];
  assign plen = len_q - 16'd20;  // the frame: segment less the 20-byte header

  logic [SW-1:0] slot_q;
  logic hit_q;  // a valid slot's flow
  logic [1663:0] sel;
  logic [31:0] r_peer_ip, r_vip_ip, r_out_left, r_fseq, r_out_next, r_peer_ack;
  logic [15:0] r_peer_port, r_vip_port, r_w, r_idx, r_peer_field, r_min;
  logic [3:0] r_vip_shift;

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
  assign r_peer_ack = sel[R_PEER_ACK+:32];
  assign r_peer_field = sel[R_PEER_FIELD+:16];
  assign r_vip_shift = sel[R_VIP_SHIFT+:4];
  assign r_min = sel[R_MIN+:16];

  // Step 0: the first valid slot of the segment's flow (same_flow; a segment under 4 bytes has no
  // ports and matches none), and the received checksum's sum.
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

  // Step 1: the record's conditions, every leg compared at once, and the words of the sent
  // checksum other than the data's, in two halves of 9 (step 2 adds them to the data's sum).
  logic rec_ok, rec_ok_q;
  logic [LEGS-1:0] lm, lok, lm_q, lok_q;  // leg is the sender; its seq, ack and edge hold
  logic [19:0] s1_q, s2_q;

  always_comb begin
    rec_ok = len_q >= 16'd28 && dst_q == r_peer_ip && dport == r_peer_port &&
        head[8*12+4+:4] == 4'd5 && (head[8*13+:8] & 8'h17) == 8'h10 && flen == plen &&
        fold(in_sum_q) == 16'hffff && r_fseq - r_out_left < {16'd0, r_w};
    for (int i = 0; i < LEGS; i++) begin
      lm[i] = sel[LEG0+LEG_W*i+L_FAST] && sel[LEG0+LEG_W*i+L_IP+:32] == src_q &&
          sel[LEG0+LEG_W*i+L_PORT+:16] == sport;
      lok[i] = seq == sel[LEG0+LEG_W*i+L_NEXT+:32] && ack == sel[LEG0+LEG_W*i+L_UNA+:32] &&
          ack + ({16'd0, window} << sel[LEG0+LEG_W*i+L_SHIFT+:4]) == sel[LEG0+LEG_W*i+L_EDGE+:32];
    end
  end

  // Step 2: the first leg that is the sender decides; the two halves added.
  logic [2:0] li, li_q;
  logic take_q;
  logic [31:0] out_sum_q;

  always_comb begin
    li = '0;
    for (int i = LEGS - 1; i >= 0; i--) if (lm_q[i]) li = 3'(i);
  end

  // Step 3 (commit): the rewritten head, the advanced record and the ring entry.
  logic [255:0] nh;
  logic [1663:0] upd;
  logic [15:0] idx_next;
  logic [31:0] member_next;

  always_comb begin
    nh = head;  // frame length and flags (bytes 20-22) and data bytes 28-31 kept
    nh[0+:16] = net16(r_vip_port);
    nh[16+:16] = net16(r_peer_port);
    nh[32+:32] = net32(r_out_next);
    nh[64+:32] = net32(r_peer_ack);
    nh[96+:16] = 16'h1050;  // data offset 5 words, ACK
    nh[112+:16] = net16(r_peer_field);
    nh[128+:16] = net16(~fold(out_sum_q));
    nh[144+:16] = '0;  // urgent
    nh[184+:8] = '0;
    nh[192+:32] = net32(r_fseq);

    idx_next = r_idx + 16'd1;
    if (idx_next == r_w) idx_next = '0;
    member_next = seq + {16'd0, plen};
    upd = sel;
    upd[R_OUT_NEXT+:32] = r_out_next + {16'd0, plen};
    upd[R_FSEQ+:32] = r_fseq + 32'd1;
    upd[R_IDX+:16] = idx_next;
    if (plen < r_min) upd[R_MIN+:16] = plen;
    upd[R_ADV_ACK+:32] = r_peer_ack;
    upd[R_ADV_EDGE+:32] = r_peer_ack + ({16'd0, r_peer_field} << r_vip_shift);
    upd[R_ADV_FIELD+:16] = r_peer_field;
    for (int i = 0; i < LEGS; i++) if (li_q == 3'(i)) upd[LEG0+LEG_W*i+L_NEXT+:32] = member_next;
  end

  assign commit = state == ST_DEC && step == 2'd3;

  always_ff @(posedge clk) begin
    if (acc) begin
      if (nb < CW'(4)) head[{nb[1:0], 6'd0}+:64] <= beat;
      len_q <= 16'({nb, 3'd0}) + {12'd0, kcnt};
      keep_q <= in_tkeep;
      src_q <= in_src;
      dst_q <= in_dst;
    end
    if (state == ST_DEC) begin
      case (step)
        2'd0: begin
          slot_q <= slot_d;
          hit_q <= hit_d;
          in_sum_q <= dsum + {12'd0, hsum} + {16'd0, src_q[31:16]} + {16'd0, src_q[15:0]} +
              {16'd0, dst_q[31:16]} + {16'd0, dst_q[15:0]} + 32'd253 + {16'd0, len_q};
        end
        2'd1: begin
          rec_ok_q <= rec_ok;
          lm_q <= lm;
          lok_q <= lok;
          s1_q <= {4'd0, r_vip_ip[31:16]} + {4'd0, r_vip_ip[15:0]} + {4'd0, r_peer_ip[31:16]} +
              {4'd0, r_peer_ip[15:0]} + 20'd253 + {4'd0, len_q} + {4'd0, r_vip_port} +
              {4'd0, r_peer_port} + 20'h05010;
          s2_q <= {4'd0, r_out_next[31:16]} + {4'd0, r_out_next[15:0]} + {4'd0, r_peer_ack[31:16]} +
              {4'd0, r_peer_ack[15:0]} + {4'd0, r_peer_field} + {4'd0, flen} +
              {4'd0, fflags, 8'd0} + {4'd0, r_fseq[31:16]} + {4'd0, r_fseq[15:0]};
        end
        2'd2: begin
          li_q <= li;
          take_q <= hit_q && rec_ok_q && |lm_q && lok_q[li];
          out_sum_q <= dsum + {12'd0, s1_q} + {12'd0, s2_q};
        end
        default: begin
          if (take_q) head <= nh;
          out_punt <= !take_q;
          out_src <= take_q ? r_vip_ip : src_q;
          out_dst <= take_q ? r_peer_ip : dst_q;
        end
      endcase
    end
  end

  always_ff @(posedge clk) begin
    if (commit && take_q) recs_q[slot_q] <= upd;
    if (rec_load) recs_q[rec_slot] <= rec_wdata;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      valid_q <= '0;
      for (int s = 0; s < SLOTS; s++) taken_q[s] <= '0;
    end else begin
      if (commit && take_q) taken_q[slot_q] <= taken_q[slot_q] + 32'd1;
      else if (commit && hit_q) valid_q[slot_q] <= 1'b0;
      if (rec_load) begin
        valid_q[rec_slot] <= 1'b1;
        taken_q[rec_slot] <= '0;
      end
      if (rec_unload) valid_q[rec_slot] <= 1'b0;
    end
  end

  // Ring entry {len, peer_seq, member_seq, leg} at the record's out_idx (2^RING_LOG2 >= w).
  always_ff @(posedge clk) begin
    if (commit && take_q)
      ring_mem[{slot_q, r_idx[RING_LOG2-1:0]}] <= {plen, r_out_next, seq, li_q};
    ring_rdata <= ring_mem[{ring_slot, ring_idx}];
  end

  // ---------------------------------------------------------------------------------------------
  // Send: the buffer read into ram_q from the decision's first cycle on, so the first beat is ready
  // when the decision is; a taken segment's first 4 beats come from the rewritten head instead.
  logic [CW-1:0] rd_ptr;
  logic q_valid, q_head, q_last, pop, load;
  logic [1:0] q_beat;
  logic [63:0] ram_q;

  assign out_tvalid = state == ST_OUT && q_valid;
  assign pop = out_tvalid && out_tready;
  assign load = state != ST_IN && rd_ptr != nb && (!q_valid || pop);
  assign out_tdata = (take_q && q_head) ? head[{q_beat, 6'd0}+:64] : ram_q;
  assign out_tkeep = q_last ? keep_q : 8'hff;
  assign out_tlast = q_last;

  always_ff @(posedge clk) begin
    if (load) begin
      ram_q <= buf_mem[rd_ptr[BW-1:0]];
      q_head <= rd_ptr < CW'(4);
      q_beat <= rd_ptr[1:0];
      q_last <= rd_ptr + 1'b1 == nb;
    end
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      state <= ST_IN;
      step <= '0;
      nb <= '0;
      ovf <= 1'b0;
      hsum <= '0;
      dsum <= '0;
      rd_ptr <= '0;
      q_valid <= 1'b0;
    end else begin
      case (state)
        ST_IN: begin
          if (acc) begin
            if (!full) nb <= nb + 1'b1;
            ovf <= ovf || full;
            hsum <= hsum + (nb < CW'(4) ? {3'd0, lo_sum} : 20'd0) +
                (nb < CW'(3) ? {3'd0, hi_sum} : 20'd0);
            dsum <= dsum + (nb < CW'(4) ? 32'd0 : {15'd0, lo_sum}) +
                (nb < CW'(3) ? 32'd0 : {15'd0, hi_sum});
            if (in_tlast && (ovf || full)) begin  // too long to store: dropped
              nb <= '0;
              ovf <= 1'b0;
              hsum <= '0;
              dsum <= '0;
            end else if (in_tlast) begin
              state <= ST_DEC;
              step <= '0;
              rd_ptr <= '0;
            end
          end
        end
        ST_DEC: begin
          step <= step + 2'd1;
          if (step == 2'd3) state <= ST_OUT;
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
      if (load) begin
        rd_ptr <= rd_ptr + 1'b1;
        q_valid <= 1'b1;
      end else if (pop) begin
        q_valid <= 1'b0;
      end
    end
  end
endmodule
`default_nettype wire
