`default_nettype none
// anypoint_act: the activity bitmap (ACT region, one bit per connection entry) in block RAM.
//
// Every source (pipeline) may set a bit each cycle, all in the same word, so the bitmap is one
// 1-bit-wide RAM per source: port A only ever writes 1 at the source's hit (no read-modify-write,
// no conflict between sources), port B serves the register block a bit per cycle: a word read is
// the OR over the sources' banks of 32 bits (34 cycles), a write-one-to-clear clears the word's
// marked bits in every bank (33 cycles), and the reset sweep clears bit `init_addr`. A hit and a
// clear of the same bit in one cycle: the clear is skipped (the hit is the later event), so port B
// never writes where port A does. 65536 entries x 5 sources is 10 RAMB36 instead of 65536 flip-flops.
//
// Parameters: NSRC sources, IDX_W bits of a connection-entry index.
module anypoint_act #(
    parameter int NSRC = 5,
    parameter int IDX_W = 7,
    localparam int BITS = ((1 << IDX_W) + 31) / 32 * 32,
    localparam int WORD_W = (BITS > 32) ? $clog2(BITS / 32) : 1
) (
    input wire clk,
    input wire rst,
    input wire [NSRC-1:0] set_valid,
    input wire [NSRC*IDX_W-1:0] set_index,
    // Reset sweep: clear this bit.
    input wire init_valid,
    input wire [IDX_W-1:0] init_addr,
    // Register access, one at a time: start a read or a clear of `word` (bits `mask`).
    input wire rd_start,
    input wire clr_start,
    input wire [WORD_W-1:0] word,
    input wire [31:0] mask,
    output logic busy,
    output logic [31:0] rd_word
);
  localparam int AW = $clog2(BITS);

  typedef enum logic [1:0] {
    IDLE,
    READ,
    CLEAR
  } op_t;
  op_t op;
  logic [4:0] n;  // bit of the word on port B this cycle
  logic [WORD_W-1:0] word_q;
  logic [31:0] mask_q;  // shifted down a bit per cycle: bit 0 is bit `n` of the mask
  logic rd_v1, rd_v;  // port B read data valid next cycle / this cycle, for bit `rd_n`
  logic [4:0] rd_n1, rd_n;
  logic [NSRC-1:0] q;

  // Port B's address and clear are registered: the address mux sat in front of the bitmap read
  // mux and the clear's address compare.
  logic [AW-1:0] b_addr;
  logic b_clear;
  always_ff @(posedge clk) begin
    b_addr <= init_valid ? AW'(init_addr) : AW'({word_q, n});
    b_clear <= !rst && (init_valid || (op == CLEAR && mask_q[0]));
  end
  assign busy = op != IDLE || rd_v1 || rd_v || b_clear;

  always_ff @(posedge clk) begin
    if (rst) begin
      op <= IDLE;
      rd_v1 <= 1'b0;
      rd_v <= 1'b0;
    end else begin
      rd_v1 <= op == READ;
      rd_n1 <= n;
      rd_v <= rd_v1;
      rd_n <= rd_n1;
      if (rd_v) rd_word[rd_n] <= |q;
      case (op)
        IDLE: begin
          n <= '0;
          word_q <= word;
          mask_q <= mask;
          if (rd_start) op <= READ;
          else if (clr_start) op <= CLEAR;
        end
        default: begin
          n <= n + 1'b1;
          mask_q <= mask_q >> 1;
          if (n == 5'd31) op <= IDLE;
        end
      endcase
    end
  end

  for (genvar s = 0; s < NSRC; s++) begin : g_bank
    logic mem[BITS];
    logic [AW-1:0] a_addr;
    logic a_set, b_we;
    assign a_addr = AW'(set_index[s*IDX_W+:IDX_W]);
    assign a_set = set_valid[s];
    assign b_we = b_clear && !(a_set && a_addr == b_addr);
    always_ff @(posedge clk) begin
      if (a_set) mem[a_addr] <= 1'b1;
      if (b_we) mem[b_addr] <= 1'b0;
      q[s] <= mem[b_addr];
    end
  end
endmodule
`default_nettype wire
