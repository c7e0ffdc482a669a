`default_nettype none
// anypoint_acp_wrap: the frames of the segments the ACP engine sends (docs/pipeline.md section 12).
// Each segment it sends (out_punt = 0) goes to the first valid neighbour entry of its destination:
// Ethernet to the entry's MAC from its port's MAC, EtherType 0x0800, a 20-byte IPv4 header
// (identification 0, DF, TTL 64, protocol 253, its checksum), the segment, zero padding to 60
// bytes, out of the entry's port. A segment with no valid entry, or an entry naming a port the
// device does not have, is dropped (`dropped`, a pulse). A segment given back (out_punt = 1) is
// drained here: the tap sends its record on.
//
// Per segment: a cycle to look the neighbour up, one for the header and its checksum, then the
// frame in 8-byte groups (the 34-byte header shifts the segment by 2 bytes: group b >= 4 holds the
// last 2 bytes of segment beat b - 5 and the first 6 of beat b - 4), packed NG to a beat.
//
// Parameters:
//   DATA_WIDTH - width of the frames out (64 or 512).
//   NUM_PORTS  - Ethernet ports.
//   NBRS       - neighbour entries.
module anypoint_acp_wrap #(
    parameter int DATA_WIDTH = 64,
    parameter int NUM_PORTS = 4,
    parameter int NBRS = 16,
    localparam int BYTES = DATA_WIDTH / 8
) (
    input wire clk,
    input wire rst,
    // The engine's segments out.
    input wire [63:0] o_tdata,
    input wire [7:0] o_tkeep,
    input wire o_tvalid,
    output logic o_tready,
    input wire o_tlast,
    input wire [31:0] o_src,
    input wire [31:0] o_dst,
    input wire o_punt,
    input wire [15:0] o_len,
    // Neighbour table and port MACs.
    input wire [NBRS*32-1:0] nbr_addr,
    input wire [NBRS*48-1:0] nbr_mac,
    input wire [NBRS*3-1:0] nbr_port,
    input wire [NBRS-1:0] nbr_valid,
    input wire [NUM_PORTS*48-1:0] port_mac,
    // Frames out.
    output logic [DATA_WIDTH-1:0] e_tdata,
    output logic [BYTES-1:0] e_tkeep,
    output logic e_tvalid,
    input wire e_tready,
    output logic e_tlast,
    output logic [2:0] e_port,
    output logic sent,
    output logic dropped,
    output logic busy
);
  localparam int NG = BYTES / 8;
  localparam int GW = (NG > 1) ? $clog2(NG) : 1;

  typedef enum logic [2:0] {
    W_IDLE,
    W_HDR,
    W_SEND,
    W_DRAIN,
    W_DROP
  } wstate_t;
  wstate_t st;

  // Lookup, in W_IDLE: the first valid entry of the destination.
  logic hit;
  logic [47:0] mac;
  logic [2:0] port;
  always_comb begin
    hit = 1'b0;
    mac = '0;
    port = '0;
    for (int i = NBRS - 1; i >= 0; i--) begin
      if (nbr_valid[i] && nbr_addr[32*i+:32] == o_dst) begin
        hit = 1'b1;
        mac = nbr_mac[48*i+:48];
        port = nbr_port[3*i+:3];
      end
    end
  end

  logic [47:0] dmac_q, smac_q;
  logic [15:0] total_q, csum_q;
  logic [31:0] src_q, dst_q;
  logic [15:0] flen_q;  // frame bytes, padding included
  logic [271:0] hdr;
  logic [15:0] gi;  // 8-byte group of the frame being sent
  logic [15:0] carry;  // last 2 bytes of the segment beat before
  logic g_valid, g_last, g_take, g_seg;
  logic [63:0] g_data, seg_masked;
  logic [7:0] g_keep;

  function automatic logic [15:0] fold(input logic [19:0] s);
    logic [16:0] t;
    t = {1'b0, s[15:0]} + {13'd0, s[19:16]};
    fold = t[15:0] + {15'd0, t[16]};
  endfunction

  // Frame bytes 0..33, byte i at bits 8i+7:8i.
  function automatic logic [7:0] mb(input logic [47:0] m, input int i);
    mb = m[8*(5-i)+:8];
  endfunction
  always_comb begin
    for (int i = 0; i < 6; i++) begin
      hdr[8*i+:8] = mb(dmac_q, i);
      hdr[8*(6+i)+:8] = mb(smac_q, i);
    end
    hdr[96+:16] = 16'h0008;
    hdr[112+:16] = 16'h0045;
    hdr[128+:16] = {total_q[7:0], total_q[15:8]};
    hdr[144+:16] = 16'h0000;
    hdr[160+:16] = 16'h0040;
    hdr[176+:16] = 16'hfd40;
    hdr[192+:16] = {csum_q[7:0], csum_q[15:8]};
    for (int k = 0; k < 4; k++) begin
      hdr[208+8*k+:8] = src_q[31-8*k-:8];
      hdr[240+8*k+:8] = dst_q[31-8*k-:8];
    end
  end

  // The segment beat with the bytes past its end zero (they become padding).
  always_comb
    for (int j = 0; j < 8; j++) seg_masked[8*j+:8] = o_tkeep[j] ? o_tdata[8*j+:8] : 8'd0;

  // Group gi of the frame: header, then segment beats (one taken per group from group 4 while
  // the segment lasts), then what is left of the last beat and zero padding.
  logic seg_left;  // segment beats remain
  always_comb begin
    g_seg = st == W_SEND && gi >= 16'd4 && seg_left;
    g_valid = st == W_SEND && (!g_seg || o_tvalid);
    g_last = {gi, 3'd0} + 19'd8 >= {3'd0, flen_q};
    if (gi < 16'd4) g_data = hdr[64*gi[1:0]+:64];
    else if (gi == 16'd4) g_data = {g_seg ? seg_masked[47:0] : 48'd0, hdr[256+:16]};
    else g_data = {g_seg ? seg_masked[47:0] : 48'd0, carry};
    g_keep = g_last ? 8'((9'd1 << flen_q[2:0]) - 9'd1) : 8'hff;
    if (g_last && flen_q[2:0] == 3'd0) g_keep = 8'hff;
  end

  // Packing NG groups to a beat.
  logic [DATA_WIDTH-1:0] w_data;
  logic [BYTES-1:0] w_keep;
  logic [GW-1:0] w_n;
  logic w_full, w_last;
  logic g_fits;
  assign g_fits = !w_full || e_tready;
  assign g_take = g_valid && g_fits;
  assign o_tready = (st == W_SEND && g_seg && g_fits) || st == W_DRAIN || st == W_DROP;
  assign e_tvalid = w_full;
  assign e_tdata = w_data;
  assign e_tkeep = w_keep;
  assign e_tlast = w_last;

  always_ff @(posedge clk) begin
    if (st == W_IDLE && !w_full) begin
      dmac_q <= mac;
      smac_q <= port_mac[48*(32'(port) % NUM_PORTS)+:48];
      e_port <= port;
      total_q <= o_len + 16'd20;
      flen_q <= (o_len + 16'd34 < 16'd60) ? 16'd60 : o_len + 16'd34;
      src_q <= o_src;
      dst_q <= o_dst;
    end
    if (st == W_HDR)
      csum_q <= ~fold(20'h04500 + {4'd0, total_q} + 20'h04000 + 20'h040fd + {4'd0, src_q[31:16]} +
          {4'd0, src_q[15:0]} + {4'd0, dst_q[31:16]} + {4'd0, dst_q[15:0]});
    if (g_take && g_seg) carry <= seg_masked[63:48];
    if (g_take && !g_seg) carry <= '0;
  end

  always_ff @(posedge clk) begin
    sent <= 1'b0;
    dropped <= 1'b0;
    if (rst) begin
      st <= W_IDLE;
      w_full <= 1'b0;
      w_n <= '0;
      gi <= '0;
      seg_left <= 1'b0;
    end else begin
      if (w_full && e_tready) w_full <= 1'b0;
      case (st)
        // A frame's last beat leaves before the next segment is looked at (its port is held).
        W_IDLE:
        if (o_tvalid && !w_full) begin
          if (o_punt) st <= W_DRAIN;
          else if (!hit || 32'(port) >= NUM_PORTS) st <= W_DROP;
          else st <= W_HDR;
        end
        W_HDR: begin
          st <= W_SEND;
          gi <= '0;
          seg_left <= 1'b1;
        end
        W_SEND:
        if (g_take) begin
          gi <= gi + 1'b1;
          if (g_seg && o_tlast) seg_left <= 1'b0;
          if (g_last) begin
            st <= W_IDLE;
            sent <= 1'b1;
          end
        end
        W_DRAIN: if (o_tvalid && o_tlast) st <= W_IDLE;
        W_DROP:
        if (o_tvalid && o_tlast) begin
          st <= W_IDLE;
          dropped <= 1'b1;
        end
        default: st <= W_IDLE;
      endcase
      if (g_take) begin
        w_n <= (g_last || 32'(w_n) == NG - 1) ? '0 : w_n + 1'b1;
        w_full <= g_last || 32'(w_n) == NG - 1;
        w_last <= g_last;
      end
    end
  end

  always_ff @(posedge clk) begin
    if (g_take) begin
      if (w_n == '0) begin
        w_data <= '0;
        w_keep <= '0;
      end
      w_data[64*w_n+:64] <= g_data;
      w_keep[8*w_n+:8] <= g_keep;
    end
  end

  assign busy = st != W_IDLE || w_full;
endmodule
`default_nettype wire
