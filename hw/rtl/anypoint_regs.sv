`default_nettype none
// anypoint_regs: the AXI4-Lite register slave (hw/regmap.toml): identification and capability
// registers, MAX_FRAME, HASH_KEY, the TBL_CMD engine with its staging registers, the activity
// bitmap (ACT), the indirection memory (INDIR), the counter region (CTR, in anypoint_counters) and
// the ACP block's window (ACP_*, 0x8000-0x87ff, in anypoint_acp).
//
// Table writes go out on one write bus that updates every pipeline's copy in the same cycle; this
// block keeps the copy that TBL_CMD reads return. One AXI transaction is handled at a time.
//
// Reset (power-on `rst` or a SOFT_RESET write) sweeps every table entry and indirection slot to zero
// over the write buses, an entry per cycle, holding the rest of the design in reset (`soft_rst`)
// meanwhile; a SOFT_RESET write is answered once the sweep and the counter clear are done, and no
// other transaction is taken during the sweep.
//
// Parameters: NUM_PORTS, NUM_SERVICES, NUM_MEMBERS, CONN_BUCKETS_LOG2, INDIR_SLOTS_LOG2 as anypoint_top;
//   NSRC - sources of activity-bitmap hits.
module anypoint_regs #(
    parameter int NUM_PORTS = 4,
    parameter int NUM_SERVICES = 16,
    parameter int NUM_MEMBERS = 64,
    parameter int CONN_BUCKETS_LOG2 = 4,
    parameter int INDIR_SLOTS_LOG2 = 12,
    parameter int NSRC = 5,
    localparam int CONN_IDX_W = CONN_BUCKETS_LOG2 + 3
) (
    input wire clk,
    input wire rst,
    // AXI4-Lite slave.
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
    // Settings.
    output logic [31:0] max_frame,
    output logic [127:0] hash_key,
    // Table write bus.
    output logic tw_valid,
    output logic [3:0] tw_table,
    output logic [23:0] tw_index,
    output logic [159:0] tw_data,
    output logic iw_valid,
    output logic [15:0] iw_index,
    output logic [31:0] iw_data,
    // Counters.
    output logic ctr_clear,
    output logic ctr_rd_en,
    output logic [15:0] ctr_rd_addr,
    input wire ctr_rd_done,
    input wire [31:0] ctr_rd_data,
    input wire ctr_busy,
    // Activity hits.
    input wire [NSRC-1:0] act_valid,
    input wire [NSRC*CONN_IDX_W-1:0] act_index,
    // ACP block window: word acp_addr written (acp_wr, a pulse) or read (acp_rdata, combinational);
    // a write completes once acp_busy is low.
    output logic acp_wr,
    output logic [8:0] acp_addr,
    output logic [31:0] acp_wdata,
    input wire [31:0] acp_rdata,
    input wire acp_busy,
    // Hold the pipelines and the counters in reset while the tables and the activity bitmap are
    // swept after a reset (the top's `busy` meanwhile).
    output logic soft_rst
);
  `include "anypoint_regmap.svh"

  localparam int CONN_ENTRIES = 8 << CONN_BUCKETS_LOG2;
  localparam int ACT_WORDS = (CONN_ENTRIES + 31) / 32;
  localparam int INDIR_SLOTS = 1 << INDIR_SLOTS_LOG2;
  localparam int AW = (ACT_WORDS > 1) ? $clog2(ACT_WORDS) : 1;  // ACT word index
  localparam int PW = (NUM_PORTS > 1) ? $clog2(NUM_PORTS) : 1;
  localparam int SW = (NUM_SERVICES > 1) ? $clog2(NUM_SERVICES) : 1;
  localparam int MW = (NUM_MEMBERS > 1) ? $clog2(NUM_MEMBERS) : 1;
  // Reset sweep: port, service, member, then connection entries on the table bus, indirection
  // slots on their own bus alongside.
  localparam int SWEEP_ENTRIES = NUM_PORTS + NUM_SERVICES + NUM_MEMBERS + CONN_ENTRIES;
  localparam int SWEEP_LEN = (SWEEP_ENTRIES > INDIR_SLOTS) ? SWEEP_ENTRIES : INDIR_SLOTS;

  logic [255:0] wdata_q;
  logic [255:0] rdata_q;
  logic error_q;
  logic reset_seen_q;  // DEV_STATUS.RESET_SEEN
  logic sweeping;
  logic [23:0] sweep_n;
  logic soft_start;  // a SOFT_RESET write with GO set, in WR1 (registered: it resets many flops)

  logic [127:0] ports_c[NUM_PORTS];
  logic [127:0] svcs_c[NUM_SERVICES];
  logic [127:0] mems_c[NUM_MEMBERS];
  logic [159:0] conn_c[CONN_ENTRIES];
  logic [31:0] indir_c[INDIR_SLOTS];

  // ---------------------------------------------------------------------------------------------
  // Transaction sequencing.
  typedef enum logic [3:0] {
    IDLE,
    DEC,
    WR1,
    WR2,
    WR3,
    WRESP,
    RD1,
    RD2,
    RRESP
  } state_t;
  state_t state;
  logic [17:0] addr_q;  // low bits: the decode (dec_q) covers the rest
  logic [31:0] wd_q;

  // The address is taken into ax_q with the transaction and decoded in DEC (registered with
  // addr_q), so that neither the pick of the write's or the read's address nor the 20-bit compares
  // sit in front of the register, table-bus and read-data updates.
  typedef struct packed {
    logic max_frame, ctr_clear, dev_status, hash_key, tbl_cmd, tbl_status;
    logic tbl_wdata, tbl_rdata, ctr, act, indir, acp;  // indir: a slot that exists
    logic [31:0] fixed;  // value of a read-only identification or capability register
  } dec_t;
  dec_t dec, dec_q;
  logic dec_soft_reset;  // SOFT_RESET (soft_start is registered from it)
  logic [19:0] ax_q;  // address of the transaction taken (word aligned)
  logic low_q;  // ... in the first 256 bytes, where the registers are (compared as it is taken)
  logic is_wr_q;
  logic cmd_ok_q;

  assign s_axil_awready = state == IDLE && !sweeping && s_axil_awvalid && s_axil_wvalid;
  assign s_axil_wready = state == IDLE && !sweeping && s_axil_awvalid && s_axil_wvalid;
  assign s_axil_arready = state == IDLE && !sweeping && !(s_axil_awvalid && s_axil_wvalid) &&
      s_axil_arvalid;
  assign soft_rst = sweeping;
  assign s_axil_bvalid = state == WRESP;
  assign s_axil_bresp = 2'b00;
  assign s_axil_rvalid = state == RRESP;
  assign s_axil_rresp = 2'b00;

  // TBL_CMD fields of the write being executed.
  logic [23:0] cmd_index;
  logic [3:0] cmd_table;
  logic [1:0] cmd_op;
  logic cmd_ok;  // of the write data taken (cmd_ok_q in WR1)
  assign cmd_index = wd_q[23:0];
  assign cmd_table = wd_q[27:24];
  assign cmd_op = wd_q[31:30];
  always_comb begin
    case (cmd_table)
      4'(TBL_PORT_ID): cmd_ok = cmd_index < 24'(NUM_PORTS);
      4'(TBL_SERVICE_ID): cmd_ok = cmd_index < 24'(NUM_SERVICES);
      4'(TBL_MEMBER_ID): cmd_ok = cmd_index < 24'(NUM_MEMBERS);
      4'(TBL_CONN_ID): cmd_ok = cmd_index < 24'(CONN_ENTRIES);
      default: cmd_ok = 1'b0;
    endcase
    if (cmd_op == 2'd0) cmd_ok = 1'b0;
  end

  always_comb begin
    dec = '0;
    dec_soft_reset = 1'b0;
    if (low_q) begin
      case (ax_q[7:0])
        8'(REG_ID): dec.fixed = DEVICE_ID;
        8'(REG_VERSION): dec.fixed = MAP_VERSION;
        8'(REG_NUM_PORTS): dec.fixed = 32'(NUM_PORTS);
        8'(REG_NUM_SERVICES): dec.fixed = 32'(NUM_SERVICES);
        8'(REG_NUM_MEMBERS): dec.fixed = 32'(NUM_MEMBERS);
        8'(REG_CONN_BUCKETS_LOG2): dec.fixed = 32'(CONN_BUCKETS_LOG2);
        8'(REG_CONN_WAYS): dec.fixed = 32'd4;
        8'(REG_INDIR_SLOTS_LOG2): dec.fixed = 32'(INDIR_SLOTS_LOG2);
        8'(REG_MAX_FRAME): dec.max_frame = 1'b1;
        8'(REG_CTR_CLEAR): dec.ctr_clear = 1'b1;
        8'(REG_SOFT_RESET): dec_soft_reset = 1'b1;
        8'(REG_DEV_STATUS): dec.dev_status = 1'b1;
        8'(REG_TBL_CMD): dec.tbl_cmd = 1'b1;
        8'(REG_TBL_STATUS): dec.tbl_status = 1'b1;
        default: ;
      endcase
      dec.hash_key = ax_q[7:0] >= 8'(REG_HASH_KEY) && 9'(ax_q[7:0]) < 9'(REG_HASH_KEY + 16);
      dec.tbl_wdata = ax_q[7:0] >= 8'(REG_TBL_WDATA) && 9'(ax_q[7:0]) < 9'(REG_TBL_WDATA + 32);
      dec.tbl_rdata = ax_q[7:0] >= 8'(REG_TBL_RDATA) && 9'(ax_q[7:0]) < 9'(REG_TBL_RDATA + 32);
    end
    dec.ctr = ax_q >= 20'(REGION_CTR) && ax_q < 20'(REGION_CTR + REGION_CTR_SIZE);
    dec.act = ax_q >= 20'(REGION_ACT) && ax_q < 20'(REGION_ACT + REGION_ACT_SIZE) &&
        32'(ax_q[15:2]) < ACT_WORDS;
    dec.acp = ax_q[19:11] == 9'(REG_ACP_SLOTS >> 11);
    dec.indir = ax_q >= 20'(REGION_INDIR) && ax_q < 20'(REGION_INDIR + REGION_INDIR_SIZE) &&
        32'(ax_q[17:2]) < INDIR_SLOTS;
  end

  logic is_wr_cmd;
  logic [2:0] widx;  // word of TBL_WDATA / TBL_RDATA (both start 16 words into an 8-word group)
  assign widx = {~addr_q[4], addr_q[3:2]};  // + 4, without an adder
  assign is_wr_cmd = state == WR1 && dec_q.tbl_cmd;

  logic [159:0] staged;
  assign staged = wdata_q[159:0];

  logic [159:0] entry_rd;  // entry read for TBL_CMD read
  logic [31:0] rd_val;  // register read value (RD1)
  logic [31:0] indir_rd;
  logic [1:0] rd_src;  // 0 = rd_val, 1 = counters, 2 = indir, 3 = activity bitmap
  logic is_rd_cmd_q;
  logic cmd_conn_q;
  logic [31:0] indir_rd_q;
  logic ctr_wait;  // a counter read waits for ctr_rd_done

  // The wide data registers reset a cycle after the rest, each by a copy of the reset of its own
  // (`keep`: one net to all of them had ~600 loads); nothing writes them in that cycle (the reset
  // sweep runs).
  logic [2:0] data_rst;
  for (genvar k = 0; k < 3; k++) begin : g_data_rst
    (* keep *) always_ff @(posedge clk) data_rst[k] <= rst || soft_start;
  end

  always_ff @(posedge clk) begin
    tw_valid <= 1'b0;
    iw_valid <= 1'b0;
    ctr_clear <= 1'b0;
    if (rst || soft_start) begin
      max_frame <= REG_MAX_FRAME_RESET;
      error_q <= 1'b0;
      reset_seen_q <= 1'b1;
      sweeping <= 1'b1;
      sweep_n <= '0;
    end
    if (data_rst[0]) hash_key <= '0;
    if (data_rst[1]) wdata_q <= '0;
    if (data_rst[2]) rdata_q <= '0;
    if (rst) begin
      state <= IDLE;
    end else begin
      if (sweeping) begin
        tw_valid <= 32'(sweep_n) < SWEEP_ENTRIES;
        tw_data <= '0;
        if (32'(sweep_n) < NUM_PORTS) begin
          tw_table <= 4'(TBL_PORT_ID);
          tw_index <= sweep_n;
        end else if (32'(sweep_n) < NUM_PORTS + NUM_SERVICES) begin
          tw_table <= 4'(TBL_SERVICE_ID);
          tw_index <= sweep_n - 24'(NUM_PORTS);
        end else if (32'(sweep_n) < NUM_PORTS + NUM_SERVICES + NUM_MEMBERS) begin
          tw_table <= 4'(TBL_MEMBER_ID);
          tw_index <= sweep_n - 24'(NUM_PORTS + NUM_SERVICES);
        end else begin
          tw_table <= 4'(TBL_CONN_ID);
          tw_index <= sweep_n - 24'(NUM_PORTS + NUM_SERVICES + NUM_MEMBERS);
        end
        iw_valid <= 32'(sweep_n) < INDIR_SLOTS;
        iw_index <= sweep_n[15:0];
        iw_data <= '0;
        sweep_n <= sweep_n + 1'b1;
        if (32'(sweep_n) == SWEEP_LEN - 1) sweeping <= 1'b0;
      end
      case (state)
        IDLE: begin
          if (!sweeping && s_axil_awvalid && s_axil_wvalid) begin
            ax_q <= {s_axil_awaddr[19:2], 2'b00};
            low_q <= s_axil_awaddr[19:8] == '0;
            wd_q <= s_axil_wdata;
            is_wr_q <= 1'b1;
            state <= DEC;
          end else if (!sweeping && s_axil_arvalid) begin
            ax_q <= {s_axil_araddr[19:2], 2'b00};
            low_q <= s_axil_araddr[19:8] == '0;
            is_wr_q <= 1'b0;
            state <= DEC;
          end
        end
        DEC: begin
          addr_q <= {ax_q[17:2], 2'b00};
          dec_q <= dec;
          cmd_ok_q <= cmd_ok;
          state <= is_wr_q ? WR1 : RD1;
        end
        WR1: begin
          state <= WR2;
          if (dec_q.max_frame) max_frame <= wd_q;
          if (dec_q.ctr_clear) ctr_clear <= 1'b1;
          if (dec_q.hash_key) hash_key[32*addr_q[3:2]+:32] <= wd_q;
          if (dec_q.tbl_wdata) wdata_q[32*widx+:32] <= wd_q;
          if (dec_q.tbl_status && wd_q[0]) error_q <= 1'b0;
          if (dec_q.dev_status && wd_q[REG_DEV_STATUS_RESET_SEEN_LSB]) reset_seen_q <= 1'b0;
          if (is_wr_cmd) begin
            if (!cmd_ok_q) error_q <= 1'b1;
            else if (cmd_op == 2'(TBL_OP_WRITE) || cmd_op == 2'(TBL_OP_CLEAR)) begin
              tw_valid <= 1'b1;
              tw_table <= cmd_table;
              tw_index <= cmd_index;
              tw_data <= (cmd_op == 2'(TBL_OP_WRITE)) ?
                  ((cmd_table == 4'(TBL_CONN_ID)) ? staged : {32'd0, staged[127:0]}) : '0;
            end
          end
          if (dec_q.indir) begin
            iw_valid <= 1'b1;
            iw_index <= addr_q[17:2];
            iw_data <= wd_q;
          end
        end
        WR2: begin
          // TBL_CMD read: the entry read in WR1 lands in TBL_RDATA.
          if (is_rd_cmd_q)
            rdata_q <= {96'd0, cmd_conn_q ? entry_rd[159:128] : 32'd0, entry_rd[127:0]};
          state <= WR3;
        end
        // A counter clear, a soft reset, an activity clear or an ACP command answers once it is
        // done.
        WR3: if (!ctr_busy && !sweeping && !act_busy && !acp_busy) state <= WRESP;
        WRESP: if (s_axil_bready) state <= IDLE;
        RD1: begin
          ctr_wait <= rd_src == 2'd1;
          state <= RD2;
        end
        RD2: begin
          if (ctr_rd_done) ctr_wait <= 1'b0;
          if (!act_busy && !(ctr_wait && !ctr_rd_done)) state <= RRESP;
        end
        RRESP: if (s_axil_rready) state <= IDLE;
        default: state <= IDLE;
      endcase
    end
  end

  assign acp_wr = state == WR1 && dec_q.acp;
  assign acp_addr = addr_q[10:2];
  assign acp_wdata = wd_q;

  always_ff @(posedge clk) begin
    is_rd_cmd_q <= is_wr_cmd && cmd_ok_q && cmd_op == 2'(TBL_OP_READ);
    soft_start <= !rst && state == DEC && is_wr_q && dec_soft_reset && wd_q[REG_SOFT_RESET_GO_LSB];
  end

  // CPU copies of the tables.
  always_ff @(posedge clk) begin
    if (tw_valid) begin
      case (tw_table)
        4'(TBL_PORT_ID): ports_c[tw_index[PW-1:0]] <= tw_data[127:0];
        4'(TBL_SERVICE_ID): svcs_c[tw_index[SW-1:0]] <= tw_data[127:0];
        4'(TBL_MEMBER_ID): mems_c[tw_index[MW-1:0]] <= tw_data[127:0];
        default: ;
      endcase
    end
  end
  always_ff @(posedge clk) begin
    if (tw_valid && tw_table == 4'(TBL_CONN_ID)) conn_c[tw_index[CONN_IDX_W-1:0]] <= tw_data;
  end
  always_ff @(posedge clk) begin
    if (iw_valid) indir_c[iw_index[INDIR_SLOTS_LOG2-1:0]] <= iw_data;
  end

  // Entry read for TBL_CMD read (in WR1, used in WR2).
  logic [159:0] conn_rd;
  always_ff @(posedge clk) conn_rd <= conn_c[cmd_index[CONN_IDX_W-1:0]];
  logic [159:0] small_rd;
  always_ff @(posedge clk) begin
    case (cmd_table)
      4'(TBL_PORT_ID): small_rd <= {32'd0, ports_c[cmd_index[PW-1:0]]};
      4'(TBL_SERVICE_ID): small_rd <= {32'd0, svcs_c[cmd_index[SW-1:0]]};
      default: small_rd <= {32'd0, mems_c[cmd_index[MW-1:0]]};
    endcase
  end
  always_ff @(posedge clk) cmd_conn_q <= cmd_table == 4'(TBL_CONN_ID);
  assign entry_rd = cmd_conn_q ? conn_rd : small_rd;

  // Activity bitmap (block RAM, anypoint_act): hits set bits, a write clears the bits it marks,
  // the reset sweep clears it a bit per cycle; reads and clears take ~32 cycles of the transaction.
  logic act_busy;
  logic [31:0] act_word;
  // The sweep's bit clears a cycle late (registered: the sweep count's compare and the bitmap's
  // address mux did not fit one cycle); the sweep runs on past the last entry, so they all land
  // within it.
  logic act_init;
  logic [CONN_IDX_W-1:0] act_init_addr;
  always_ff @(posedge clk) begin
    act_init <= sweeping && 32'(sweep_n) < CONN_ENTRIES;
    act_init_addr <= sweep_n[CONN_IDX_W-1:0];
  end
  anypoint_act #(
      .NSRC (NSRC),
      .IDX_W(CONN_IDX_W)
  ) u_act (
      .clk(clk),
      .rst(rst),
      .set_valid(act_valid),
      .set_index(act_index),
      .init_valid(act_init),
      .init_addr(act_init_addr),
      .rd_start(state == RD1 && dec_q.act),
      .clr_start(state == WR1 && dec_q.act),
      .word(addr_q[2+:AW]),
      .mask(wd_q),
      .busy(act_busy),
      .rd_word(act_word)
  );

  // Register reads: value computed in RD1, returned from RD2 on (a counter read once the
  // counters' pipelined sum is done).
  always_comb begin
    // The decoded selects are exclusive: an OR, not a priority chain.
    rd_val = dec_q.fixed | ({32{dec_q.max_frame}} & max_frame) |
        ({32{dec_q.tbl_status}} & {31'd0, error_q}) |
        ({32{dec_q.dev_status}} & (32'(reset_seen_q) << REG_DEV_STATUS_RESET_SEEN_LSB)) |
        ({32{dec_q.hash_key}} & hash_key[32*addr_q[3:2]+:32]) |
        ({32{dec_q.tbl_wdata}} & wdata_q[32*widx+:32]) |
        ({32{dec_q.tbl_rdata}} & rdata_q[32*widx+:32]) | ({32{dec_q.acp}} & acp_rdata);
    rd_src = dec_q.act ? 2'd3 : dec_q.ctr ? 2'd1 : dec_q.indir ? 2'd2 : 2'd0;
  end

  always_ff @(posedge clk) indir_rd <= indir_c[addr_q[2+:INDIR_SLOTS_LOG2]];

  logic [31:0] rd_val_q;
  logic [1:0] rd_src_q;
  always_ff @(posedge clk) begin
    if (state == RD1) begin
      rd_val_q <= rd_val;
      rd_src_q <= rd_src;
    end
  end
  assign ctr_rd_en = state == RD1 && rd_src == 2'd1;
  assign ctr_rd_addr = addr_q[15:0];
  always_comb begin
    case (rd_src_q)
      2'd1: s_axil_rdata = ctr_rd_data;
      2'd2: s_axil_rdata = indir_rd_q;
      2'd3: s_axil_rdata = act_word;
      default: s_axil_rdata = rd_val_q;
    endcase
  end

  always_ff @(posedge clk) begin
    if (state == RD2) begin
      indir_rd_q <= indir_rd;
    end
  end
endmodule
`default_nettype wire
