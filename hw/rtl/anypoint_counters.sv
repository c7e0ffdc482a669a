`default_nettype none
// anypoint_counters: the CTR region (docs/pipeline.md section 8). Every source (ingress pipeline)
// counts into its own bank, so all sources can count a frame in the same cycle; a read returns the
// sum over the banks. Reading a counter's low word latches its high word for the next high-word read.
//
// A bank keeps the port and reason counters in registers and the service and member counters as
// {bytes, packets} pairs in block RAM, updated by a read-modify-write pipeline (one frame per cycle,
// with forwarding for close frames of one service or member); a second copy of each RAM
// serves register reads. CTR_CLEAR sweeps the RAMs (`busy` meanwhile, NMEM*2 cycles): frames
// counted during the sweep may be lost, so the register block holds the write response until done.
// The register counters clear a cycle after `clear`, each by a copy of it of its own (`keep`: one
// net to every counter bit of every bank had 4,700 loads spread over an ECP5, the part's longest).
//
// Parameters:
//   NSRC      - counting sources (ingress pipelines).
//   NUM_PORTS - Ethernet ports.
//   CTR_MEMBERS - members with counters (the register map's 1024; smaller only to fit small FPGAs,
//                 then frames of higher member ids are not counted per member).
module anypoint_counters #(
    parameter int NSRC = 5,
    parameter int NUM_PORTS = 4,
    parameter int CTR_MEMBERS = 1024
) (
    input wire clk,
    input wire rst,
    input wire clear,
    output logic busy,
    input wire [NSRC-1:0] ev_valid,
    input wire [NSRC-1:0] ev_rx,
    input wire [NSRC*3-1:0] ev_in_port,
    input wire [NSRC*2-1:0] ev_action,  // 0 drop, 1 forward, 2 host, 3 direct inject
    input wire [NSRC*3-1:0] ev_out_port,
    input wire [NSRC*5-1:0] ev_reason,
    input wire [NSRC-1:0] ev_record,
    input wire [NSRC-1:0] ev_outbound,
    input wire [NSRC*16-1:0] ev_service,
    input wire [NSRC*16-1:0] ev_member,
    input wire [NSRC*17-1:0] ev_len,
    // Register read: byte offset within CTR, held until rd_done; rd_done four cycles after rd_en,
    // rd_data from the cycle after rd_done (the bank sum is pipelined to fit an ECP5 cycle).
    input wire rd_en,
    input wire [15:0] rd_addr,
    output logic rd_done,
    output logic [31:0] rd_data
);
  `include "anypoint_regmap.svh"

  localparam int NSVC = CTR_SERVICE_COUNT;
  localparam int NMEM = (CTR_MEMBERS < CTR_MEMBER_COUNT) ? CTR_MEMBERS : CTR_MEMBER_COUNT;
  localparam int SVC_WORDS = 2 * NSVC;  // (service, direction) pairs
  localparam int MEM_WORDS = 2 * NMEM;
  localparam int SA = $clog2(SVC_WORDS);
  localparam int MA = $clog2(MEM_WORDS);
  localparam int PW = (NUM_PORTS > 1) ? $clog2(NUM_PORTS) : 1;

  // Clear sweep over the pair RAMs.
  logic sweeping;
  logic [MA:0] sweep_idx;
  assign busy = sweeping;
  always_ff @(posedge clk) begin
    if (rst || clear) begin
      sweeping <= 1'b1;
      sweep_idx <= '0;
    end else if (sweeping) begin
      sweep_idx <= sweep_idx + 1'b1;
      if (32'(sweep_idx) == MEM_WORDS - 1) sweeping <= 1'b0;
    end
  end

  // Register read decode (registered): which block, which index, which half.
  logic rd_v1, rd_hi1;
  logic [1:0] rd_blk1;  // 0 port, 1 reason, 2 service, 3 member
  logic rd_ok1;
  logic [PW-1:0] rd_port1;
  logic [1:0] rd_rgrp1;  // group of 8 reason counters
  logic rd_pbytes1;
  logic [SA-1:0] rd_sw;
  logic [MA-1:0] rd_mw;
  // The read starts a cycle after `rd_en`, from registered copies of the address: one for the
  // decode and one per bank (`keep`: its counter muxes' selects had ~650 loads; the address is
  // held for the whole register transaction).
  logic rd_go;
  logic [12:0] rd_slot;
  (* keep *) always_ff @(posedge clk) rd_slot <= rd_addr[15:3];
  always_ff @(posedge clk) rd_go <= rd_en && !rst;
  always_comb begin
    // Service pair word = (service * 2 + direction); counter 0/1 = in, 2/3 = out.
    rd_sw = SA'({rd_slot[8:2], rd_slot[1]});
    rd_mw = MA'({13'(rd_slot - 13'(CTR_MEMBER_OFFSET / 8)) >> 2, rd_slot[1]});
  end
  always_ff @(posedge clk) begin
    rd_v1 <= rd_go;
    rd_hi1 <= rd_addr[2];
    rd_port1 <= rd_slot[PW+2:3];
    rd_rgrp1 <= rd_slot[4:3];
    rd_pbytes1 <= rd_slot[0];
    if (32'(rd_slot) < CTR_REASON_OFFSET / 8) begin
      rd_blk1 <= 2'd0;
      rd_ok1 <= 32'(rd_slot[12:3]) < NUM_PORTS && rd_slot[2:0] < 3'd6;
    end else if (32'(rd_slot) < CTR_SERVICE_OFFSET / 8) begin
      rd_blk1 <= 2'd1;
      rd_ok1 <= 32'(rd_slot) < CTR_REASON_OFFSET / 8 + 32;
    end else if (32'(rd_slot) < CTR_MEMBER_OFFSET / 8) begin
      rd_blk1 <= 2'd2;
      rd_ok1 <= 1'b1;
    end else begin
      rd_blk1 <= 2'd3;
      rd_ok1 <= 32'(rd_slot) < CTR_MEMBER_OFFSET / 8 + NMEM * CTR_MEMBER_STRIDE / 8 &&
          32'(rd_slot) < CTR_MEMBER_OFFSET / 8 + CTR_MEMBER_COUNT * CTR_MEMBER_STRIDE / 8;
    end
  end

  // Each bank's read value, a cycle after the RAM read; padded to whole pairs with zero.
  localparam int NPAIR = (NSRC + 1) / 2;
  logic [63:0] bank_rd[2*NPAIR];
  if (NSRC % 2 == 1) begin : g_pad
    assign bank_rd[NSRC] = '0;
  end
  logic rd_v2, rd_hi2, rd_ok2, rd_pair2;
  always_ff @(posedge clk) begin
    rd_v2 <= rd_v1 && !rst;
    rd_hi2 <= rd_hi1;
    rd_ok2 <= rd_ok1;
    rd_pair2 <= rd_blk1[1];
  end

  for (genvar s = 0; s < NSRC; s++) begin : g_bank
    logic [2:0] slot;  // the counter within a port's or a reason group's eight
    (* keep *) always_ff @(posedge clk) slot <= rd_addr[5:3];
    // The bank's own copy of `sweeping` (`keep`): it selects the RAMs' write data and address.
    logic sweeping_b;
    (* keep *) always_ff @(posedge clk) begin
      if (rst || clear) sweeping_b <= 1'b1;
      else if (sweeping_b && 32'(sweep_idx) == MEM_WORDS - 1) sweeping_b <= 1'b0;
    end
    logic [127:0] svc_ram[SVC_WORDS];  // {bytes, packets}
    logic [127:0] svc_ram_rd[SVC_WORDS];  // copy for register reads
    logic [127:0] mem_ram[MEM_WORDS];
    logic [127:0] mem_ram_rd[MEM_WORDS];

    logic [2:0] inp, outp;
    logic [63:0] len;
    logic [15:0] sv, mb;
    logic [4:0] rs;
    logic [1:0] act;
    assign inp = ev_in_port[3*s+:3];
    assign outp = ev_out_port[3*s+:3];
    assign len = 64'(ev_len[17*s+:17]);
    assign sv = ev_service[16*s+:16];
    assign mb = ev_member[16*s+:16];
    assign rs = ev_reason[5*s+:5];
    assign act = ev_action[2*s+:2];

    // Port and reason counters: one adder each.
    logic [63:0] port_c[NUM_PORTS*6];
    logic [63:0] reason_c[32];
    for (genvar i = 0; i < NUM_PORTS * 6; i++) begin : g_port
      localparam logic [2:0] P = 3'(i / 6);
      localparam int C = i % 6;
      logic hit;
      logic [63:0] cnt;
      always_comb begin
        case (C)
          CTR_PORT_RX_PACKETS, CTR_PORT_RX_BYTES: hit = ev_rx[s] && inp == P;
          CTR_PORT_TX_PACKETS, CTR_PORT_TX_BYTES: hit = (act == 2'd1 || act == 2'd3) && outp == P;
          CTR_PORT_DROP_PACKETS: hit = act == 2'd0 && inp == P;
          default: hit = act == 2'd2 && inp == P;
        endcase
      end
      logic zero;
      (* keep *) always_ff @(posedge clk) zero <= rst || clear;
      always_ff @(posedge clk) begin
        if (zero) cnt <= '0;
        else if (ev_valid[s] && hit)
          cnt <= cnt + ((C == CTR_PORT_RX_BYTES || C == CTR_PORT_TX_BYTES) ? len : 64'd1);
      end
      assign port_c[i] = cnt;
    end
    for (genvar r = 0; r < 32; r++) begin : g_reason
      logic [63:0] cnt;
      logic zero;
      (* keep *) always_ff @(posedge clk) zero <= rst || clear;
      always_ff @(posedge clk) begin
        if (zero) cnt <= '0;
        // Punts and drops count under their reason; forwards only with a learn or state record.
        else if (ev_valid[s] && rs == 5'(r) && (act == 2'd0 || act == 2'd2 || (act == 2'd1 && ev_record[s])))
          cnt <= cnt + 64'd1;
      end
      assign reason_c[r] = cnt;
    end

    // Service and member pairs: read (stage 0), forward into the read value (stage 1), add and
    // write back (stage 2); the add has a stage of its own because EBR clock-to-out, the forward
    // mux and the 64-bit add did not fit one ECP5 cycle.
    logic sv_ok0, mb_ok0, sv_ok1, mb_ok1, sv_ok2, mb_ok2;
    logic [SA-1:0] sa0, sa1, sa2, sa_w;
    logic [MA-1:0] ma0, ma1, ma2, ma_w;
    logic [63:0] len1, len2;
    logic [127:0] s_rd, m_rd, s_rd2, m_rd2, s_cur, m_cur, s_new, m_new, s_wd, m_wd;
    logic s_wv, m_wv, s_fwd2, m_fwd2;
    assign sv_ok0 = ev_valid[s] && act == 2'd1 && 32'(sv) < NSVC && !sweeping_b;
    assign mb_ok0 = ev_valid[s] && act == 2'd1 && 32'(mb) < NMEM && !sweeping_b;
    assign sa0 = SA'({sv, ev_outbound[s]});
    assign ma0 = MA'({mb, ev_outbound[s]});

    always_ff @(posedge clk) begin
      s_rd <= svc_ram[sa0];
      m_rd <= mem_ram[ma0];
      sv_ok1 <= sv_ok0 && !rst && !clear;
      mb_ok1 <= mb_ok0 && !rst && !clear;
      sa1 <= sa0;
      ma1 <= ma0;
      len1 <= len;
      // The write of two cycles ago is not in the RAM read: forward it.
      s_rd2 <= (s_wv && sa_w == sa1) ? s_wd : s_rd;
      m_rd2 <= (m_wv && ma_w == ma1) ? m_wd : m_rd;
      // Nor the write of the previous cycle (stage 2 now): forward it in stage 2.
      s_fwd2 <= sv_ok2 && !sweeping_b && sa2 == sa1;
      m_fwd2 <= mb_ok2 && !sweeping_b && ma2 == ma1;
      sv_ok2 <= sv_ok1 && !rst && !clear;
      mb_ok2 <= mb_ok1 && !rst && !clear;
      sa2 <= sa1;
      ma2 <= ma1;
      len2 <= len1;
    end

    always_comb begin
      s_cur = s_fwd2 ? s_wd : s_rd2;
      m_cur = m_fwd2 ? m_wd : m_rd2;
      s_new = {s_cur[127:64] + len2, s_cur[63:0] + 64'd1};
      m_new = {m_cur[127:64] + len2, m_cur[63:0] + 64'd1};
    end

    logic [SA-1:0] s_addr;
    logic [MA-1:0] m_addr;
    logic s_we, m_we;
    always_comb begin
      s_we = sweeping_b ? (32'(sweep_idx) < SVC_WORDS) : sv_ok2;
      m_we = sweeping_b || mb_ok2;
      s_addr = sweeping_b ? SA'(sweep_idx) : sa2;
      m_addr = sweeping_b ? MA'(sweep_idx) : ma2;
    end

    always_ff @(posedge clk) begin
      if (s_we) begin
        svc_ram[s_addr] <= sweeping_b ? '0 : s_new;
        svc_ram_rd[s_addr] <= sweeping_b ? '0 : s_new;
      end
      if (m_we) begin
        mem_ram[m_addr] <= sweeping_b ? '0 : m_new;
        mem_ram_rd[m_addr] <= sweeping_b ? '0 : m_new;
      end
      s_wv <= sv_ok2 && !sweeping_b;
      m_wv <= mb_ok2 && !sweeping_b;
      sa_w <= sa2;
      ma_w <= ma2;
      s_wd <= s_new;
      m_wd <= m_new;
    end

    // Register read port: the RAM read, then the counter is picked in the next cycle (the sum
    // over the banks follows in two more: EBR clock-to-out, the bank mux and a 64-bit sum of all
    // banks did not fit one ECP5 cycle). The register counters are sampled with the RAM read,
    // each port's and each group of 8 reasons' candidate picked by the low address bits there (a
    // 32-way mux of 64-bit counters did not fit the cycle after).
    logic [127:0] s_q, m_q;
    logic [63:0] pair_q, reg_q;
    logic [63:0] port_pre[NUM_PORTS];
    logic [63:0] reason_pre[4];
    always_ff @(posedge clk) begin
      s_q <= svc_ram_rd[rd_sw];
      m_q <= mem_ram_rd[rd_mw];
      for (int p = 0; p < NUM_PORTS; p++)
        port_pre[p] <= (slot[2:0] < 3'd6) ? port_c[6*p+32'(slot[2:0])] : '0;
      for (int k = 0; k < 4; k++) reason_pre[k] <= reason_c[{k[1:0], slot[2:0]}];
      if (rd_v1) begin
        case ({rd_blk1[0], rd_pbytes1})
          2'b00: pair_q <= s_q[63:0];
          2'b01: pair_q <= s_q[127:64];
          2'b10: pair_q <= m_q[63:0];
          default: pair_q <= m_q[127:64];
        endcase
        reg_q <= rd_blk1[0] ? reason_pre[rd_rgrp1] : port_pre[rd_port1];
      end
    end
    assign bank_rd[s] = !rd_ok2 ? '0 : rd_pair2 ? pair_q : reg_q;
  end

  // Sum over the banks: pairs (stage 2), then the pair sums (stage 3).
  logic [63:0] pair_sum[NPAIR];
  logic rd_v3, rd_hi3;
  always_ff @(posedge clk) begin
    for (int k = 0; k < NPAIR; k++) pair_sum[k] <= bank_rd[2*k] + bank_rd[2*k+1];
    rd_v3 <= rd_v2 && !rst;
    rd_hi3 <= rd_hi2;
  end

  logic [63:0] sum;
  always_comb begin
    sum = '0;
    for (int k = 0; k < NPAIR; k++) sum = sum + pair_sum[k];
  end

  assign rd_done = rd_v3;
  logic [31:0] latch;
  always_ff @(posedge clk) begin
    if (rst) latch <= '0;
    else if (rd_v3 && !rd_hi3) latch <= sum[63:32];
    if (rd_v3) rd_data <= rd_hi3 ? latch : sum[31:0];
  end
endmodule
`default_nettype wire
