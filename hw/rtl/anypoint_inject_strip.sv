`default_nettype none
// anypoint_inject_strip: host inject records in, frames out. Removes the 4-byte inject header
// (version, mode, port, reserved) from each record, realigning the frame to beat boundaries, and
// puts {direct, port} on `m_axis_tuser`. Records with a bad header or shorter than the header are
// consumed and discarded.
//
// Parameters:
//   DATA_WIDTH - AXI-Stream data width in bits (multiple of 64).
//   NUM_PORTS  - Ethernet ports; records naming another port are discarded.
module anypoint_inject_strip #(
    parameter int DATA_WIDTH = 64,
    parameter int NUM_PORTS = 4,
    localparam int BYTES = DATA_WIDTH / 8
) (
    input wire clk,
    input wire rst,
    input wire [DATA_WIDTH-1:0] s_axis_tdata,
    input wire [BYTES-1:0] s_axis_tkeep,
    input wire s_axis_tvalid,
    output logic s_axis_tready,
    input wire s_axis_tlast,
    output logic [DATA_WIDTH-1:0] m_axis_tdata,
    output logic [BYTES-1:0] m_axis_tkeep,
    output logic m_axis_tvalid,
    input wire m_axis_tready,
    output logic m_axis_tlast,
    output logic [3:0] m_axis_tuser,
    output logic busy
);
  typedef enum logic [1:0] {
    IDLE,
    MID,
    FLUSH
  } state_t;

  state_t state;
  logic [DATA_WIDTH-1:0] prev;
  logic [BYTES-1:0] prev_keep;
  logic good;
  logic [3:0] user;
  logic out_ready;  // downstream ready, or the record is being discarded
  logic hdr_ok;

  assign out_ready = m_axis_tready || !good;
  assign busy = state != IDLE;
  assign hdr_ok = s_axis_tkeep[3:0] == 4'hf && s_axis_tdata[7:0] == 8'd1 && s_axis_tdata[15:8] <= 8'd1 &&
      32'(s_axis_tdata[23:16]) < NUM_PORTS;

  always_comb begin
    m_axis_tdata = {s_axis_tdata[31:0], prev[DATA_WIDTH-1:32]};
    m_axis_tkeep = {s_axis_tkeep[3:0], prev_keep[BYTES-1:4]};
    m_axis_tlast = s_axis_tlast && s_axis_tkeep[BYTES-1:4] == '0;
    m_axis_tvalid = 1'b0;
    s_axis_tready = 1'b0;
    case (state)
      IDLE: s_axis_tready = !rst;
      MID: begin
        m_axis_tvalid = s_axis_tvalid && good;
        s_axis_tready = out_ready;
      end
      default: begin  // FLUSH
        m_axis_tdata = {32'd0, prev[DATA_WIDTH-1:32]};
        m_axis_tkeep = {4'd0, prev_keep[BYTES-1:4]};
        m_axis_tlast = 1'b1;
        m_axis_tvalid = good;
      end
    endcase
    m_axis_tuser = user;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      state <= IDLE;
      good <= 1'b0;
    end else begin
      case (state)
        IDLE:
        if (s_axis_tvalid) begin
          prev <= s_axis_tdata;
          prev_keep <= s_axis_tkeep;
          good <= hdr_ok;
          user <= {s_axis_tdata[8], s_axis_tdata[18:16]};
          if (s_axis_tlast) state <= hdr_ok ? FLUSH : IDLE;
          else state <= MID;
        end
        MID:
        if (s_axis_tvalid && out_ready) begin
          prev <= s_axis_tdata;
          prev_keep <= s_axis_tkeep;
          if (s_axis_tlast) state <= (s_axis_tkeep[BYTES-1:4] != '0) ? FLUSH : IDLE;
        end
        default: if (out_ready) state <= IDLE;
      endcase
    end
  end
endmodule
`default_nettype wire
