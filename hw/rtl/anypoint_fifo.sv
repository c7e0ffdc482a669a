`default_nettype none
// anypoint_fifo: synchronous first-word-fall-through FIFO on an inferable RAM with a registered read.
//
// Parameters:
//   WIDTH      - bits per entry.
//   DEPTH_LOG2 - log2 of the RAM entries (the output register holds one more).
//
// A write is accepted when `full` is low. `rd_valid`/`rd_data` show the head; `rd_en` pops it.
// Latency from write to `rd_valid` is two cycles.
module anypoint_fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH_LOG2 = 4
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

  logic [WIDTH-1:0] mem[DEPTH];
  logic [DEPTH_LOG2:0] wr_ptr, rd_ptr;
  logic [DEPTH_LOG2:0] mem_count;
  logic load;

  assign mem_count = wr_ptr - rd_ptr;
  assign full = mem_count == (DEPTH_LOG2 + 1)'(DEPTH);
  assign count = {1'b0, mem_count} + {{(DEPTH_LOG2 + 1) {1'b0}}, rd_valid};
  assign load = (mem_count != '0) && (!rd_valid || rd_en);

  always_ff @(posedge clk) begin
    if (wr_en && !full) mem[wr_ptr[DEPTH_LOG2-1:0]] <= wr_data;
    if (load) rd_data <= mem[rd_ptr[DEPTH_LOG2-1:0]];
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      wr_ptr <= '0;
      rd_ptr <= '0;
      rd_valid <= 1'b0;
    end else begin
      if (wr_en && !full) wr_ptr <= wr_ptr + 1'b1;
      if (load) begin
        rd_ptr <= rd_ptr + 1'b1;
        rd_valid <= 1'b1;
      end else if (rd_en) begin
        rd_valid <= 1'b0;
      end
    end
  end
endmodule
`default_nettype wire
