`default_nettype none
// anypoint_arb: packet-granular round-robin arbiter of N streams onto one output FIFO. Once a
// stream's first beat is taken the grant stays with it until its last beat.
//
// Parameters:
//   N     - input streams.
//   WIDTH - bits per beat, the `last` flag excluded.
module anypoint_arb #(
    parameter int N = 4,
    parameter int WIDTH = 64
) (
    input wire clk,
    input wire rst,
    input wire [N-1:0] in_valid,
    input wire [N*WIDTH-1:0] in_data,
    input wire [N-1:0] in_last,
    output logic [N-1:0] in_ready,
    input wire out_full,
    output logic out_wr,
    output logic [WIDTH:0] out_data  // {last, data}
);
  localparam int SW = (N > 1) ? $clog2(N) : 1;

  logic active;
  logic [SW-1:0] sel_q, rr_q, pick;
  logic any;

  always_comb begin
    pick = sel_q;
    any = 1'b0;
    if (!active) begin
      for (int k = N - 1; k >= 0; k--) begin
        // Lowest index at or after the round-robin pointer, then wrapping.
        if (in_valid[k] && SW'(k) < rr_q) begin
          pick = SW'(k);
          any = 1'b1;
        end
      end
      for (int k = N - 1; k >= 0; k--) begin
        if (in_valid[k] && SW'(k) >= rr_q) begin
          pick = SW'(k);
          any = 1'b1;
        end
      end
    end else any = in_valid[sel_q];
    out_wr = any && !out_full;
    in_ready = '0;
    in_ready[pick] = out_wr;
    out_data = {in_last[pick], in_data[pick*WIDTH+:WIDTH]};
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      active <= 1'b0;
      sel_q <= '0;
      rr_q <= '0;
    end else if (out_wr) begin
      sel_q <= pick;
      active <= !in_last[pick];
      if (in_last[pick]) rr_q <= (32'(pick) == N - 1) ? '0 : pick + 1'b1;
    end
  end
endmodule
`default_nettype wire
