`default_nettype none
// anypoint_siphash: fully pipelined SipHash-1-3 of a 24-byte message (docs/pipeline.md section 4).
//
// Half a SipRound per stage (one 64-bit add and xor per state half, for Fmax): three message blocks,
// the length block, three finalization rounds, so the hash of `msg` appears LATENCY = 14 cycles later.
// A new message may enter every cycle, with `valid`: a stage loads only when the message ahead of
// it is one (clock enables), so an idle pipeline costs a simulation nothing; `hash` is that of the
// last valid message to reach the end. `msg` holds message byte i at bits 8i+7:8i (block j =
// msg[64j +: 64]).
module anypoint_siphash #(
    localparam int LATENCY = 14
) (
    input wire clk,
    input wire valid,
    input wire [63:0] k0,
    input wire [63:0] k1,
    input wire [191:0] msg,
    output logic [63:0] hash
);
  typedef logic [255:0] state_t;  // {v3, v2, v1, v0}

  // The two halves of a SipRound.
  function automatic state_t half_a(input state_t s);
    logic [63:0] v0, v1, v2, v3;
    {v3, v2, v1, v0} = s;
    v0 = v0 + v1;
    v1 = {v1[50:0], v1[63:51]} ^ v0;
    v0 = {v0[31:0], v0[63:32]};
    v2 = v2 + v3;
    v3 = {v3[47:0], v3[63:48]} ^ v2;
    half_a = {v3, v2, v1, v0};
  endfunction

  function automatic state_t half_b(input state_t s);
    logic [63:0] v0, v1, v2, v3;
    {v3, v2, v1, v0} = s;
    v0 = v0 + v3;
    v3 = {v3[42:0], v3[63:43]} ^ v0;
    v2 = v2 + v1;
    v1 = {v1[46:0], v1[63:47]} ^ v2;
    v2 = {v2[31:0], v2[63:32]};
    half_b = {v3, v2, v1, v0};
  endfunction

  // Stage 2r absorbs block r (v3 ^= m, first half), stage 2r+1 finishes the round (v0 ^= m).
  function automatic state_t absorb(input state_t s, input logic [63:0] m);
    absorb = half_a({s[255:192] ^ m, s[191:0]});
  endfunction
  function automatic state_t finish(input state_t s, input logic [63:0] m);
    state_t t;
    t = half_b(s);
    finish = {t[255:64], t[63:0] ^ m};
  endfunction

  localparam logic [63:0] LEN_BLOCK = {8'd24, 56'd0};

  state_t st[LATENCY];
  logic [63:0] m0_q;  // message blocks 0-2 wait beside the state until their round
  logic [63:0] m1_q[3];
  logic [63:0] m2_q[5];
  state_t init;
  state_t fin;

  assign init = {
    k1 ^ 64'h7465646279746573, k0 ^ 64'h6c7967656e657261, k1 ^ 64'h646f72616e646f6d,
    k0 ^ 64'h736f6d6570736575
  };

  logic [LATENCY-1:0] v;  // stage i holds a valid message's state

  always_ff @(posedge clk) begin
    v <= {v[LATENCY-2:0], valid};
    if (valid) begin
      m0_q <= msg[63:0];
      m1_q[0] <= msg[127:64];
      m2_q[0] <= msg[191:128];
      st[0] <= absorb(init, msg[63:0]);
    end
    for (int i = 1; i < 3; i++) if (v[i-1]) m1_q[i] <= m1_q[i-1];
    for (int i = 1; i < 5; i++) if (v[i-1]) m2_q[i] <= m2_q[i-1];
    if (v[0]) st[1] <= finish(st[0], m0_q);
    if (v[1]) st[2] <= absorb(st[1], m1_q[1]);
    if (v[2]) st[3] <= finish(st[2], m1_q[2]);
    if (v[3]) st[4] <= absorb(st[3], m2_q[3]);
    if (v[4]) st[5] <= finish(st[4], m2_q[4]);
    if (v[5]) st[6] <= absorb(st[5], LEN_BLOCK);
    if (v[6]) st[7] <= finish(st[6], LEN_BLOCK);
    // Finalization: v2 ^= 0xff, three rounds.
    if (v[7]) st[8] <= half_a({st[7][255:192], st[7][191:128] ^ 64'hff, st[7][127:0]});
    if (v[8]) st[9] <= half_b(st[8]);
    if (v[9]) st[10] <= half_a(st[9]);
    if (v[10]) st[11] <= half_b(st[10]);
    if (v[11]) st[12] <= half_a(st[11]);
    if (v[12]) st[13] <= half_b(st[12]);
  end

  assign fin = st[LATENCY-1];
  assign hash = fin[63:0] ^ fin[127:64] ^ fin[191:128] ^ fin[255:192];
endmodule
`default_nettype wire
