`default_nettype none
// anypoint_emit: turns decided frames into output beats. For each descriptor it reads the frame's
// stored beats from the frame FIFO and
//   - forward: writes them to the forward channel with the rewritten head bytes laid over them
//     (and, for a learn or state record, its 32-byte header to the host channel alongside the first beats);
//   - host: writes the 32-byte record header and then the frame to the host channel, realigning
//     the frame when a beat is wider than the header;
//   - drop: discards them.
// Both channels are FIFO write ports; a beat moves only when every channel it writes has room.
//
// Parameters:
//   DATA_WIDTH - data width in bits (64, 128, 256 or 512).
module anypoint_emit #(
    parameter int DATA_WIDTH = 64,
    localparam int BYTES = DATA_WIDTH / 8,
    localparam int DESC_W = 3 + 512 + 64 + 256 + 17 + 16 + 7
) (
    input wire clk,
    input wire rst,
    // Descriptor FIFO head: {port, rw_data, rw_mask, hhdr, len, beats, flags}, the flags (the
    // action's decode) made before the FIFO, off the pop path: {forward with beats, ... and a
    // record, host record, drop with beats, forward or drop of no beats, beats == 0, beats == 1}.
    input wire desc_valid,
    input wire [DESC_W-1:0] desc,
    output logic desc_pop,
    // Frame FIFO head: {keep, data}.
    input wire frame_valid,
    input wire [DATA_WIDTH+BYTES-1:0] frame,
    output logic frame_pop,
    // Forward channel: {port, last, keep, data}.
    input wire fwd_full,
    output logic fwd_wr,
    output logic [3+1+BYTES+DATA_WIDTH-1:0] fwd_data,
    // Host channel: {last, keep, data}.
    input wire host_full,
    output logic host_wr,
    output logic [1+BYTES+DATA_WIDTH-1:0] host_data
);
  localparam int HDR = 32;  // host record header bytes
  localparam int HDR_BEATS = (BYTES >= HDR) ? 1 : HDR / BYTES;
  localparam bit REALIGN = BYTES > HDR;

  logic [2:0] port;
  logic [511:0] rw_data;
  logic [63:0] rw_mask;
  logic [255:0] hhdr;
  logic [15:0] beats;
  logic [DATA_WIDTH-1:0] fdata;
  logic [BYTES-1:0] fkeep;

  assign {port, rw_data, rw_mask, hhdr} = desc[DESC_W-1:40];
  assign {beats, is_fwd, is_rec, is_host, is_drop, is_skip, beats0, beats1} = desc[22:0];
  assign {fkeep, fdata} = frame;

  logic is_fwd, is_rec, is_host, is_drop, is_skip;  // one-hot but for is_rec (within is_fwd)
  logic beats0, beats1;  // beats == 0, beats == 1
  logic [15:0] idx;  // frame beats consumed
  // Registered idx == 0 and (idx + 1 == beats for idx > 0): the pop decision waited on a 16-bit
  // add and compare.
  logic first_q, last_q;
  // Registered idx < HDR_BEATS, hidx < HDR_BEATS and hidx == HDR_BEATS - 1: the compares sat in
  // front of the pops.
  logic idx_hdr, hidx_hdr, hidx_last;
  logic [3:0] hidx;  // header beats written (BYTES < 32)
  logic flush;  // realigned host record: the final partial beat
  logic [DATA_WIDTH-1:0] carry;
  logic [BYTES-1:0] carry_keep;

  logic [DATA_WIDTH-1:0] ov_data;
  logic [DATA_WIDTH-1:0] hdr_beat;
  logic [BYTES-1:0] hdr_keep;
  logic last_beat;
  logic [15:0] hsel;

  // The rewritten head bytes and the record header, padded to whole beats, sliced per beat.
  localparam int RW_BEATS = (512 + DATA_WIDTH - 1) / DATA_WIDTH;
  localparam int HH_BEATS = (256 + DATA_WIDTH - 1) / DATA_WIDTH;
  logic [RW_BEATS*DATA_WIDTH-1:0] rw_data_p;
  logic [RW_BEATS*BYTES-1:0] rw_mask_p;
  logic [HH_BEATS*DATA_WIDTH-1:0] hhdr_p;
  logic [HH_BEATS*BYTES-1:0] hkeep_p;
  logic [DATA_WIDTH-1:0] rw_beat;
  logic [BYTES-1:0] rw_beat_mask;
  always_comb begin
    rw_data_p = '0;
    rw_data_p[511:0] = rw_data;
    rw_mask_p = '0;
    rw_mask_p[63:0] = rw_mask;
    hhdr_p = '0;
    hhdr_p[255:0] = hhdr;
    hkeep_p = '0;
    hkeep_p[31:0] = '1;
  end

  always_comb begin
    hsel = is_fwd ? idx : {12'd0, hidx};
    rw_beat = '0;
    rw_beat_mask = '0;
    for (int b = 0; b < RW_BEATS; b++) begin
      if (idx == 16'(b)) begin
        rw_beat = rw_data_p[b*DATA_WIDTH+:DATA_WIDTH];
        rw_beat_mask = rw_mask_p[b*BYTES+:BYTES];
      end
    end
    hdr_beat = '0;
    hdr_keep = '0;
    for (int b = 0; b < HH_BEATS; b++) begin
      if (hsel == 16'(b)) begin
        hdr_beat = hhdr_p[b*DATA_WIDTH+:DATA_WIDTH];
        hdr_keep = hkeep_p[b*BYTES+:BYTES];
      end
    end
    // Overlay of the rewritten head bytes on frame beat `idx`.
    for (int j = 0; j < BYTES; j++) ov_data[8*j+:8] = rw_beat_mask[j] ? rw_beat[8*j+:8] : fdata[8*j+:8];
    last_beat = first_q ? beats1 : last_q;
  end

  // The handshakes are sums of exclusive terms of the one-hot flags (not the priority chain of a
  // case on the action): the pops fan out to both FIFOs' counts and flags in the same cycle.
  logic fwd_go, hdr_go, hframe_go, hend_go, drop_go, host_last;
  always_comb begin
    fwd_go = is_fwd && frame_valid && !fwd_full && !(is_rec && idx_hdr && host_full);
    // Host record: header beats (BYTES < 32), frame beats, and (realigned) the final partial beat or
    // the header alone.
    hdr_go = is_host && !REALIGN && hidx_hdr && !host_full;
    hframe_go = is_host && frame_valid && !host_full && (REALIGN ? !flush && !beats0 : !hidx_hdr);
    hend_go = is_host && REALIGN && (flush || beats0) && !host_full;
    drop_go = is_drop && frame_valid;
    host_last = last_beat && (!REALIGN || (fkeep >> (BYTES - HDR)) == '0);
    frame_pop = desc_valid && (fwd_go || hframe_go || drop_go);
    fwd_wr = desc_valid && fwd_go;
    host_wr = desc_valid && ((fwd_go && is_rec && idx_hdr) || hdr_go || hframe_go || hend_go);
    desc_pop = desc_valid && (is_skip || ((fwd_go || drop_go) && last_beat) ||
        (hframe_go && host_last) || (hdr_go && beats0 && hidx_last) || hend_go);
  end

  // Channel data: by the flags and the emitter state, off the handshakes.
  always_comb begin
    fwd_data = {port, last_beat, fkeep, ov_data};
    host_data = {1'b0, hdr_keep, hdr_beat};
    if (is_fwd) host_data = {32'(idx) == HDR_BEATS - 1, hdr_keep, hdr_beat};
    else if (!REALIGN && hidx_hdr) host_data = {beats0 && hidx_last, hdr_keep, hdr_beat};
    else if (!REALIGN) host_data = {last_beat, fkeep, fdata};
    else if (flush) host_data = {1'b1, carry_keep >> (BYTES - HDR), carry >> (DATA_WIDTH - 8 * HDR)};
    else if (beats0) host_data = {1'b1, hdr_keep, hdr_beat};
    else begin
      host_data[DATA_WIDTH-1:0] = (fdata << (8 * HDR)) |
          (first_q ? hdr_beat : (carry >> (DATA_WIDTH - 8 * HDR)));
      host_data[DATA_WIDTH+:BYTES] = (fkeep << HDR) |
          (first_q ? hdr_keep : (carry_keep >> (BYTES - HDR)));
      host_data[DATA_WIDTH+BYTES] = host_last;
    end
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      idx <= '0;
      first_q <= 1'b1;
      idx_hdr <= 1'b1;
      hidx <= '0;
      hidx_hdr <= 1'b1;
      hidx_last <= HDR_BEATS == 1;
      flush <= 1'b0;
    end else if (desc_pop) begin
      idx <= '0;
      first_q <= 1'b1;
      idx_hdr <= 1'b1;
      hidx <= '0;
      hidx_hdr <= 1'b1;
      hidx_last <= HDR_BEATS == 1;
      flush <= 1'b0;
    end else begin
      if (frame_pop) begin
        idx <= idx + 16'd1;
        first_q <= 1'b0;
        last_q <= idx + 16'd2 == beats;
        idx_hdr <= 32'(idx) + 1 < HDR_BEATS;
      end
      if (desc_valid && hdr_go) begin
        hidx <= hidx + 4'd1;
        hidx_hdr <= 32'(hidx) + 1 < HDR_BEATS;
        hidx_last <= 32'(hidx) + 2 == HDR_BEATS;
      end
      if (REALIGN && is_host && frame_pop && last_beat) flush <= 1'b1;
    end
    if (frame_pop) begin
      carry <= fdata;
      carry_keep <= fkeep;
    end
  end
  // In the realigned case `carry` holds the previous beat; the flush beat is its top HDR bytes.
endmodule
`default_nettype wire
