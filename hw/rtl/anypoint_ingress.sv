`default_nettype none
// anypoint_ingress: frame capture of one ingress source. Every beat goes into the frame FIFO (a
// cycle after it arrives); the first HDR_BYTES bytes are also captured into a register, and a cycle
// after the last beat a frame descriptor (head bytes, length, oversize flag, stored beats, VLAN tag)
// goes to the decision pipeline.
//
// The head is captured from the registered beat (the FIFO's write data) in segments of up to 128
// bits, each loaded by a registered flag of its own: an enable made of the input handshake
// (`tvalid`, the FIFO's room, the frame state) drove all 1,024 head bits and had ~960 loads spread
// over an FPGA. The descriptor's head is that register with the last beat put in place and the
// bytes past the frame zero: it is valid in the `d_valid` cycle only.
//
// A frame longer than the store limit (min(MAX_FRAME, 65535, FRAME_CAP)) is oversize: its beats past
// the limit are not stored (the frame is dropped, so they are never needed), which keeps the frame
// FIFO from ever having to hold more than FRAME_CAP bytes of one frame.
//
// Parameters:
//   DATA_WIDTH - AXI-Stream data width in bits (64 or 512; any multiple of 64 up to 1024).
//   HDR_BYTES  - head bytes captured for the parser (multiple of DATA_WIDTH / 8).
//   FRAME_CAP  - largest frame the FIFO behind this block can hold, in bytes.
module anypoint_ingress #(
    parameter int DATA_WIDTH = 64,
    parameter int HDR_BYTES = 128,
    parameter int FRAME_CAP = 16384,
    localparam int BYTES = DATA_WIDTH / 8,
    localparam int VLAN_COPIES = 8
) (
    input wire clk,
    input wire rst,
    input wire [31:0] max_frame,
    // Frames in; `s_axis_tuser` = {direct, port} is sampled with the first beat.
    input wire [DATA_WIDTH-1:0] s_axis_tdata,
    input wire [BYTES-1:0] s_axis_tkeep,
    input wire s_axis_tvalid,
    output logic s_axis_tready,
    input wire s_axis_tlast,
    input wire [3:0] s_axis_tuser,
    // Admission: a new frame may start only when `admit` is high; beats need FIFO room.
    input wire admit,
    input wire fifo_full,
    output logic sop,
    // Frame FIFO write (registered: FULL_EARLY on the FIFO).
    output logic fifo_wr,
    output logic [DATA_WIDTH+BYTES-1:0] fifo_data,
    // Descriptor.
    output logic d_valid,
    output logic [8*HDR_BYTES-1:0] d_hdr,
    output logic [16:0] d_len,
    output logic d_oversize,
    output logic [3:0] d_user,
    output logic [15:0] d_beats,
    // An 802.1Q tag (bytes 12-13 are 8100), in VLAN_COPIES copies: the flag picks between the
    // tagged and untagged offsets of ~960 header bits the parser takes in its first stage, one
    // register per ~120 of them (`keep`: merged, one net had 900 loads across an FPGA).
    output logic [VLAN_COPIES-1:0] d_vlan
);
  logic in_frame;
  logic [16:0] len_q;
  logic [15:0] beats_q, beat_idx, beat_cur;
  logic [15:0] beats_in, beats_next;  // stored beats before this one; with it
  logic trunc_q;
  logic [3:0] user_q;
  logic [16:0] len_next;
  logic [$clog2(BYTES+1)-1:0] nbytes;
  logic [16:0] limit;
  logic [17:0] room;  // limit minus the bytes before this beat (negative: past the limit already)
  logic store, hs;
  logic [3:0] user_cur;
  logic tag_q, tag_next, vlan_next;

  always_comb begin
    nbytes = '0;
    for (int i = 0; i < BYTES; i++) nbytes = nbytes + {{($clog2(BYTES + 1) - 1) {1'b0}}, s_axis_tkeep[i]};
  end

  // Direct host injects leave unchanged whatever MAX_FRAME says. The MAX_FRAME limit is registered
  // (its 32-bit compare sat in front of the store decision); a write to MAX_FRAME still takes
  // effect before it is answered.
  localparam logic [16:0] CAP_LIMIT = (FRAME_CAP > 65535) ? 17'd65535 : 17'(FRAME_CAP);
  logic [16:0] mf_limit;
  always_ff @(posedge clk) mf_limit <= (max_frame < 32'(CAP_LIMIT)) ? 17'(max_frame) : CAP_LIMIT;
  assign limit = user_cur[3] ? CAP_LIMIT : mf_limit;

  assign s_axis_tready = !rst && !fifo_full && (in_frame || admit);
  assign hs = s_axis_tvalid && s_axis_tready;
  assign sop = hs && !in_frame;

  always_comb begin
    len_next = (in_frame ? len_q : 17'd0) + 17'(nbytes);
    if (in_frame && len_q > 17'h1ffff - 17'(BYTES)) len_next = 17'h1ffff;
    // len_next <= limit, as the beat's byte count against the room left, so that the count does
    // not go through the length add before the compare (a saturated length is past any limit).
    room = {1'b0, limit} - {1'b0, in_frame ? len_q : 17'd0};
    store = !(in_frame && trunc_q) && !room[17] && room[16:0] >= 17'(nbytes);
    beat_cur = in_frame ? beat_idx : 16'd0;
    user_cur = in_frame ? user_q : s_axis_tuser;
    // Bytes 12-13 are 8100 (seen in the beat holding them) and received (the length at least 14,
    // by a short add beside the length's).
    tag_next = (beat_cur == 16'(12 / BYTES)) ? s_axis_tdata[8*(12%BYTES)+:16] == 16'h0081 :
        in_frame && tag_q;
    vlan_next = tag_next && ((in_frame && len_q >= 17'd14) ||
                             (in_frame ? 9'(len_q[3:0]) : 9'd0) + 9'(nbytes) >= 9'd14);
    // A mux after `store` rather than an add of it.
    beats_in = in_frame ? beats_q : 16'd0;
    beats_next = store ? beats_in + 16'd1 : beats_in;
  end

  // The frame FIFO write is registered (the store decision, a byte count and a compare, sat in front
  // of the FIFO's count and flags); the FIFO raises `full` an entry early for the write in flight.
  // The frame's beats are read only after its descriptor, so the cycle adds no latency.
  always_ff @(posedge clk) begin
    fifo_wr <= hs && store && !rst;
    fifo_data <= {s_axis_tkeep, s_axis_tdata};
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      in_frame <= 1'b0;
      d_valid <= 1'b0;
      len_q <= '0;
      beats_q <= '0;
      beat_idx <= '0;
      trunc_q <= 1'b0;
      user_q <= '0;
      tag_q <= 1'b0;
    end else begin
      d_valid <= hs && s_axis_tlast;
      if (hs) begin
        in_frame <= !s_axis_tlast;
        len_q <= len_next;
        user_q <= user_cur;
        tag_q <= tag_next;
        beat_idx <= (in_frame ? beat_idx : 16'd0) + 16'd1;
        trunc_q <= !store;
        beats_q <= beats_next;
      end
    end
    if (hs && s_axis_tlast) begin
      d_len <= len_next;
      d_oversize <= !store;
      d_user <= user_cur;
      d_beats <= beats_next;
    end
  end
  // Head segments: `cap` (this segment's beat is the registered one) and `have` (captured earlier
  // in this frame, from the cycle after `cap`), registered per segment from the handshake. A new
  // frame clears `have` as its first beat arrives, after the previous frame's descriptor cycle.
  localparam int SEG = (DATA_WIDTH < 128) ? DATA_WIDTH : 128;
  for (genvar g = 0; g < 8 * HDR_BYTES / SEG; g++) begin : g_hdr
    localparam int B = g * SEG / DATA_WIDTH;  // the beat of the frame it holds
    localparam int AT = (g * SEG) % DATA_WIDTH;  // where in that beat
    logic cap, have;
    logic [SEG-1:0] hdr_q;
    (* keep *) always_ff @(posedge clk) begin
      cap <= hs && beat_cur == 16'(B) && !rst;
      if (rst || sop) have <= 1'b0;
      else if (cap) have <= 1'b1;
    end
    always_ff @(posedge clk) if (cap) hdr_q <= fifo_data[AT+:SEG];
    assign d_hdr[g*SEG+:SEG] = cap ? fifo_data[AT+:SEG] : have ? hdr_q : '0;
  end

  for (genvar k = 0; k < VLAN_COPIES; k++) begin : g_vlan
    (* keep *) always_ff @(posedge clk) if (hs && s_axis_tlast) d_vlan[k] <= vlan_next;
  end
endmodule
`default_nettype wire
