`default_nettype none
// anypoint_synth_widths: both data widths of anypoint_top in one hierarchical synth_xilinx run
// (hw/synth/xilinx.sh). The width-independent modules (decision pipeline, counters, register
// block) then are synthesized once for both; `stat -top anypoint_synth_w64` (or _w512) counts one
// width's whole design. The instances' ports are left open: without -flatten each module keeps its
// own ports, so nothing is optimized away.
//
// Geometry: 4 Ethernet ports, 16 services, 64 members (compared in parallel, so in flip-flops; the
// 64 / 1024 defaults would only add registers), and the default 2 x 8192 x 4 connection entries and
// 65536 indirection slots; the other parameters at the anypoint_top defaults.
module anypoint_synth_w64;
  /* verilator lint_off PINMISSING */
  (* keep *)
  anypoint_top #(
      .DATA_WIDTH(64),
      .NUM_SERVICES(16),
      .NUM_MEMBERS(64),
      .CONN_BUCKETS_LOG2(13),
      .INDIR_SLOTS_LOG2(16)
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
      .CONN_BUCKETS_LOG2(13),
      .INDIR_SLOTS_LOG2(16)
  ) u_top ();
  /* verilator lint_on PINMISSING */
endmodule

module anypoint_synth_widths;
  (* keep *) anypoint_synth_w64 u_w64 ();
  (* keep *) anypoint_synth_w512 u_w512 ();
endmodule
`default_nettype wire
