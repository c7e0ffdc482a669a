`default_nettype none
// anypoint_decide_harness: register harness around anypoint_decide alone, the decision pipeline of
// one ingress source, in the ECP5 geometry of anypoint_synth_harness (hw/synth/ecp5.sh with
// TOP=anypoint_decide_harness): a place and route of a fifth of the part that finishes in minutes
// where the whole harness takes hours, with nextpnr's critical path. As there,
// inputs come from a shift chain on one pin and outputs are folded into a register whose parity
// leaves on one pin, so that pins do not limit the figure.
module anypoint_decide_harness (
    input wire clk,
    input wire rst,
    input wire din,
    output logic dout
);
  localparam int CB = 4;
  localparam int IDX = CB + 3;
  localparam int IN_W = 128 + 1 + 4 + 24 + 160 + 1 + 16 + 32 + 1 + 1024 + 17 + 8 + 1 + 3 + 1 + 1 + 16;
  localparam int OUT_W = 1 + 2 + 3 + 1 + 512 + 64 + 256 + 17 + 16 + 1 + 1 + 3 + 2 + 3 + 5 + 1 + 1 +
      16 + 16 + 17 + 1 + IDX;
  logic [IN_W-1:0] in_q;
  logic [OUT_W-1:0] out_w;
  logic rst_q;
  anypoint_harness_io #(
      .IN_W (IN_W),
      .OUT_W(OUT_W)
  ) u_io (
      .clk(clk),
      .rst(rst),
      .din(din),
      .dout(dout),
      .in_q(in_q),
      .rst_q(rst_q),
      .out_w(out_w)
  );
  logic [127:0] hash_key;
  logic tw_valid, iw_valid, in_valid, in_oversize, in_inj, in_direct;
  logic [3:0] tw_table;
  logic [23:0] tw_index;
  logic [159:0] tw_data;
  logic [15:0] iw_index, in_beats;
  logic [31:0] iw_data;
  logic [1023:0] in_hdr;
  logic [16:0] in_len;
  logic [7:0] in_vlan;
  logic [2:0] in_port;
  assign {hash_key, tw_valid, tw_table, tw_index, tw_data, iw_valid, iw_index, iw_data, in_valid,
          in_hdr, in_len, in_vlan, in_oversize, in_port, in_inj, in_direct, in_beats} = in_q;
  anypoint_decide #(
      .NUM_PORTS(1),
      .NUM_SERVICES(4),
      .NUM_MEMBERS(8),
      .CONN_BUCKETS_LOG2(CB),
      .INDIR_SLOTS_LOG2(10),
      .HDR_BYTES(128)
  ) u_decide (
      .clk(clk),
      .rst(rst_q),
      .hash_key(hash_key),
      .tw_valid(tw_valid),
      .tw_table(tw_table),
      .tw_index(tw_index),
      .tw_data(tw_data),
      .iw_valid(iw_valid),
      .iw_index(iw_index),
      .iw_data(iw_data),
      .in_valid(in_valid),
      .in_hdr(in_hdr),
      .in_len(in_len),
      .in_vlan(in_vlan),
      .in_oversize(in_oversize),
      .in_port(in_port),
      .in_inj(in_inj),
      .in_direct(in_direct),
      .in_beats(in_beats),
      .out_valid(out_w[0]),
      .out_action(out_w[2:1]),
      .out_port(out_w[5:3]),
      .out_record(out_w[6]),
      .out_rw_data(out_w[518:7]),
      .out_rw_mask(out_w[582:519]),
      .out_hhdr(out_w[838:583]),
      .out_len(out_w[855:839]),
      .out_beats(out_w[871:856]),
      .ev_valid(out_w[872]),
      .ev_rx(out_w[873]),
      .ev_in_port(out_w[876:874]),
      .ev_action(out_w[878:877]),
      .ev_out_port(out_w[881:879]),
      .ev_reason(out_w[886:882]),
      .ev_record(out_w[887]),
      .ev_outbound(out_w[888]),
      .ev_service(out_w[904:889]),
      .ev_member(out_w[920:905]),
      .ev_len(out_w[937:921]),
      .act_valid(out_w[938]),
      .act_index(out_w[939+:IDX])
  );
endmodule
`default_nettype wire
