`default_nettype none
// anypoint_acp: the ACP block (docs/pipeline.md section 12) on the host queue: the tap
// (anypoint_acp_tap) offers the segments of ACP host records to the engine (anypoint_acp_out),
// the wrap (anypoint_acp_wrap) sends what the engine sends as frames to the Ethernet ports, and
// the block's registers (ACP_*, the 0x8000 window of the register map) load and read flow slots,
// ring entries and the neighbour table.
//
// Slot and ring commands wait until the engine is idle (between segments), and the register write
// completes once they are carried out (`reg_busy`). Each segment given back is counted in the fence
// buckets (ACP_BUCKET_GIVEN) of its source and of its destination address and port; a fenced load
// (ACP_CMD.FENCED) is carried out only if the count of the staged record's peer bucket equals
// ACP_FENCE, the host's count of those it has read: then none of the flow's records, each from or
// to its peer, is still on its way to the host. A reset makes every slot invalid and clears the
// registers; records and rings (block RAM) keep their contents.
//
// Parameters:
//   DATA_WIDTH, NUM_PORTS, FRAME_CAP as anypoint_top.
//   SLOTS      - flow slots (at least 2).
//   RING_LOG2  - log2 of the ring entries per slot and direction.
module anypoint_acp #(
    parameter int DATA_WIDTH = 64,
    parameter int NUM_PORTS = 4,
    parameter int FRAME_CAP = 9216,
    parameter int SLOTS = 2,
    parameter int RING_LOG2 = 9,
    localparam int BYTES = DATA_WIDTH / 8
) (
    input wire clk,
    input wire rst,
    // Host records in and out.
    input wire [DATA_WIDTH-1:0] s_tdata,
    input wire [BYTES-1:0] s_tkeep,
    input wire s_tvalid,
    output logic s_tready,
    input wire s_tlast,
    output logic [DATA_WIDTH-1:0] m_tdata,
    output logic [BYTES-1:0] m_tkeep,
    output logic m_tvalid,
    input wire m_tready,
    output logic m_tlast,
    // Frames to the Ethernet ports.
    output logic [DATA_WIDTH-1:0] e_tdata,
    output logic [BYTES-1:0] e_tkeep,
    output logic e_tvalid,
    input wire e_tready,
    output logic e_tlast,
    output logic [2:0] e_port,
    // Port table writes (the ports' MACs).
    input wire tw_valid,
    input wire [3:0] tw_table,
    input wire [23:0] tw_index,
    input wire [47:0] tw_mac,  // the entry's MAC (bytes 0-1 in bits 47:32)
    // Register window: word `reg_addr` of the ACP registers (byte offset 0x8000 + 4 reg_addr).
    input wire reg_wr,
    input wire [8:0] reg_addr,
    input wire [31:0] reg_wdata,
    output logic [31:0] reg_rdata,
    output logic reg_busy,
    output logic busy
);
  `include "anypoint_regmap.svh"

  localparam int NBRS = 16;
  localparam int BUCKETS = REG_ACP_BUCKET_GIVEN_COUNT;  // 2^6: the six bits of fence_bucket
  localparam int SW = $clog2(SLOTS);
  // Word indices within the window.
  localparam int W_RING_WDATA = (REG_ACP_RING_WDATA - REG_ACP_SLOTS) / 4;
  localparam int W_RING_RDATA = (REG_ACP_RING_RDATA - REG_ACP_SLOTS) / 4;
  localparam int W_TAKEN = (REG_ACP_TAKEN - REG_ACP_SLOTS) / 4;
  localparam int W_NBR = (REG_ACP_NBR - REG_ACP_SLOTS) / 4;
  localparam int W_REC = (REG_ACP_REC - REG_ACP_SLOTS) / 4;
  localparam int W_RDATA = (REG_ACP_RDATA - REG_ACP_SLOTS) / 4;
  localparam int W_CMD = (REG_ACP_CMD - REG_ACP_SLOTS) / 4;
  localparam int W_RING_CMD = (REG_ACP_RING_CMD - REG_ACP_SLOTS) / 4;
  localparam int W_FENCE = (REG_ACP_FENCE - REG_ACP_SLOTS) / 4;
  localparam int W_BUCKET_GIVEN = (REG_ACP_BUCKET_GIVEN - REG_ACP_SLOTS) / 4;

  // The fence bucket of an address and port: the 48 bits folded into 6 by exclusive or.
  function automatic logic [5:0] fence_bucket(input logic [31:0] addr, input logic [15:0] port);
    logic [47:0] bits;
    bits = {addr, port};
    fence_bucket = '0;
    for (int i = 0; i < 8; i++) fence_bucket = fence_bucket ^ bits[6*i+:6];
  endfunction

  // ---------------------------------------------------------------------------------------------
  // Registers.
  logic [3583:0] staged;
  logic [95:0] ring_wdata;  // as written (the entry is its low 83 bits)
  logic [82:0] ring_rdata_q;
  logic [SW-1:0] sel_q;
  logic [31:0] frames_q, drops_q, given_q, fence_q;
  logic [31:0] given_in_q[BUCKETS];
  // The staged record's peer bucket (registered: a command comes at least a write after it).
  logic [5:0] peer_bucket_q;
  logic refused_q;
  logic [NBRS*32-1:0] nbr_addr;
  logic [NBRS*48-1:0] nbr_mac;
  logic [NBRS*3-1:0] nbr_port;
  logic [NBRS-1:0] nbr_valid;
  logic [NUM_PORTS*48-1:0] port_mac;
  logic cmd_pend, ring_pend, ring_rd_q;
  // ACP_CMD {op, fenced, slot}; ACP_RING_CMD {op, out, slot, index}.
  logic [10:0] cmd_q;
  logic [26:0] ring_cmd_q;

  // Engine ports.
  logic [63:0] seg_tdata, o_tdata;
  logic [7:0] seg_tkeep, o_tkeep;
  logic seg_tvalid, seg_tready, seg_tlast, o_tvalid, o_tready, o_tlast, o_punt;
  logic [31:0] seg_src, seg_dst, o_src, o_dst;
  logic [15:0] o_len;
  logic seg_done, idle, rec_valid, rec_load, rec_unload, ring_wr, ring_out;
  logic [SW-1:0] rec_slot, ring_slot;
  logic [3583:0] rec_rdata;
  logic [31:0] taken[6];
  logic [RING_LOG2-1:0] ring_idx;
  logic [82:0] ring_rdata;
  logic sent, dropped, gave_back, tap_busy, wrap_busy;

  // The commands carried out when the engine is idle: one cycle each.
  logic cmd_go, ring_go, cmd_ok, ring_ok, cmd_fenced, fence_held;
  logic [SW-1:0] cmd_slot, ring_cmd_slot;
  logic [1:0] cmd_op, ring_op;
  assign cmd_op = cmd_q[10:9];
  assign cmd_fenced = cmd_q[8];
  assign ring_op = ring_cmd_q[26:25];
  assign cmd_slot = cmd_q[SW-1:0];
  assign ring_cmd_slot = ring_cmd_q[16+:SW];
  assign cmd_ok = 32'(cmd_q[7:0]) < SLOTS;
  assign ring_ok = 32'(ring_cmd_q[23:16]) < SLOTS && 32'(ring_cmd_q[15:0]) < (1 << RING_LOG2);
  assign cmd_go = cmd_pend && idle;
  assign ring_go = ring_pend && idle;
  assign fence_held = cmd_fenced && given_in_q[peer_bucket_q] != fence_q;
  assign rec_load = cmd_go && cmd_ok && cmd_op == 2'd1 && !fence_held;
  assign rec_unload = cmd_go && cmd_ok && cmd_op == 2'd2;
  assign rec_slot = (cmd_go && cmd_ok) ? cmd_slot : sel_q;
  assign ring_wr = ring_go && ring_ok && ring_op == 2'd1;
  assign ring_slot = ring_cmd_slot;
  assign ring_idx = ring_cmd_q[RING_LOG2-1:0];
  assign ring_out = ring_cmd_q[24];
  assign reg_busy = cmd_pend || ring_pend || ring_rd_q;

  always_ff @(posedge clk) begin
    if (rst) begin
      staged <= '0;
      ring_wdata <= '0;
      ring_rdata_q <= '0;
      sel_q <= '0;
      frames_q <= '0;
      drops_q <= '0;
      given_q <= '0;
      fence_q <= '0;
      refused_q <= 1'b0;
      nbr_valid <= '0;
      nbr_addr <= '0;
      nbr_mac <= '0;
      nbr_port <= '0;
      cmd_pend <= 1'b0;
      ring_pend <= 1'b0;
      ring_rd_q <= 1'b0;
    end else begin
      if (sent) frames_q <= frames_q + 1'b1;
      if (dropped) drops_q <= drops_q + 1'b1;
      if (gave_back) given_q <= given_q + 1'b1;
      if (cmd_go) begin
        cmd_pend <= 1'b0;
        if (cmd_ok && cmd_op == 2'd3) sel_q <= cmd_slot;
        if (cmd_ok && cmd_op == 2'd1) refused_q <= fence_held;
      end
      if (ring_go) begin
        ring_pend <= 1'b0;
        ring_rd_q <= ring_ok && ring_op == 2'd2;
      end
      // The engine's ring read lands a cycle after its address.
      if (ring_rd_q) begin
        ring_rdata_q <= ring_rdata;
        ring_rd_q <= 1'b0;
      end
      if (reg_wr) begin
        if (32'(reg_addr) == W_CMD) begin
          cmd_q <= {reg_wdata[31:29], reg_wdata[7:0]};
          cmd_pend <= 1'b1;
        end
        if (32'(reg_addr) == W_RING_CMD) begin
          ring_cmd_q <= {reg_wdata[31:30], reg_wdata[24:0]};
          ring_pend <= 1'b1;
        end
        if (32'(reg_addr) == W_FENCE) fence_q <= reg_wdata;
        for (int i = 0; i < 3; i++)
          if (32'(reg_addr) == W_RING_WDATA + i) ring_wdata[32*i+:32] <= reg_wdata;
        for (int i = 0; i < NBRS; i++) begin
          if (32'(reg_addr) == W_NBR + 4 * i) nbr_addr[32*i+:32] <= reg_wdata;
          if (32'(reg_addr) == W_NBR + 4 * i + 1) nbr_mac[48*i+:32] <= reg_wdata;
          if (32'(reg_addr) == W_NBR + 4 * i + 2) begin
            nbr_mac[48*i+32+:16] <= reg_wdata[15:0];
            nbr_port[3*i+:3] <= reg_wdata[18:16];
            nbr_valid[i] <= reg_wdata[31];
          end
        end
        for (int i = 0; i < 112; i++)
          if (32'(reg_addr) == W_REC + i) staged[32*i+:32] <= reg_wdata;
      end
    end
  end

  // The ports' MACs, from the port table's writes.
  always_ff @(posedge clk) begin
    if (rst) port_mac <= '0;
    else if (tw_valid && tw_table == 4'(TBL_PORT_ID) && 32'(tw_index) < NUM_PORTS)
      port_mac[48*tw_index[2:0]+:48] <= tw_mac;
  end

  always_ff @(posedge clk) peer_bucket_q <= fence_bucket(staged[31:0], staged[47:32]);

  // Register reads (combinational from the window's word).
  logic [95:0] ring_rd_words, ring_wd_words;
  assign ring_rd_words = {13'd0, ring_rdata_q};
  assign ring_wd_words = ring_wdata;
  always_comb begin
    reg_rdata = '0;
    case (32'(reg_addr))
      (REG_ACP_SLOTS - REG_ACP_SLOTS) / 4: reg_rdata = 32'(SLOTS);
      (REG_ACP_RING_LOG2 - REG_ACP_SLOTS) / 4: reg_rdata = 32'(RING_LOG2);
      (REG_ACP_NEIGHBOURS - REG_ACP_SLOTS) / 4: reg_rdata = 32'(NBRS);
      (REG_ACP_FRAMES - REG_ACP_SLOTS) / 4: reg_rdata = frames_q;
      (REG_ACP_DROPS - REG_ACP_SLOTS) / 4: reg_rdata = drops_q;
      (REG_ACP_GIVEN - REG_ACP_SLOTS) / 4: reg_rdata = given_q;
      (REG_ACP_FENCE - REG_ACP_SLOTS) / 4: reg_rdata = fence_q;
      (REG_ACP_BUCKETS - REG_ACP_SLOTS) / 4: reg_rdata = 32'(BUCKETS);
      (REG_ACP_STATUS - REG_ACP_SLOTS) / 4: reg_rdata = {30'd0, refused_q, rec_valid};
      default: ;
    endcase
    for (int i = 0; i < 3; i++) begin
      if (32'(reg_addr) == W_RING_WDATA + i) reg_rdata = ring_wd_words[32*i+:32];
      if (32'(reg_addr) == W_RING_RDATA + i) reg_rdata = ring_rd_words[32*i+:32];
    end
    for (int i = 0; i < 6; i++) if (32'(reg_addr) == W_TAKEN + i) reg_rdata = taken[i];
    for (int i = 0; i < BUCKETS; i++)
      if (32'(reg_addr) == W_BUCKET_GIVEN + i) reg_rdata = given_in_q[i];
    for (int i = 0; i < NBRS; i++) begin
      if (32'(reg_addr) == W_NBR + 4 * i) reg_rdata = nbr_addr[32*i+:32];
      if (32'(reg_addr) == W_NBR + 4 * i + 1) reg_rdata = nbr_mac[48*i+:32];
      if (32'(reg_addr) == W_NBR + 4 * i + 2)
        reg_rdata = {nbr_valid[i], 12'd0, nbr_port[3*i+:3], nbr_mac[48*i+32+:16]};
    end
    for (int i = 0; i < 112; i++) begin
      if (32'(reg_addr) == W_REC + i) reg_rdata = staged[32*i+:32];
      if (32'(reg_addr) == W_RDATA + i) reg_rdata = rec_rdata[32*i+:32];
    end
  end

  // ---------------------------------------------------------------------------------------------
  // The engine's answer for each segment: taken unless it gave the segment back.
  logic punt_seen;
  always_ff @(posedge clk) begin
    if (rst || seg_done) punt_seen <= 1'b0;
    else if (o_tvalid && o_punt) punt_seen <= 1'b1;
  end
  // Never in a command's cycle (the engine is not idle as it answers), so a fenced load sees
  // every answer before it.
  assign gave_back = seg_done && (punt_seen || (o_tvalid && o_punt));

  // The fence buckets of a segment given back, from the first beat the engine gives back (its
  // ports; a segment offered is at least an ACP header, three beats, so this is before seg_done).
  logic o_first;
  logic [5:0] src_bucket_q, dst_bucket_q;
  always_ff @(posedge clk) begin
    if (rst) o_first <= 1'b1;
    else if (o_tvalid && o_tready) o_first <= o_tlast;
    if (o_tvalid && o_tready && o_first && o_punt) begin
      src_bucket_q <= fence_bucket(o_src, {o_tdata[7:0], o_tdata[15:8]});
      dst_bucket_q <= fence_bucket(o_dst, {o_tdata[23:16], o_tdata[31:24]});
    end
  end
  always_ff @(posedge clk) begin
    for (int i = 0; i < BUCKETS; i++)
      if (rst) given_in_q[i] <= '0;
      else if (gave_back && (6'(i) == src_bucket_q || 6'(i) == dst_bucket_q))
        given_in_q[i] <= given_in_q[i] + 1'b1;
  end

  anypoint_acp_tap #(
      .DATA_WIDTH(DATA_WIDTH),
      .FRAME_CAP (FRAME_CAP)
  ) u_tap (
      .clk(clk),
      .rst(rst),
      .s_tdata(s_tdata),
      .s_tkeep(s_tkeep),
      .s_tvalid(s_tvalid),
      .s_tready(s_tready),
      .s_tlast(s_tlast),
      .m_tdata(m_tdata),
      .m_tkeep(m_tkeep),
      .m_tvalid(m_tvalid),
      .m_tready(m_tready),
      .m_tlast(m_tlast),
      .seg_tdata(seg_tdata),
      .seg_tkeep(seg_tkeep),
      .seg_tvalid(seg_tvalid),
      .seg_tready(seg_tready),
      .seg_tlast(seg_tlast),
      .seg_src(seg_src),
      .seg_dst(seg_dst),
      .ans_valid(seg_done),
      .ans_taken(!gave_back),
      .busy(tap_busy)
  );

  anypoint_acp_out #(
      .SLOTS(SLOTS),
      .RING_LOG2(RING_LOG2),
      .MAX_BEATS((FRAME_CAP + 7) / 8)
  ) u_engine (
      .clk(clk),
      .rst(rst),
      .in_tdata(seg_tdata),
      .in_tkeep(seg_tkeep),
      .in_tvalid(seg_tvalid),
      .in_tready(seg_tready),
      .in_tlast(seg_tlast),
      .in_src(seg_src),
      .in_dst(seg_dst),
      .out_tdata(o_tdata),
      .out_tkeep(o_tkeep),
      .out_tvalid(o_tvalid),
      .out_tready(o_tready),
      .out_tlast(o_tlast),
      .out_src(o_src),
      .out_dst(o_dst),
      .out_punt(o_punt),
      .out_len(o_len),
      .seg_done(seg_done),
      .idle(idle),
      .rec_load(rec_load),
      .rec_unload(rec_unload),
      .rec_slot(rec_slot),
      .rec_wdata(staged),
      .rec_rdata(rec_rdata),
      .rec_valid(rec_valid),
      .rec_taken_out_data(taken[0]),
      .rec_taken_out_ack(taken[1]),
      .rec_taken_in_data(taken[2]),
      .rec_taken_in_rtx(taken[3]),
      .rec_taken_in_ack(taken[4]),
      .rec_taken_out_rtx(taken[5]),
      .ring_slot(ring_slot),
      .ring_out(ring_out),
      .ring_idx(ring_idx),
      .ring_rdata(ring_rdata),
      .ring_wr(ring_wr),
      .ring_wr_out(ring_out),
      .ring_wr_slot(ring_slot),
      .ring_wr_idx(ring_idx),
      .ring_wr_data(ring_wdata[82:0])
  );

  anypoint_acp_wrap #(
      .DATA_WIDTH(DATA_WIDTH),
      .NUM_PORTS(NUM_PORTS),
      .NBRS(NBRS)
  ) u_wrap (
      .clk(clk),
      .rst(rst),
      .o_tdata(o_tdata),
      .o_tkeep(o_tkeep),
      .o_tvalid(o_tvalid),
      .o_tready(o_tready),
      .o_tlast(o_tlast),
      .o_src(o_src),
      .o_dst(o_dst),
      .o_punt(o_punt),
      .o_len(o_len),
      .nbr_addr(nbr_addr),
      .nbr_mac(nbr_mac),
      .nbr_port(nbr_port),
      .nbr_valid(nbr_valid),
      .port_mac(port_mac),
      .e_tdata(e_tdata),
      .e_tkeep(e_tkeep),
      .e_tvalid(e_tvalid),
      .e_tready(e_tready),
      .e_tlast(e_tlast),
      .e_port(e_port),
      .sent(sent),
      .dropped(dropped),
      .busy(wrap_busy)
  );

  assign busy = tap_busy || wrap_busy || !idle || reg_busy;
endmodule
`default_nettype wire
