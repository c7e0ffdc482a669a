`default_nettype none
// anypoint_synth_widths: both data widths of anypoint_top in one hierarchical synth_xilinx run
// (hw/synth/xilinx.sh). The width-independent modules (decision pipeline, counters, register
// block) then are synthesized once for both; `stat -top anypoint_synth_w64` (or _w512) counts one
// width's whole design. The instances' ports are left open: without -flatten each module keeps its
// own ports, so nothing is optimized away.
//
// Geometry: 4 Ethernet ports, 16 services, 64 members, 2 x 256 x 4 connection entries, 4096
// indirection slots; the other parameters at the anypoint_top defaults. The 64K-entry default does
// not finish here: its 65536-bit activity bitmap is in flip-flops (docs/synthesis.md).
module anypoint_synth_w64;
  /* verilator lint_off PINMISSING */
  (* keep *)
  anypoint_top #(
      .DATA_WIDTH(64),
      .NUM_SERVICES(16),
      .NUM_MEMBERS(64),
      .CONN_BUCKETS_LOG2(8),
      .INDIR_SLOTS_LOG2(12)
  ) u_top ();
  /* verilator lint_on PINMISSING */
endmodule

module anypoint_synth_w512;
  /* verilator lint_off PINMISSING */
  (* keep *)
  anypoint_top #(
      .DATA_WIDTH(512),
      .NUM_SERVICES(16),
      .NUM_MEMBERS(64),
      .CONN_BUCKETS_LOG2(8),
      .INDIR_SLOTS_LOG2(12)
  ) u_top ();
  /* verilator lint_on PINMISSING */
endmodule

module anypoint_synth_widths;
  (* keep *) anypoint_synth_w64 u_w64 ();
  (* keep *) anypoint_synth_w512 u_w512 ();
endmodule
`default_nettype wire
