`default_nettype none
// anypoint_fifo: synchronous first-word-fall-through FIFO on an inferable RAM with a registered read.
//
// Parameters:
//   WIDTH      - bits per entry.
//   DEPTH_LOG2 - log2 of the RAM entries (the output register holds one more).
//   FULL_EARLY - 1: `full` rises one entry early, for a writer whose write lands a cycle after it
//                saw `full` low (that write always fits, so it is not checked against `full`).
//   LANE_BITS  - 0: one lane. Else the entry is stored in lanes of LANE_BITS bits (the last one
//                narrower), each with its own copy of the pointers, count and flags (`keep`, so
//                synthesis does not merge them): a wide FIFO's read pointer and load enable
//                otherwise drive every bit of its RAM and output register, ~900 loads for the
//                descriptor FIFO, spread over a full FPGA. The lanes always hold the same state;
//                `full`, `count` and `rd_valid` are lane 0's.
//
// A write is accepted when `full` is low. `rd_valid`/`rd_data` show the head; `rd_en` pops it.
// Latency from write to `rd_valid` is two cycles.
module anypoint_fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH_LOG2 = 4,
    parameter int FULL_EARLY = 0,
    parameter int LANE_BITS = 128
) (
    input wire clk,
    input wire rst,
    input wire wr_en,
    input wire [WIDTH-1:0] wr_data,
    output logic full,
    output logic [DEPTH_LOG2+1:0] count,
    output logic rd_valid,
    output logic [WIDTH-1:0] rd_data,
    input wire rd_en
);
  localparam int DEPTH = 1 << DEPTH_LOG2;
  localparam int LW = (LANE_BITS == 0 || LANE_BITS > WIDTH) ? WIDTH : LANE_BITS;
  localparam int LANES = (WIDTH + LW - 1) / LW;

  for (genvar l = 0; l < LANES; l++) begin : g_lane
    localparam int LO = l * LW;
    localparam int W = (LO + LW > WIDTH) ? WIDTH - LO : LW;

    logic [W-1:0] mem[DEPTH];
    logic [W-1:0] rd_q;
    logic rd_valid_q;
    logic [DEPTH_LOG2-1:0] wr_ptr, rd_ptr;
    logic [DEPTH_LOG2:0] mem_count;  // entries in the RAM
    logic load, wr;
    // Registered mem_count >= DEPTH - FULL_EARLY and mem_count != 0 (and the count itself rather
    // than a pointer difference): the compares were too long in front of the writer's ready and
    // the pops.
    logic full_q, filled_q;

    assign wr = wr_en && (FULL_EARLY != 0 || !full_q);
    assign load = rd_en ? filled_q : filled_q && !rd_valid_q;

    always_ff @(posedge clk) begin
      if (wr) mem[wr_ptr] <= wr_data[LO+:W];
      if (load) rd_q <= mem[rd_ptr];
    end

    // The count's +1 and -1 are taken from the register, off the push and pop paths; those only
    // pick one of them (an add behind the pop decision was the emitter's longest path). The pop
    // arrives last (the emitter's and the arbiters' handshakes), so every next state is made for
    // both a pop (1) and none (0), and `rd_en` picks one.
    logic [DEPTH_LOG2:0] count_inc, count_dec;
    assign count_inc = mem_count + 1'b1;
    assign count_dec = mem_count - 1'b1;

    localparam int CW = DEPTH_LOG2 + 1;
    logic [2*CW-1:0] count_n;
    logic [1:0] full_n, filled_n;
    for (genvar p = 0; p < 2; p++) begin : g_next
      logic ld, inc, dec;
      assign ld = filled_q && (p == 1 || !rd_valid_q);
      assign inc = wr && !ld;
      assign dec = !wr && ld;
      assign count_n[p*CW+:CW] = inc ? count_inc : dec ? count_dec : mem_count;
      assign full_n[p] = inc ? mem_count >= (DEPTH_LOG2 + 1)'(DEPTH - 1 - FULL_EARLY) :
          dec ? {1'b0, mem_count} >= (DEPTH_LOG2 + 2)'(DEPTH + 1 - FULL_EARLY) : full_q;
      assign filled_n[p] = wr || (filled_q && !(ld && mem_count == (DEPTH_LOG2 + 1)'(1)));
    end

    (* keep *) always_ff @(posedge clk) begin
      if (rst) begin
        wr_ptr <= '0;
        rd_ptr <= '0;
        mem_count <= '0;
        rd_valid_q <= 1'b0;
        full_q <= 1'b0;
        filled_q <= 1'b0;
      end else begin
        mem_count <= rd_en ? count_n[CW+:CW] : count_n[0+:CW];
        full_q <= full_n[rd_en];
        filled_q <= filled_n[rd_en];
        if (wr) wr_ptr <= wr_ptr + 1'b1;
        if (load) begin
          rd_ptr <= rd_ptr + 1'b1;
          rd_valid_q <= 1'b1;
        end else if (rd_en) begin
          rd_valid_q <= 1'b0;
        end
      end
    end
    assign rd_data[LO+:W] = rd_q;
    if (l == 0) begin : g_flags
      assign full = full_q;
      assign rd_valid = rd_valid_q;
      assign count = {1'b0, mem_count} + {{(DEPTH_LOG2 + 1) {1'b0}}, rd_valid_q};
    end
  end
endmodule
`default_nettype wire
