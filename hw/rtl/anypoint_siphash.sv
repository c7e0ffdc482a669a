`default_nettype none
// anypoint_siphash: fully pipelined SipHash-1-3 of a 24-byte message (docs/pipeline.md section 4).
//
// One SipRound per stage: three message blocks, the length block, three finalization rounds, so the
// hash of the message presented with `in_valid` appears `LATENCY` = 7 cycles later. A new message
// may enter every cycle. `msg` holds message byte i at bits 8i+7:8i (block j = msg[64j +: 64]).
module anypoint_siphash (
    input wire clk,
    input wire [63:0] k0,
    input wire [63:0] k1,
    input wire [191:0] msg,
    output logic [63:0] hash
);
  localparam int LATENCY = 7;

  typedef logic [255:0] state_t;  // {v3, v2, v1, v0}

  function automatic state_t sip_round(input state_t s);
    logic [63:0] v0, v1, v2, v3;
    v0 = s[63:0];
    v1 = s[127:64];
    v2 = s[191:128];
    v3 = s[255:192];
    v0 = v0 + v1;
    v1 = {v1[50:0], v1[63:51]} ^ v0;
    v0 = {v0[31:0], v0[63:32]};
    v2 = v2 + v3;
    v3 = {v3[47:0], v3[63:48]} ^ v2;
    v0 = v0 + v3;
    v3 = {v3[42:0], v3[63:43]} ^ v0;
    v2 = v2 + v1;
    v1 = {v1[46:0], v1[63:47]} ^ v2;
    v2 = {v2[31:0], v2[63:32]};
    sip_round = {v3, v2, v1, v0};
  endfunction

  function automatic state_t compress(input state_t s, input logic [63:0] m);
    state_t t;
    t = s;
    t[255:192] = t[255:192] ^ m;
    t = sip_round(t);
    t[63:0] = t[63:0] ^ m;
    compress = t;
  endfunction

  state_t st[LATENCY];
  logic [63:0] m1_q[1];
  logic [63:0] m2_q[2];
  state_t init;
  state_t fin;

  assign init = {
    k1 ^ 64'h7465646279746573, k0 ^ 64'h6c7967656e657261, k1 ^ 64'h646f72616e646f6d,
    k0 ^ 64'h736f6d6570736575
  };

  always_ff @(posedge clk) begin
    st[0] <= compress(init, msg[63:0]);
    m1_q[0] <= msg[127:64];
    m2_q[0] <= msg[191:128];
    st[1] <= compress(st[0], m1_q[0]);
    m2_q[1] <= m2_q[0];
    st[2] <= compress(st[1], m2_q[1]);
    st[3] <= compress(st[2], {8'd24, 56'd0});
    st[4] <= sip_round({st[3][255:192], st[3][191:128] ^ 64'hff, st[3][127:0]});
    st[5] <= sip_round(st[4]);
    st[6] <= sip_round(st[5]);
  end

  assign fin = st[6];
  assign hash = fin[63:0] ^ fin[127:64] ^ fin[191:128] ^ fin[255:192];
endmodule
`default_nettype wire
