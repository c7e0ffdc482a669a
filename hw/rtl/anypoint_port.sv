`default_nettype none
// anypoint_port: the whole path of one ingress source: frame capture, frame FIFO, decision
// pipeline, descriptor FIFO and emitter, with a forward channel (to the Ethernet egress arbiters)
// and a host channel (to the host-queue arbiter).
//
// Admission control: a new frame starts only while fewer than 2^DESC_LOG2 frames are between
// capture and emitter, so the non-stalling decision pipeline always finds room in the descriptor
// FIFO. With the outputs always ready the emitter drains a beat per cycle and ingress never stalls.
//
// Parameters:
//   DATA_WIDTH, NUM_PORTS, NUM_SERVICES, NUM_MEMBERS, CONN_BUCKETS_LOG2, INDIR_SLOTS_LOG2: as anypoint_top.
//   FRAME_FIFO_LOG2 - log2 of the frame FIFO beats.
//   DESC_LOG2       - log2 of the descriptor FIFO entries: frames decided but not yet emitted. While a
//                     9018-byte frame is emitted, the minimum-size frames behind it (up to 141 at 512
//                     bits) wait here, so 256 keeps ingress at line rate for any mix of sizes.
//   FRAME_CAP       - longest frame stored, in bytes (longer ones are oversize).
module anypoint_port #(
    parameter int DATA_WIDTH = 64,
    parameter int NUM_PORTS = 4,
    parameter int NUM_SERVICES = 16,
    parameter int NUM_MEMBERS = 64,
    parameter int CONN_BUCKETS_LOG2 = 4,
    parameter int INDIR_SLOTS_LOG2 = 12,
    parameter int FRAME_FIFO_LOG2 = 11,
    parameter int DESC_LOG2 = 8,
    parameter int FRAME_CAP = 16384,
    localparam int BYTES = DATA_WIDTH / 8,
    localparam int CONN_IDX_W = CONN_BUCKETS_LOG2 + 3
) (
    input wire clk,
    input wire rst,
    input wire [31:0] max_frame,
    input wire [127:0] hash_key,
    input wire tw_valid,
    input wire [3:0] tw_table,
    input wire [23:0] tw_index,
    input wire [159:0] tw_data,
    input wire iw_valid,
    input wire [15:0] iw_index,
    input wire [31:0] iw_data,
    // Frames in; tuser = {direct, port} (injected sources), or the constant port.
    input wire injected,
    input wire [DATA_WIDTH-1:0] s_axis_tdata,
    input wire [BYTES-1:0] s_axis_tkeep,
    input wire s_axis_tvalid,
    output logic s_axis_tready,
    input wire s_axis_tlast,
    input wire [3:0] s_axis_tuser,
    // Forward channel.
    output logic fwd_valid,
    output logic [DATA_WIDTH-1:0] fwd_tdata,
    output logic [BYTES-1:0] fwd_tkeep,
    output logic fwd_tlast,
    output logic [2:0] fwd_port,
    input wire fwd_ready,
    // Host channel.
    output logic host_valid,
    output logic [DATA_WIDTH-1:0] host_tdata,
    output logic [BYTES-1:0] host_tkeep,
    output logic host_tlast,
    input wire host_ready,
    // Counter event.
    output logic ev_valid,
    output logic ev_rx,
    output logic [2:0] ev_in_port,
    output logic [1:0] ev_action,
    output logic [2:0] ev_out_port,
    output logic [4:0] ev_reason,
    output logic ev_record,
    output logic ev_outbound,
    output logic [15:0] ev_service,
    output logic [15:0] ev_member,
    output logic [16:0] ev_len,
    output logic act_valid,
    output logic [CONN_IDX_W-1:0] act_index,
    // A frame is somewhere between ingress and the output channels.
    output logic busy
);
  // One C++ class for all instances in the Verilated model (build time).
  /* verilator no_inline_module */
  localparam int HDR_BYTES = 128;
  localparam int DESC_W = 3 + 512 + 64 + 256 + 17 + 16 + 7;
  localparam int FW = DATA_WIDTH + BYTES;

  // Frames admitted and not yet handed to the emitter.
  logic [DESC_LOG2+1:0] outstanding;
  logic sop, desc_pop;
  logic frame_full;
  logic frame_wr;
  logic [FW-1:0] frame_wdata;

  // +1 and -1 from the register, so that the pop decision only picks one (as in anypoint_fifo).
  logic [DESC_LOG2+1:0] outstanding_inc, outstanding_dec;
  assign outstanding_inc = outstanding + 1'b1;
  assign outstanding_dec = outstanding - 1'b1;
  always_ff @(posedge clk) begin
    if (rst) outstanding <= '0;
    else if (sop && !desc_pop) outstanding <= outstanding_inc;
    else if (!sop && desc_pop) outstanding <= outstanding_dec;
  end

  logic d_valid, d_oversize;
  logic [8*HDR_BYTES-1:0] d_hdr;
  logic [16:0] d_len;
  logic [3:0] d_user;
  logic [15:0] d_beats;
  logic [7:0] d_vlan;

  anypoint_ingress #(
      .DATA_WIDTH(DATA_WIDTH),
      .HDR_BYTES (HDR_BYTES),
      .FRAME_CAP (FRAME_CAP)
  ) u_ingress (
      .clk(clk),
      .rst(rst),
      .max_frame(max_frame),
      .s_axis_tdata(s_axis_tdata),
      .s_axis_tkeep(s_axis_tkeep),
      .s_axis_tvalid(s_axis_tvalid),
      .s_axis_tready(s_axis_tready),
      .s_axis_tlast(s_axis_tlast),
      .s_axis_tuser(s_axis_tuser),
      .admit(outstanding < (DESC_LOG2 + 2)'(1 << DESC_LOG2)),
      .fifo_full(frame_full),
      .sop(sop),
      .fifo_wr(frame_wr),
      .fifo_data(frame_wdata),
      .d_valid(d_valid),
      .d_hdr(d_hdr),
      .d_len(d_len),
      .d_oversize(d_oversize),
      .d_user(d_user),
      .d_beats(d_beats),
      .d_vlan(d_vlan)
  );

  logic frame_valid, frame_pop;
  logic [FW-1:0] frame_rdata;
  anypoint_fifo #(
      .WIDTH(FW),
      .DEPTH_LOG2(FRAME_FIFO_LOG2),
      .FULL_EARLY(1)
  ) u_frame_fifo (
      .clk(clk),
      .rst(rst),
      .wr_en(frame_wr),
      .wr_data(frame_wdata),
      .full(frame_full),
      .count(),
      .rd_valid(frame_valid),
      .rd_data(frame_rdata),
      .rd_en(frame_pop)
  );

  logic o_valid, o_record;
  logic [1:0] o_action;
  logic [2:0] o_port;
  logic [511:0] o_rw_data;
  logic [63:0] o_rw_mask;
  logic [255:0] o_hhdr;
  logic [16:0] o_len;
  logic [15:0] o_beats;

  anypoint_decide #(
      .NUM_PORTS(NUM_PORTS),
      .NUM_SERVICES(NUM_SERVICES),
      .NUM_MEMBERS(NUM_MEMBERS),
      .CONN_BUCKETS_LOG2(CONN_BUCKETS_LOG2),
      .INDIR_SLOTS_LOG2(INDIR_SLOTS_LOG2),
      .HDR_BYTES(HDR_BYTES)
  ) u_decide (
      .clk(clk),
      .rst(rst),
      .hash_key(hash_key),
      .tw_valid(tw_valid),
      .tw_table(tw_table),
      .tw_index(tw_index),
      .tw_data(tw_data),
      .iw_valid(iw_valid),
      .iw_index(iw_index),
      .iw_data(iw_data),
      .in_valid(d_valid),
      .in_hdr(d_hdr),
      .in_len(d_len),
      .in_vlan(d_vlan),
      .in_oversize(d_oversize),
      .in_port(d_user[2:0]),
      .in_inj(injected),
      .in_direct(injected && d_user[3]),
      .in_beats(d_beats),
      .out_valid(o_valid),
      .out_action(o_action),
      .out_port(o_port),
      .out_record(o_record),
      .out_rw_data(o_rw_data),
      .out_rw_mask(o_rw_mask),
      .out_hhdr(o_hhdr),
      .out_len(o_len),
      .out_beats(o_beats),
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
      .act_valid(act_valid),
      .act_index(act_index)
  );

  // The emitter's flags (anypoint_emit), decoded here off its pop path.
  logic [6:0] o_flags;
  always_comb begin
    o_flags[1] = o_beats == 16'd0;
    o_flags[0] = o_beats == 16'd1;
    o_flags[6] = o_action == 2'd1 && !o_flags[1];  // forward
    o_flags[5] = o_flags[6] && o_record;  // ... with a record
    o_flags[4] = o_action == 2'd2;  // host
    o_flags[3] = o_action != 2'd1 && o_action != 2'd2 && !o_flags[1];  // drop
    o_flags[2] = o_action != 2'd2 && o_flags[1];  // forward or drop of no beats
  end

  logic desc_valid;
  logic [DESC_W-1:0] desc;
  anypoint_fifo #(
      .WIDTH(DESC_W),
      .DEPTH_LOG2(DESC_LOG2)
  ) u_desc_fifo (
      .clk(clk),
      .rst(rst),
      .wr_en(o_valid),
      .wr_data({o_port, o_rw_data, o_rw_mask, o_hhdr, o_len, o_beats, o_flags}),
      .full(),
      .count(),
      .rd_valid(desc_valid),
      .rd_data(desc),
      .rd_en(desc_pop)
  );

  localparam int FWD_W = 3 + 1 + BYTES + DATA_WIDTH;
  localparam int HOST_W = 1 + BYTES + DATA_WIDTH;
  logic fwd_full, fwd_wr, host_full, host_wr;
  logic [FWD_W-1:0] fwd_wdata, fwd_rdata;
  logic [HOST_W-1:0] host_wdata, host_rdata;
  logic [3:0] fwd_cnt, host_cnt;

  anypoint_emit #(
      .DATA_WIDTH(DATA_WIDTH)
  ) u_emit (
      .clk(clk),
      .rst(rst),
      .desc_valid(desc_valid),
      .desc(desc),
      .desc_pop(desc_pop),
      .frame_valid(frame_valid),
      .frame(frame_rdata),
      .frame_pop(frame_pop),
      .fwd_full(fwd_full),
      .fwd_wr(fwd_wr),
      .fwd_data(fwd_wdata),
      .host_full(host_full),
      .host_wr(host_wr),
      .host_data(host_wdata)
  );

  anypoint_fifo #(
      .WIDTH(FWD_W),
      .DEPTH_LOG2(2)
  ) u_fwd_fifo (
      .clk(clk),
      .rst(rst),
      .wr_en(fwd_wr),
      .wr_data(fwd_wdata),
      .full(fwd_full),
      .count(fwd_cnt),
      .rd_valid(fwd_valid),
      .rd_data(fwd_rdata),
      .rd_en(fwd_ready)
  );
  anypoint_fifo #(
      .WIDTH(HOST_W),
      .DEPTH_LOG2(2)
  ) u_host_fifo (
      .clk(clk),
      .rst(rst),
      .wr_en(host_wr),
      .wr_data(host_wdata),
      .full(host_full),
      .count(host_cnt),
      .rd_valid(host_valid),
      .rd_data(host_rdata),
      .rd_en(host_ready)
  );

  assign busy = outstanding != '0 || fwd_cnt != '0 || host_cnt != '0;
  assign {fwd_port, fwd_tlast, fwd_tkeep, fwd_tdata} = fwd_rdata;
  assign {host_tlast, host_tkeep, host_tdata} = host_rdata;
endmodule
`default_nettype wire
