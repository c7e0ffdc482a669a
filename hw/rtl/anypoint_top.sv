`default_nettype none
// anypoint_top: the Anypoint L4 load-balancer pipeline (docs/pipeline.md).
//
// One anypoint_port pipeline per Ethernet ingress port and one for host inject, each with its own
// copies of the tables, so every port can take a frame per cycle. Forwarded frames meet in a
// round-robin arbiter per egress port; host-queue records (punts, learn and state records) in one arbiter
// for the host queue, then through the ACP block (anypoint_acp: the segments of the frame switch's
// flows it holds are taken there, and the frames it sends join the egress arbiters). Registers:
// AXI4-Lite, hw/regmap.toml.
//
// Parameters:
//   DATA_WIDTH        - AXI-Stream data width in bits: 64 or 512.
//   NUM_PORTS         - Ethernet ports (1-8).
//   NUM_SERVICES      - service table entries (1-64).
//   NUM_MEMBERS       - member table entries (1-1024).
//   CONN_BUCKETS_LOG2 - log2 of buckets per connection-table bank (2 banks x 4 ways); 13 = 64K entries.
//   INDIR_SLOTS_LOG2  - log2 of the indirection slots (at most 16).
//   FRAME_FIFO_LOG2   - log2 of each ingress frame FIFO in beats (0 = sized for FRAME_CAP).
//   FRAME_CAP         - longest frame accepted, in bytes (longer frames are dropped as oversize).
//   DESC_LOG2         - log2 of the decided-frame queue per pipeline (8 keeps line rate for every
//                       mix of 60-9018-byte frames; smaller only to fit small FPGAs).
//   CTR_MEMBERS       - members with per-member counters (1024 = the register map; less only to fit
//                       small FPGAs).
//   ACP_SLOTS         - flow slots of the ACP block (0: no block, ACP_SLOTS reads 0 and every host
//                       record passes; else at least 2).
//   ACP_RING_LOG2     - log2 of the ACP block's ring entries per slot and direction.
//   Reset: hold `rst` for at least 16 cycles; `busy` then stays high while the tables, the activity
//   bitmap and the counters clear themselves (also after a SOFT_RESET write).
module anypoint_top #(
    parameter int DATA_WIDTH = 64,
    parameter int NUM_PORTS = 4,
    parameter int NUM_SERVICES = 64,
    parameter int NUM_MEMBERS = 1024,
    parameter int CONN_BUCKETS_LOG2 = 13,
    parameter int INDIR_SLOTS_LOG2 = 16,
    parameter int FRAME_CAP = 16384,
    parameter int FRAME_FIFO_LOG2 = 0,
    parameter int CTR_MEMBERS = 1024,
    parameter int DESC_LOG2 = 8,
    parameter int ACP_SLOTS = 2,
    parameter int ACP_RING_LOG2 = 9,
    localparam int BYTES = DATA_WIDTH / 8
) (
    input wire clk,
    input wire rst,
    // Ethernet ingress, port p in slice p.
    input wire [NUM_PORTS*DATA_WIDTH-1:0] s_axis_eth_tdata,
    input wire [NUM_PORTS*BYTES-1:0] s_axis_eth_tkeep,
    input wire [NUM_PORTS-1:0] s_axis_eth_tvalid,
    output logic [NUM_PORTS-1:0] s_axis_eth_tready,
    input wire [NUM_PORTS-1:0] s_axis_eth_tlast,
    input wire [NUM_PORTS*3-1:0] s_axis_eth_tuser,
    // Ethernet egress, port p in slice p; tuser = the port.
    output logic [NUM_PORTS*DATA_WIDTH-1:0] m_axis_eth_tdata,
    output logic [NUM_PORTS*BYTES-1:0] m_axis_eth_tkeep,
    output logic [NUM_PORTS-1:0] m_axis_eth_tvalid,
    input wire [NUM_PORTS-1:0] m_axis_eth_tready,
    output logic [NUM_PORTS-1:0] m_axis_eth_tlast,
    output logic [NUM_PORTS*3-1:0] m_axis_eth_tuser,
    // Host queue: records (32-byte header + frame).
    output logic [DATA_WIDTH-1:0] m_axis_host_tdata,
    output logic [BYTES-1:0] m_axis_host_tkeep,
    output logic m_axis_host_tvalid,
    input wire m_axis_host_tready,
    output logic m_axis_host_tlast,
    // Host inject: records (4-byte inject header + frame).
    input wire [DATA_WIDTH-1:0] s_axis_inj_tdata,
    input wire [BYTES-1:0] s_axis_inj_tkeep,
    input wire s_axis_inj_tvalid,
    output logic s_axis_inj_tready,
    input wire s_axis_inj_tlast,
    // AXI4-Lite register slave.
    input wire [19:0] s_axil_awaddr,
    input wire s_axil_awvalid,
    output logic s_axil_awready,
    input wire [31:0] s_axil_wdata,
    input wire [3:0] s_axil_wstrb,
    input wire s_axil_wvalid,
    output logic s_axil_wready,
    output logic [1:0] s_axil_bresp,
    output logic s_axil_bvalid,
    input wire s_axil_bready,
    input wire [19:0] s_axil_araddr,
    input wire s_axil_arvalid,
    output logic s_axil_arready,
    output logic [31:0] s_axil_rdata,
    output logic [1:0] s_axil_rresp,
    output logic s_axil_rvalid,
    input wire s_axil_rready,
    // Status: some frame is still inside the pipeline (for test benches and drain logic).
    output logic busy
);
  localparam int NSRC = NUM_PORTS + 1;  // the Ethernet ports, then host inject
  localparam int CONN_IDX_W = CONN_BUCKETS_LOG2 + 3;
  localparam int FIFO_LOG2 = (FRAME_FIFO_LOG2 != 0) ? FRAME_FIFO_LOG2 :
      $clog2((FRAME_CAP + BYTES - 1) / BYTES + 64);

  logic strip_busy;
  logic [NSRC-1:0] port_busy;
  logic [NUM_PORTS-1:0] egress_busy;
  logic host_busy;
  // Everything but the register block is reset by `rst` and by a soft reset's sweep, a cycle
  // later, through a register per block (`keep`: one net to every reset in the design had 760
  // loads across an FPGA): copy s for source s's pipeline, NSRC + p for egress port p, then the
  // counters, the inject strip and the host queue.
  localparam int RST_CTR = NSRC + NUM_PORTS, RST_STRIP = RST_CTR + 1, RST_HOST = RST_CTR + 2;
  localparam int RST_ACP = RST_HOST + 1;
  logic soft_rst;
  logic [RST_ACP:0] core_rst;
  for (genvar k = 0; k <= RST_ACP; k++) begin : g_rst
    (* keep *) always_ff @(posedge clk) core_rst[k] <= rst || soft_rst;
  end
  logic ctr_busy;
  logic [31:0] max_frame;
  logic [127:0] hash_key;
  logic tw_valid, iw_valid;
  logic [3:0] tw_table;
  logic [23:0] tw_index;
  logic [159:0] tw_data;
  logic [15:0] iw_index;
  logic [31:0] iw_data;
  logic ctr_clear, ctr_rd_en, ctr_rd_done;
  logic [15:0] ctr_rd_addr;
  logic [31:0] ctr_rd_data;

  logic [NSRC-1:0] ev_valid, ev_rx, ev_record, ev_outbound, act_valid;
  logic [NSRC*3-1:0] ev_in_port, ev_out_port;
  logic [NSRC*2-1:0] ev_action;
  logic [NSRC*5-1:0] ev_reason;
  logic [NSRC*16-1:0] ev_service, ev_member;
  logic [NSRC*17-1:0] ev_len;
  logic [NSRC*CONN_IDX_W-1:0] act_index;
  logic acp_wr, acp_reg_busy, acp_busy;
  logic [8:0] acp_addr;
  logic [31:0] acp_wdata, acp_rdata;
  // The ACP block's frames to the egress arbiters (source NSRC).
  logic [DATA_WIDTH-1:0] acp_e_tdata;
  logic [BYTES-1:0] acp_e_tkeep;
  logic acp_e_tvalid, acp_e_tready, acp_e_tlast;
  logic [2:0] acp_e_port;

  anypoint_regs #(
      .NUM_PORTS(NUM_PORTS),
      .NUM_SERVICES(NUM_SERVICES),
      .NUM_MEMBERS(NUM_MEMBERS),
      .CONN_BUCKETS_LOG2(CONN_BUCKETS_LOG2),
      .INDIR_SLOTS_LOG2(INDIR_SLOTS_LOG2),
      .NSRC(NSRC)
  ) u_regs (
      .clk(clk),
      .rst(rst),
      .s_axil_awaddr(s_axil_awaddr),
      .s_axil_awvalid(s_axil_awvalid),
      .s_axil_awready(s_axil_awready),
      .s_axil_wdata(s_axil_wdata),
      .s_axil_wstrb(s_axil_wstrb),
      .s_axil_wvalid(s_axil_wvalid),
      .s_axil_wready(s_axil_wready),
      .s_axil_bresp(s_axil_bresp),
      .s_axil_bvalid(s_axil_bvalid),
      .s_axil_bready(s_axil_bready),
      .s_axil_araddr(s_axil_araddr),
      .s_axil_arvalid(s_axil_arvalid),
      .s_axil_arready(s_axil_arready),
      .s_axil_rdata(s_axil_rdata),
      .s_axil_rresp(s_axil_rresp),
      .s_axil_rvalid(s_axil_rvalid),
      .s_axil_rready(s_axil_rready),
      .max_frame(max_frame),
      .hash_key(hash_key),
      .tw_valid(tw_valid),
      .tw_table(tw_table),
      .tw_index(tw_index),
      .tw_data(tw_data),
      .iw_valid(iw_valid),
      .iw_index(iw_index),
      .iw_data(iw_data),
      .ctr_clear(ctr_clear),
      .ctr_rd_en(ctr_rd_en),
      .ctr_rd_addr(ctr_rd_addr),
      .ctr_rd_done(ctr_rd_done),
      .ctr_rd_data(ctr_rd_data),
      .ctr_busy(ctr_busy),
      .act_valid(act_valid),
      .act_index(act_index),
      .acp_wr(acp_wr),
      .acp_addr(acp_addr),
      .acp_wdata(acp_wdata),
      .acp_rdata(acp_rdata),
      .acp_busy(acp_reg_busy),
      .soft_rst(soft_rst)
  );

  anypoint_counters #(
      .NSRC(NSRC),
      .NUM_PORTS(NUM_PORTS),
      .CTR_MEMBERS(CTR_MEMBERS)
  ) u_counters (
      .clk(clk),
      .rst(core_rst[RST_CTR]),
      .clear(ctr_clear),
      .busy(ctr_busy),
      .ev_valid(ev_valid),
      .ev_rx(ev_rx),
      .ev_in_port(ev_in_port),
      .ev_action(ev_action),
      .ev_out_port(ev_out_port),
      .ev_reason(ev_reason),
      .ev_record(ev_record),
      .ev_outbound(ev_outbound),
      .ev_service(ev_service),
      .ev_member(ev_member),
      .ev_len(ev_len),
      .rd_en(ctr_rd_en),
      .rd_addr(ctr_rd_addr),
      .rd_done(ctr_rd_done),
      .rd_data(ctr_rd_data)
  );

  // Host inject: strip the inject header.
  logic [DATA_WIDTH-1:0] inj_tdata;
  logic [BYTES-1:0] inj_tkeep;
  logic inj_tvalid, inj_tready, inj_tlast;
  logic [3:0] inj_tuser;

  anypoint_inject_strip #(
      .DATA_WIDTH(DATA_WIDTH),
      .NUM_PORTS (NUM_PORTS)
  ) u_strip (
      .clk(clk),
      .rst(core_rst[RST_STRIP]),
      .s_axis_tdata(s_axis_inj_tdata),
      .s_axis_tkeep(s_axis_inj_tkeep),
      .s_axis_tvalid(s_axis_inj_tvalid),
      .s_axis_tready(s_axis_inj_tready),
      .s_axis_tlast(s_axis_inj_tlast),
      .m_axis_tdata(inj_tdata),
      .m_axis_tkeep(inj_tkeep),
      .m_axis_tvalid(inj_tvalid),
      .m_axis_tready(inj_tready),
      .m_axis_tlast(inj_tlast),
      .m_axis_tuser(inj_tuser),
      .busy(strip_busy)
  );

  logic [NSRC-1:0] fwd_valid, fwd_tlast, fwd_ready, host_valid, host_tlast, host_ready;
  logic [NSRC*DATA_WIDTH-1:0] fwd_tdata, host_tdata;
  logic [NSRC*BYTES-1:0] fwd_tkeep, host_tkeep;
  logic [NSRC*3-1:0] fwd_port;

  for (genvar s = 0; s < NSRC; s++) begin : g_src
    logic [DATA_WIDTH-1:0] tdata;
    logic [BYTES-1:0] tkeep;
    logic tvalid, tready, tlast;
    logic [3:0] tuser;
    if (s < NUM_PORTS) begin : g_eth
      assign tdata = s_axis_eth_tdata[s*DATA_WIDTH+:DATA_WIDTH];
      assign tkeep = s_axis_eth_tkeep[s*BYTES+:BYTES];
      assign tvalid = s_axis_eth_tvalid[s];
      assign tlast = s_axis_eth_tlast[s];
      assign tuser = {1'b0, 3'(s)};
      assign s_axis_eth_tready[s] = tready;
    end else begin : g_inj
      assign tdata = inj_tdata;
      assign tkeep = inj_tkeep;
      assign tvalid = inj_tvalid;
      assign tlast = inj_tlast;
      assign tuser = inj_tuser;
      assign inj_tready = tready;
    end

    anypoint_port #(
        .DATA_WIDTH(DATA_WIDTH),
        .NUM_PORTS(NUM_PORTS),
        .NUM_SERVICES(NUM_SERVICES),
        .NUM_MEMBERS(NUM_MEMBERS),
        .CONN_BUCKETS_LOG2(CONN_BUCKETS_LOG2),
        .INDIR_SLOTS_LOG2(INDIR_SLOTS_LOG2),
        .FRAME_FIFO_LOG2(FIFO_LOG2),
        .DESC_LOG2(DESC_LOG2),
        .FRAME_CAP(FRAME_CAP)
    ) u_port (
        .clk(clk),
        .rst(core_rst[s]),
        .max_frame(max_frame),
        .hash_key(hash_key),
        .tw_valid(tw_valid),
        .tw_table(tw_table),
        .tw_index(tw_index),
        .tw_data(tw_data),
        .iw_valid(iw_valid),
        .iw_index(iw_index),
        .iw_data(iw_data),
        .injected(s == NUM_PORTS),
        .s_axis_tdata(tdata),
        .s_axis_tkeep(tkeep),
        .s_axis_tvalid(tvalid),
        .s_axis_tready(tready),
        .s_axis_tlast(tlast),
        .s_axis_tuser(tuser),
        .fwd_valid(fwd_valid[s]),
        .fwd_tdata(fwd_tdata[s*DATA_WIDTH+:DATA_WIDTH]),
        .fwd_tkeep(fwd_tkeep[s*BYTES+:BYTES]),
        .fwd_tlast(fwd_tlast[s]),
        .fwd_port(fwd_port[3*s+:3]),
        .fwd_ready(fwd_ready[s]),
        .host_valid(host_valid[s]),
        .host_tdata(host_tdata[s*DATA_WIDTH+:DATA_WIDTH]),
        .host_tkeep(host_tkeep[s*BYTES+:BYTES]),
        .host_tlast(host_tlast[s]),
        .host_ready(host_ready[s]),
        .ev_valid(ev_valid[s]),
        .ev_rx(ev_rx[s]),
        .ev_in_port(ev_in_port[3*s+:3]),
        .ev_action(ev_action[2*s+:2]),
        .ev_out_port(ev_out_port[3*s+:3]),
        .ev_reason(ev_reason[5*s+:5]),
        .ev_record(ev_record[s]),
        .ev_outbound(ev_outbound[s]),
        .ev_service(ev_service[16*s+:16]),
        .ev_member(ev_member[16*s+:16]),
        .ev_len(ev_len[17*s+:17]),
        .act_valid(act_valid[s]),
        .act_index(act_index[CONN_IDX_W*s+:CONN_IDX_W]),
        .busy(port_busy[s])
    );
  end

  // Egress: one arbiter per Ethernet port.
  // Egress sources: the pipelines, then the ACP block.
  localparam int BW = DATA_WIDTH + BYTES;
  localparam int NE = NSRC + 1;
  logic [NE-1:0] e_valid, e_last;
  logic [NE*DATA_WIDTH-1:0] e_data;
  logic [NE*BYTES-1:0] e_keep;
  logic [NE*3-1:0] e_port;
  assign e_valid = {acp_e_tvalid, fwd_valid};
  assign e_last = {acp_e_tlast, fwd_tlast};
  assign e_data = {acp_e_tdata, fwd_tdata};
  assign e_keep = {acp_e_tkeep, fwd_tkeep};
  assign e_port = {acp_e_port, fwd_port};
  logic [NUM_PORTS*NE-1:0] fwd_ready_o;
  for (genvar p = 0; p < NUM_PORTS; p++) begin : g_egress
    logic [NE-1:0] req, rdy;
    logic [NE*BW-1:0] beats;
    logic full, wr;
    logic [BW:0] wdata, rdata;
    logic [3:0] cnt;
    assign egress_busy[p] = cnt != '0;
    for (genvar s = 0; s < NE; s++) begin : g_in
      assign req[s] = e_valid[s] && e_port[3*s+:3] == 3'(p);
      assign beats[s*BW+:BW] = {e_keep[s*BYTES+:BYTES], e_data[s*DATA_WIDTH+:DATA_WIDTH]};
      assign fwd_ready_o[p*NE+s] = rdy[s];
    end
    anypoint_arb #(
        .N(NE),
        .WIDTH(BW)
    ) u_arb (
        .clk(clk),
        .rst(core_rst[NSRC+p]),
        .in_valid(req),
        .in_data(beats),
        .in_last(e_last),
        .in_ready(rdy),
        .out_full(full),
        .out_wr(wr),
        .out_data(wdata)
    );
    anypoint_fifo #(
        .WIDTH(BW + 1),
        .DEPTH_LOG2(2)
    ) u_out (
        .clk(clk),
        .rst(core_rst[NSRC+p]),
        .wr_en(wr),
        .wr_data(wdata),
        .full(full),
        .count(cnt),
        .rd_valid(m_axis_eth_tvalid[p]),
        .rd_data(rdata),
        .rd_en(m_axis_eth_tready[p])
    );
    assign {m_axis_eth_tlast[p], m_axis_eth_tkeep[p*BYTES+:BYTES],
            m_axis_eth_tdata[p*DATA_WIDTH+:DATA_WIDTH]} = rdata;
    assign m_axis_eth_tuser[3*p+:3] = 3'(p);
  end

  always_comb begin
    fwd_ready = '0;
    acp_e_tready = 1'b0;
    for (int p = 0; p < NUM_PORTS; p++) begin
      fwd_ready = fwd_ready | fwd_ready_o[p*NE+:NSRC];
      acp_e_tready = acp_e_tready | fwd_ready_o[p*NE+NSRC];
    end
  end

  // Host queue arbiter.
  logic [NSRC*BW-1:0] host_beats;
  logic host_full, host_wr;
  logic [BW:0] host_wdata, host_rdata;
  logic [3:0] host_cnt;
  assign host_busy = host_cnt != '0;
  assign busy = strip_busy || (|port_busy) || (|egress_busy) || host_busy || soft_rst || ctr_busy ||
      acp_busy;
  for (genvar s = 0; s < NSRC; s++) begin : g_host_in
    assign host_beats[s*BW+:BW] = {host_tkeep[s*BYTES+:BYTES], host_tdata[s*DATA_WIDTH+:DATA_WIDTH]};
  end
  anypoint_arb #(
      .N(NSRC),
      .WIDTH(BW)
  ) u_host_arb (
      .clk(clk),
      .rst(core_rst[RST_HOST]),
      .in_valid(host_valid),
      .in_data(host_beats),
      .in_last(host_tlast),
      .in_ready(host_ready),
      .out_full(host_full),
      .out_wr(host_wr),
      .out_data(host_wdata)
  );
  logic host_rvalid, host_rready;
  anypoint_fifo #(
      .WIDTH(BW + 1),
      .DEPTH_LOG2(2)
  ) u_host_out (
      .clk(clk),
      .rst(core_rst[RST_HOST]),
      .wr_en(host_wr),
      .wr_data(host_wdata),
      .full(host_full),
      .count(host_cnt),
      .rd_valid(host_rvalid),
      .rd_data(host_rdata),
      .rd_en(host_rready)
  );

  if (ACP_SLOTS > 0) begin : g_acp
    anypoint_acp #(
        .DATA_WIDTH(DATA_WIDTH),
        .NUM_PORTS(NUM_PORTS),
        .FRAME_CAP(FRAME_CAP),
        .SLOTS(ACP_SLOTS),
        .RING_LOG2(ACP_RING_LOG2)
    ) u_acp (
        .clk(clk),
        .rst(core_rst[RST_ACP]),
        .s_tdata(host_rdata[DATA_WIDTH-1:0]),
        .s_tkeep(host_rdata[DATA_WIDTH+:BYTES]),
        .s_tvalid(host_rvalid),
        .s_tready(host_rready),
        .s_tlast(host_rdata[BW]),
        .m_tdata(m_axis_host_tdata),
        .m_tkeep(m_axis_host_tkeep),
        .m_tvalid(m_axis_host_tvalid),
        .m_tready(m_axis_host_tready),
        .m_tlast(m_axis_host_tlast),
        .e_tdata(acp_e_tdata),
        .e_tkeep(acp_e_tkeep),
        .e_tvalid(acp_e_tvalid),
        .e_tready(acp_e_tready),
        .e_tlast(acp_e_tlast),
        .e_port(acp_e_port),
        .tw_valid(tw_valid),
        .tw_table(tw_table),
        .tw_index(tw_index),
        .tw_mac({tw_data[32+:16], tw_data[0+:32]}),
        .reg_wr(acp_wr),
        .reg_addr(acp_addr),
        .reg_wdata(acp_wdata),
        .reg_rdata(acp_rdata),
        .reg_busy(acp_reg_busy),
        .busy(acp_busy)
    );
  end else begin : g_no_acp
    assign {m_axis_host_tlast, m_axis_host_tkeep, m_axis_host_tdata} = host_rdata;
    assign m_axis_host_tvalid = host_rvalid;
    assign host_rready = m_axis_host_tready;
    assign {acp_e_tdata, acp_e_tkeep, acp_e_tvalid, acp_e_tlast, acp_e_port} = '0;
    assign acp_rdata = '0;
    assign {acp_reg_busy, acp_busy} = '0;
  end
endmodule
`default_nettype wire
