`default_nettype none
// anypoint_harness_io: the pins of a synthesis harness. IN_W input bits come from a shift chain on
// one pin (`din`), OUT_W output bits are registered and folded into one pin (`dout`), and the reset
// is registered, so that a place and route times the logic between them, not the pins.
module anypoint_harness_io #(
    parameter int IN_W = 1,
    parameter int OUT_W = 1
) (
    input wire clk,
    input wire rst,
    input wire din,
    output logic dout,
    output logic [IN_W-1:0] in_q,
    output logic rst_q,
    input wire [OUT_W-1:0] out_w
);
  logic [OUT_W-1:0] out_q;
  always_ff @(posedge clk) begin
    in_q <= {in_q[IN_W-2:0], din};
    rst_q <= rst;
    out_q <= out_w;
    dout <= ^out_q;
  end
endmodule
`default_nettype wire
