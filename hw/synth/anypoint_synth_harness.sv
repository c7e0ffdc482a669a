`default_nettype none
// anypoint_synth_harness: register harness around anypoint_top for place-and-route figures, so that
// pins do not limit Fmax. Every input of the pipeline comes from a register fed by a shift chain on
// one pin; every output is folded into a register whose parity leaves on one pin.
//
// Parameters: as anypoint_top (DATA_WIDTH, NUM_PORTS, table sizes, FRAME_CAP, CTR_MEMBERS, DESC_LOG2,
// ACP_SLOTS); the defaults are the ECP5 geometry of docs/synthesis.md (tables cut down so the
// LFE5UM-85F holds the Ethernet and the host-inject pipeline).
module anypoint_synth_harness #(
    parameter int DATA_WIDTH = 64,
    parameter int NUM_PORTS = 1,
    parameter int NUM_SERVICES = 4,
    parameter int NUM_MEMBERS = 8,
    parameter int CONN_BUCKETS_LOG2 = 4,
    parameter int INDIR_SLOTS_LOG2 = 10,
    parameter int FRAME_CAP = 2048,
    parameter int CTR_MEMBERS = 8,
    parameter int DESC_LOG2 = 5,
    // The ACP block is left out: the pipeline alone fills 78% of the part (docs/synthesis.md).
    parameter int ACP_SLOTS = 0
) (
    input wire clk,
    input wire rst,
    input wire din,
    output logic dout
);
  localparam int BYTES = DATA_WIDTH / 8;
  localparam int IN_W = NUM_PORTS * (DATA_WIDTH + BYTES + 3 + 1 + 1) + NUM_PORTS + 1 +
      (DATA_WIDTH + BYTES + 2) + 20 + 1 + 32 + 4 + 1 + 1 + 20 + 1 + 1;
  localparam int OUT_W = NUM_PORTS + NUM_PORTS * (DATA_WIDTH + BYTES + 1 + 3 + 1) +
      (DATA_WIDTH + BYTES + 2) + 1 + 1 + 1 + 2 + 1 + 1 + 32 + 2 + 1 + 1;

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

  logic [NUM_PORTS*DATA_WIDTH-1:0] s_tdata, m_tdata;
  logic [NUM_PORTS*BYTES-1:0] s_tkeep, m_tkeep;
  logic [NUM_PORTS-1:0] s_tvalid, s_tready, s_tlast, m_tvalid, m_tready, m_tlast;
  logic [NUM_PORTS*3-1:0] s_tuser, m_tuser;
  logic [DATA_WIDTH-1:0] h_tdata, i_tdata;
  logic [BYTES-1:0] h_tkeep, i_tkeep;
  logic h_tvalid, h_tready, h_tlast, i_tvalid, i_tready, i_tlast;
  logic [19:0] awaddr, araddr;
  logic awvalid, awready, wvalid, wready, bvalid, bready, arvalid, arready, rvalid, rready;
  logic [31:0] wdata, rdata;
  logic [3:0] wstrb;
  logic [1:0] bresp, rresp;
  logic busy;

  assign {s_tdata, s_tkeep, s_tvalid, s_tlast, s_tuser, m_tready, h_tready, i_tdata, i_tkeep, i_tvalid,
          i_tlast, awaddr, awvalid, wdata, wstrb, wvalid, bready, araddr, arvalid, rready} = in_q;
  assign out_w = {s_tready, m_tdata, m_tkeep, m_tvalid, m_tlast, m_tuser, h_tdata, h_tkeep, h_tvalid,
                  h_tlast, i_tready, awready, wready, bresp, bvalid, arready, rdata, rresp, rvalid, busy};

  anypoint_top #(
      .DATA_WIDTH(DATA_WIDTH),
      .NUM_PORTS(NUM_PORTS),
      .NUM_SERVICES(NUM_SERVICES),
      .NUM_MEMBERS(NUM_MEMBERS),
      .CONN_BUCKETS_LOG2(CONN_BUCKETS_LOG2),
      .INDIR_SLOTS_LOG2(INDIR_SLOTS_LOG2),
      .FRAME_CAP(FRAME_CAP),
      .CTR_MEMBERS(CTR_MEMBERS),
      .DESC_LOG2(DESC_LOG2),
      .ACP_SLOTS(ACP_SLOTS)
  ) u_top (
      .clk(clk),
      .rst(rst_q),
      .s_axis_eth_tdata(s_tdata),
      .s_axis_eth_tkeep(s_tkeep),
      .s_axis_eth_tvalid(s_tvalid),
      .s_axis_eth_tready(s_tready),
      .s_axis_eth_tlast(s_tlast),
      .s_axis_eth_tuser(s_tuser),
      .m_axis_eth_tdata(m_tdata),
      .m_axis_eth_tkeep(m_tkeep),
      .m_axis_eth_tvalid(m_tvalid),
      .m_axis_eth_tready(m_tready),
      .m_axis_eth_tlast(m_tlast),
      .m_axis_eth_tuser(m_tuser),
      .m_axis_host_tdata(h_tdata),
      .m_axis_host_tkeep(h_tkeep),
      .m_axis_host_tvalid(h_tvalid),
      .m_axis_host_tready(h_tready),
      .m_axis_host_tlast(h_tlast),
      .s_axis_inj_tdata(i_tdata),
      .s_axis_inj_tkeep(i_tkeep),
      .s_axis_inj_tvalid(i_tvalid),
      .s_axis_inj_tready(i_tready),
      .s_axis_inj_tlast(i_tlast),
      .s_axil_awaddr(awaddr),
      .s_axil_awvalid(awvalid),
      .s_axil_awready(awready),
      .s_axil_wdata(wdata),
      .s_axil_wstrb(wstrb),
      .s_axil_wvalid(wvalid),
      .s_axil_wready(wready),
      .s_axil_bresp(bresp),
      .s_axil_bvalid(bvalid),
      .s_axil_bready(bready),
      .s_axil_araddr(araddr),
      .s_axil_arvalid(arvalid),
      .s_axil_arready(arready),
      .s_axil_rdata(rdata),
      .s_axil_rresp(rresp),
      .s_axil_rvalid(rvalid),
      .s_axil_rready(rready),
      .busy(busy)
  );
endmodule
`default_nettype wire
