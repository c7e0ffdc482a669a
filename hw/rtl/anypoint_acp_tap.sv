`default_nettype none
// anypoint_acp_tap: the ACP block's place on the host queue (docs/pipeline.md section 12). Every
// host record is stored in a record FIFO as it passes; a record that offers an ACP segment (kind
// punt, reason l4_other, untagged, IP protocol 253, at least 20 segment bytes) also sends the
// segment, record bytes 66 up to 46 + the IPv4 total length, to the engine in 8-byte beats with
// the IPv4 source and destination. Records leave in order: one that offered a segment waits for
// the engine's answer (`ans_valid`, one per segment in order) and is dropped when the engine took
// it, sent on to the host when it gave it back; any other goes on as it is.
//
// Write side: record fields are captured from the beats holding them (constant byte indices);
// the record's kind (offers a segment or not) is known at the beat holding byte 64 (beat 64 /
// BYTES) or at its last beat if it ends before. From that beat on, while segment bytes remain, a
// candidate's beats are taken one 8-byte group a cycle: group g (record bytes 8g..8g+7) completes
// segment beat g - 9 (bytes 2..7 of group g - 1, then bytes 0..1 of group g); when the bytes left
// all lie in the current group, one more cycle sends them (the input waits). A beat is accepted
// once its last group is taken, or at once when the segment is done.
//
// The record FIFO holds a whole record of FRAME_CAP bytes, so a record waiting for its answer
// never keeps its own segment from reaching the engine.
//
// Parameters:
//   DATA_WIDTH - host stream width (64 or 512).
//   FRAME_CAP  - largest frame of a record, bytes.
module anypoint_acp_tap #(
    parameter int DATA_WIDTH = 64,
    parameter int FRAME_CAP = 9216,
    localparam int BYTES = DATA_WIDTH / 8
) (
    input wire clk,
    input wire rst,
    // Host records in.
    input wire [DATA_WIDTH-1:0] s_tdata,
    input wire [BYTES-1:0] s_tkeep,
    input wire s_tvalid,
    output logic s_tready,
    input wire s_tlast,
    // Host records out.
    output logic [DATA_WIDTH-1:0] m_tdata,
    output logic [BYTES-1:0] m_tkeep,
    output logic m_tvalid,
    input wire m_tready,
    output logic m_tlast,
    // Segments to the engine (src/dst held from the segment's first beat to its last).
    output logic [63:0] seg_tdata,
    output logic [7:0] seg_tkeep,
    output logic seg_tvalid,
    input wire seg_tready,
    output logic seg_tlast,
    output logic [31:0] seg_src,
    output logic [31:0] seg_dst,
    // The engine's answer for the oldest segment without one: taken (1) or given back (0).
    input wire ans_valid,
    input wire ans_taken,
    output logic busy
);
  localparam int NG = BYTES / 8;  // 8-byte groups per beat
  localparam int GW = (NG > 1) ? $clog2(NG) : 1;
  localparam int G8 = 64 / BYTES;  // beat holding record byte 64 (segment group 8)
  localparam int REC_LOG2 = $clog2((FRAME_CAP + 32) / BYTES + 2);
  localparam int BW = DATA_WIDTH + BYTES + 1;
  localparam int WB = $clog2(G8 + 2);

  // ---------------------------------------------------------------------------------------------
  // Write side.
  logic [WB-1:0] wbeat;  // beat of the record at the input, saturating past G8
  logic [7:0] kind_q, reason_q, proto_q;
  logic vlan_q;
  logic [15:0] total_q, dst_hi, dst_lo;
  logic [31:0] src_q;
  logic dec_q;  // the record's kind is pushed
  logic cand_q;  // ... and it offers a segment
  logic [15:0] rem;  // segment bytes not yet sent
  logic flush;  // the segment's last bytes wait in `prev`
  logic [GW-1:0] gp;  // group of the beat at the input, while feeding
  logic [63:0] cur;
  logic [47:0] prev;  // bytes 2..7 of the group before

  logic at_g8, is_g8, cand_now, dec_now, cand_dec, active, step, take_feed, take_norm, take;
  logic fl_next, rec_full, kind_full;
  logic [15:0] r_next;

  // Byte r of the record, from the beat holding it.
  function automatic logic [7:0] rbyte(input logic [DATA_WIDTH-1:0] d, input int r);
    rbyte = d[8*(r%BYTES)+:8];
  endfunction
  function automatic logic holds(input logic [WB-1:0] b, input int r);
    holds = 32'(b) == r / BYTES;
  endfunction

  assign at_g8 = 32'(wbeat) == G8;
  assign is_g8 = at_g8 && gp == '0;
  // Every field but the destination's low half lies before beat G8: the kind is known there.
  assign cand_now = kind_q == 8'd0 && reason_q == 8'd13 && !vlan_q && proto_q == 8'd253 &&
      total_q >= 16'd40;
  assign dec_now = s_tvalid && !dec_q && (at_g8 || s_tlast) && !kind_full;
  assign cand_dec = at_g8 && cand_now;
  // A candidate's beats go a group a cycle while segment bytes remain; group 8 only completes the
  // destination, each later one sends a segment beat.
  assign active = dec_q && cand_q && rem != '0 && !flush;
  assign cur = s_tdata[64*gp+:64];
  assign step = active && s_tvalid && !rec_full && (is_g8 || seg_tready);
  assign r_next = is_g8 ? rem : (rem > 16'd8 ? rem - 16'd8 : '0);
  assign fl_next = r_next != '0 && r_next <= 16'd6;
  assign take_feed = step && (32'(gp) == NG - 1 || r_next == '0 || fl_next);
  assign take_norm = s_tvalid && !rec_full && !flush && !(dec_q && cand_q && rem != '0) &&
      (dec_q || !(at_g8 || s_tlast) || (dec_now && !cand_dec));
  assign take = take_feed || take_norm;
  assign s_tready = take;

  always_comb begin
    seg_tvalid = flush || (active && s_tvalid && !is_g8 && !rec_full);
    seg_tdata = flush ? {16'd0, prev} : {cur[15:0], prev};
    seg_tlast = flush || rem <= 16'd8;
    seg_tkeep = rem >= 16'd8 ? 8'hff : 8'((9'd1 << rem[2:0]) - 9'd1);
  end
  assign seg_src = src_q;
  assign seg_dst = {dst_hi, dst_lo};

  always_ff @(posedge clk) begin
    if (take) begin
      if (holds(wbeat, 1)) kind_q <= rbyte(s_tdata, 1);
      if (holds(wbeat, 2)) reason_q <= rbyte(s_tdata, 2);
      if (holds(wbeat, 11)) vlan_q <= s_tdata[8*(11%BYTES)];
      if (holds(wbeat, 48)) total_q[15:8] <= rbyte(s_tdata, 48);
      if (holds(wbeat, 49)) total_q[7:0] <= rbyte(s_tdata, 49);
      if (holds(wbeat, 55)) proto_q <= rbyte(s_tdata, 55);
      for (int k = 0; k < 4; k++)
        if (holds(wbeat, 58 + k)) src_q[31-8*k-:8] <= rbyte(s_tdata, 58 + k);
      if (holds(wbeat, 62)) dst_hi[15:8] <= rbyte(s_tdata, 62);
      if (holds(wbeat, 63)) dst_hi[7:0] <= rbyte(s_tdata, 63);
    end
    if (step) begin
      prev <= cur[63:16];
      if (is_g8) dst_lo <= {cur[7:0], cur[15:8]};
    end
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      wbeat <= '0;
      dec_q <= 1'b0;
      cand_q <= 1'b0;
      rem <= '0;
      flush <= 1'b0;
      gp <= '0;
    end else begin
      if (dec_now) begin
        dec_q <= 1'b1;
        cand_q <= cand_dec;
        rem <= cand_dec ? total_q - 16'd20 : '0;
      end
      if (step) begin
        rem <= r_next;
        flush <= fl_next;
        gp <= take_feed ? '0 : gp + 1'b1;
      end
      if (flush && seg_tready) begin
        flush <= 1'b0;
        rem <= '0;
      end
      if (take) begin
        if (32'(wbeat) <= G8) wbeat <= wbeat + 1'b1;
        if (s_tlast) begin
          wbeat <= '0;
          dec_q <= 1'b0;
        end
      end
    end
  end

  // ---------------------------------------------------------------------------------------------
  // The record FIFO, each record's kind and the engine's answers.
  logic rv, r_last, kv, kc, vv, vt, go, drop, rec_pop, last_pop;
  logic [BW-1:0] r_data;
  logic [REC_LOG2+1:0] r_count, k_count, v_count;

  anypoint_fifo #(
      .WIDTH(BW),
      .DEPTH_LOG2(REC_LOG2)
  ) u_rec (
      .clk(clk),
      .rst(rst),
      .wr_en(take),
      .wr_data({s_tlast, s_tkeep, s_tdata}),
      .full(rec_full),
      .count(r_count),
      .rd_valid(rv),
      .rd_data(r_data),
      .rd_en(rec_pop)
  );
  anypoint_fifo #(
      .WIDTH(1),
      .DEPTH_LOG2(REC_LOG2),
      .LANE_BITS(0)
  ) u_kind (
      .clk(clk),
      .rst(rst),
      .wr_en(dec_now),
      .wr_data(cand_dec),
      .full(kind_full),
      .count(k_count),
      .rd_valid(kv),
      .rd_data(kc),
      .rd_en(last_pop)
  );
  // At most one answer per candidate record in the record FIFO: never full.
  anypoint_fifo #(
      .WIDTH(1),
      .DEPTH_LOG2(REC_LOG2),
      .LANE_BITS(0)
  ) u_ans (
      .clk(clk),
      .rst(rst),
      .wr_en(ans_valid),
      .wr_data(ans_taken),
      .full(),
      .count(v_count),
      .rd_valid(vv),
      .rd_data(vt),
      .rd_en(last_pop && kc)
  );

  // ---------------------------------------------------------------------------------------------
  // Read side: a record goes once its kind, and for a candidate the engine's answer, is known.
  assign r_last = r_data[BW-1];
  assign go = rv && kv && (!kc || vv);
  assign drop = kc && vt;
  assign rec_pop = go && (drop || m_tready);
  assign last_pop = rec_pop && r_last;
  assign m_tvalid = go && !drop;
  assign {m_tlast, m_tkeep, m_tdata} = r_data;

  assign busy = rv || kv || vv || r_count != '0 || k_count != '0 || v_count != '0 ||
      wbeat != '0 || flush;
endmodule
`default_nettype wire
