`default_nettype none
// anypoint_counters: the CTR region (docs/pipeline.md section 8). Every source (ingress pipeline)
// counts into its own bank, so all sources can count a frame in the same cycle; a read returns the
// sum over the banks. Reading a counter's low word latches its high word for the next high-word read.
//
// Parameters:
//   NSRC      - counting sources (ingress pipelines).
//   NUM_PORTS - Ethernet ports.
module anypoint_counters #(
    parameter int NSRC = 5,
    parameter int NUM_PORTS = 4
) (
    input wire clk,
    input wire rst,
    input wire clear,
    input wire [NSRC-1:0] ev_valid,
    input wire [NSRC-1:0] ev_rx,
    input wire [NSRC*3-1:0] ev_in_port,
    input wire [NSRC*2-1:0] ev_action,  // 0 drop, 1 forward, 2 host, 3 direct inject
    input wire [NSRC*3-1:0] ev_out_port,
    input wire [NSRC*5-1:0] ev_reason,
    input wire [NSRC-1:0] ev_learn,
    input wire [NSRC-1:0] ev_outbound,
    input wire [NSRC*16-1:0] ev_service,
    input wire [NSRC*16-1:0] ev_member,
    input wire [NSRC*17-1:0] ev_len,
    // Register read: byte offset within CTR; data the next cycle.
    input wire rd_en,
    input wire [15:0] rd_addr,
    output logic [31:0] rd_data
);
  `include "anypoint_regmap.svh"

  localparam int NSVC = CTR_SERVICE_COUNT;
  localparam int NMEM = CTR_MEMBER_COUNT;

  logic [63:0] port_c[NSRC][NUM_PORTS][6];
  logic [63:0] reason_c[NSRC][32];
  logic [63:0] svc_c[NSRC][NSVC][4];
  logic [63:0] mem_c[NSRC][NMEM][4];
  logic [31:0] latch;

  always_ff @(posedge clk) begin
    if (rst || clear) begin
      for (int s = 0; s < NSRC; s++) begin
        for (int p = 0; p < NUM_PORTS; p++) for (int c = 0; c < 6; c++) port_c[s][p][c] <= '0;
        for (int r = 0; r < 32; r++) reason_c[s][r] <= '0;
        for (int i = 0; i < NSVC; i++) for (int c = 0; c < 4; c++) svc_c[s][i][c] <= '0;
        for (int i = 0; i < NMEM; i++) for (int c = 0; c < 4; c++) mem_c[s][i][c] <= '0;
      end
    end else begin
      for (int s = 0; s < NSRC; s++) begin
        if (ev_valid[s]) begin
          logic [2:0] inp, outp;
          logic [63:0] len;
          logic [1:0] c0;
          logic [15:0] sv, mb;
          inp = ev_in_port[3*s+:3];
          outp = ev_out_port[3*s+:3];
          len = 64'(ev_len[17*s+:17]);
          c0 = ev_outbound[s] ? 2'd2 : 2'd0;
          sv = ev_service[16*s+:16];
          mb = ev_member[16*s+:16];
          if (ev_rx[s] && 32'(inp) < NUM_PORTS) begin
            port_c[s][inp][CTR_PORT_RX_PACKETS] <= port_c[s][inp][CTR_PORT_RX_PACKETS] + 64'd1;
            port_c[s][inp][CTR_PORT_RX_BYTES] <= port_c[s][inp][CTR_PORT_RX_BYTES] + len;
          end
          case (ev_action[2*s+:2])
            2'd1, 2'd3: begin
              if (32'(outp) < NUM_PORTS) begin
                port_c[s][outp][CTR_PORT_TX_PACKETS] <= port_c[s][outp][CTR_PORT_TX_PACKETS] + 64'd1;
                port_c[s][outp][CTR_PORT_TX_BYTES] <= port_c[s][outp][CTR_PORT_TX_BYTES] + len;
              end
              if (ev_action[2*s+:2] == 2'd1) begin
                if (32'(sv) < NSVC) begin
                  svc_c[s][sv[5:0]][c0] <= svc_c[s][sv[5:0]][c0] + 64'd1;
                  svc_c[s][sv[5:0]][c0+1] <= svc_c[s][sv[5:0]][c0+1] + len;
                end
                if (32'(mb) < NMEM) begin
                  mem_c[s][mb[9:0]][c0] <= mem_c[s][mb[9:0]][c0] + 64'd1;
                  mem_c[s][mb[9:0]][c0+1] <= mem_c[s][mb[9:0]][c0+1] + len;
                end
                if (ev_learn[s]) reason_c[s][REASON_LEARN] <= reason_c[s][REASON_LEARN] + 64'd1;
              end
            end
            2'd2: begin
              if (32'(inp) < NUM_PORTS)
                port_c[s][inp][CTR_PORT_HOST_PACKETS] <= port_c[s][inp][CTR_PORT_HOST_PACKETS] + 64'd1;
              reason_c[s][ev_reason[5*s+:5]] <= reason_c[s][ev_reason[5*s+:5]] + 64'd1;
            end
            default: begin
              if (32'(inp) < NUM_PORTS)
                port_c[s][inp][CTR_PORT_DROP_PACKETS] <= port_c[s][inp][CTR_PORT_DROP_PACKETS] + 64'd1;
              reason_c[s][ev_reason[5*s+:5]] <= reason_c[s][ev_reason[5*s+:5]] + 64'd1;
            end
          endcase
        end
      end
    end
  end

  // Read: sum over banks.
  logic [63:0] sum;
  logic [15:0] a;
  always_comb begin
    a = rd_addr;
    sum = '0;
    for (int s = 0; s < NSRC; s++) begin
      if (32'(a) < CTR_REASON_OFFSET) begin
        if (32'(a[15:6]) < NUM_PORTS && a[5:3] < 3'd6) sum = sum + port_c[s][a[8:6]][a[5:3]];
      end else if (32'(a) < CTR_SERVICE_OFFSET) begin
        sum = sum + reason_c[s][a[7:3]];
      end else if (32'(a) < CTR_MEMBER_OFFSET) begin
        sum = sum + svc_c[s][a[10:5]][a[4:3]];
      end else if (32'(a) < CTR_MEMBER_OFFSET + NMEM * CTR_MEMBER_STRIDE) begin
        sum = sum + mem_c[s][10'(a[14:5] - 10'd128)][a[4:3]];
      end
    end
  end

  always_ff @(posedge clk) begin
    if (rst) latch <= '0;
    else if (rd_en && !rd_addr[2]) latch <= sum[63:32];
    if (rd_en) rd_data <= rd_addr[2] ? latch : sum[31:0];
  end
endmodule
`default_nettype wire
