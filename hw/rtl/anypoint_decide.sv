`default_nettype none
// anypoint_decide: the fixed-latency decision pipeline of one ingress source (docs/pipeline.md
// sections 2-5 and 7): parse and validate, service and member match, key extraction, the 5-tuple and
// key SipHash-1-3, connection-table and indirection lookup, the decision and the rewrite with RFC 1624
// incremental checksums.
//
// One frame descriptor (the first HDR_BYTES bytes of the frame, its length) may enter every cycle;
// its result leaves 26 cycles later (stage n below is registered at the end of cycle n). The
// pipeline never stalls: the caller reserves room for every result before it admits a frame. The
// stages are short (at most one 64-bit add, a few LUT levels or one table read each) for Fmax.
//
// The pipeline keeps its own copy of every table it reads (ports, services and members in registers,
// the connection table and the indirection memory in block RAM). All copies are written by the same
// table write bus in one cycle, a whole entry at a time, so a lookup never sees a half-written entry.
//
// Parameters:
//   NUM_PORTS         - Ethernet ports (1-8).
//   NUM_SERVICES      - service table entries (1-64).
//   NUM_MEMBERS       - member table entries (1-1024).
//   CONN_BUCKETS_LOG2 - log2 of the buckets per connection-table bank (two banks of 4 ways).
//   INDIR_SLOTS_LOG2  - log2 of the indirection slots.
//   HDR_BYTES         - bytes of the frame head available to the parser (128).
module anypoint_decide #(
    parameter int NUM_PORTS = 4,
    parameter int NUM_SERVICES = 16,
    parameter int NUM_MEMBERS = 64,
    parameter int CONN_BUCKETS_LOG2 = 4,
    parameter int INDIR_SLOTS_LOG2 = 12,
    parameter int HDR_BYTES = 128,
    localparam int CONN_IDX_W = CONN_BUCKETS_LOG2 + 3
) (
    input wire clk,
    input wire rst,
    // HASH_KEY3..0
    input wire [127:0] hash_key,
    // Table write bus (whole entries; clear = write of zeros).
    input wire tw_valid,
    input wire [3:0] tw_table,
    input wire [23:0] tw_index,
    input wire [159:0] tw_data,
    input wire iw_valid,
    input wire [15:0] iw_index,
    input wire [31:0] iw_data,
    // Frame descriptor in.
    input wire in_valid,
    input wire [8*HDR_BYTES-1:0] in_hdr,
    input wire [16:0] in_len,
    input wire in_oversize,
    input wire [2:0] in_port,
    input wire in_inj,
    input wire in_direct,
    input wire [15:0] in_beats,
    // Result: action 0 = drop, 1 = forward, 2 = host record.
    output logic out_valid,
    output logic [1:0] out_action,
    output logic [2:0] out_port,
    output logic out_record,
    output logic [511:0] out_rw_data,
    output logic [63:0] out_rw_mask,
    output logic [255:0] out_hhdr,
    output logic [16:0] out_len,
    output logic [15:0] out_beats,
    // Counter event for the same frame.
    output logic ev_valid,
    output logic ev_rx,
    output logic [2:0] ev_in_port,
    output logic [1:0] ev_action,
    output logic [2:0] ev_out_port,
    output logic [4:0] ev_reason,
    output logic ev_record,
    output logic ev_outbound,
    output logic [15:0] ev_service,
    output logic [15:0] ev_member,
    output logic [16:0] ev_len,
    // Connection-table hit (activity bitmap).
    output logic act_valid,
    output logic [CONN_IDX_W-1:0] act_index
);
  `include "anypoint_regmap.svh"

`define F(e, NAME) e[32*NAME``_WORD + NAME``_LSB +: NAME``_W]

  localparam int BUCKETS = 1 << CONN_BUCKETS_LOG2;
  localparam int PW = (NUM_PORTS > 1) ? $clog2(NUM_PORTS) : 1;
  localparam int SW = (NUM_SERVICES > 1) ? $clog2(NUM_SERVICES) : 1;
  localparam int MW = (NUM_MEMBERS > 1) ? $clog2(NUM_MEMBERS) : 1;
  localparam int INDIR_SLOTS = 1 << INDIR_SLOTS_LOG2;
  localparam int HASH_LAT = 14;  // anypoint_siphash LATENCY
  localparam logic [1:0] ACT_DROP = 2'd0;
  localparam logic [1:0] ACT_FWD = 2'd1;
  localparam logic [1:0] ACT_HOST = 2'd2;

  // ---------------------------------------------------------------------------------------------
  // Table copies.
  logic [127:0] ports_q[NUM_PORTS];
  logic [127:0] svcs_q[NUM_SERVICES];
  logic [127:0] mems_q[NUM_MEMBERS];
  logic [16:0] indir_mem[INDIR_SLOTS];

  always_ff @(posedge clk) begin
    if (tw_valid) begin
      case (tw_table)
        4'(TBL_PORT_ID): if (tw_index < 24'(NUM_PORTS)) ports_q[tw_index[PW-1:0]] <= tw_data[127:0];
        4'(TBL_SERVICE_ID):
        if (tw_index < 24'(NUM_SERVICES)) svcs_q[tw_index[SW-1:0]] <= tw_data[127:0];
        4'(TBL_MEMBER_ID):
        if (tw_index < 24'(NUM_MEMBERS)) mems_q[tw_index[MW-1:0]] <= tw_data[127:0];
        default: ;
      endcase
    end
  end

  logic [2:0] tw_way;
  logic [CONN_BUCKETS_LOG2-1:0] tw_bucket;
  assign tw_way = {tw_index[CONN_BUCKETS_LOG2+2], tw_index[1:0]};
  assign tw_bucket = tw_index[CONN_BUCKETS_LOG2+1:2];

  always_ff @(posedge clk) begin
    // The register block only sends slots that exist.
    if (iw_valid)
      indir_mem[iw_index[INDIR_SLOTS_LOG2-1:0]] <= {iw_data[31], iw_data[15:0]};
  end

  // Entry `id` of a table, all zero beyond it.
  function automatic logic [127:0] port_e(input logic [2:0] id);
    port_e = (32'(id) < NUM_PORTS) ? ports_q[id[PW-1:0]] : '0;
  endfunction
  function automatic logic [127:0] svc_e(input logic [15:0] id);
    svc_e = (32'(id) < NUM_SERVICES) ? svcs_q[id[SW-1:0]] : '0;
  endfunction
  function automatic logic [127:0] mem_e(input logic [15:0] id);
    mem_e = (32'(id) < NUM_MEMBERS) ? mems_q[id[MW-1:0]] : '0;
  endfunction

  function automatic logic [15:0] be16(input logic [8*HDR_BYTES-1:0] h, input int at);
    be16 = {h[8*at+:8], h[8*(at+1)+:8]};
  endfunction

  // ---------------------------------------------------------------------------------------------
  // Stage 1: select the IPv4 and L4 header bytes (VLAN tag or not); the lengths the rules compare
  // are computed for both layouts beside the tag compare. Stage 2 applies the rules (section 2).
  typedef struct packed {
    logic [2:0] in_port;
    logic inj;
    logic direct;
    logic [16:0] len;
    logic [15:0] beats;
    logic oversize;
    logic vlan;
    logic runt;  // shorter than the Ethernet header
    logic [15:0] ethertype;
    logic [16:0] avail;  // bytes from the IPv4 header on
    logic [16:0] l4len;  // IPv4 total length - 20
    logic [159:0] ip;  // IPv4 header bytes, byte i at 8i
    logic [159:0] l4;  // first 20 L4 bytes
  } hdr_t;

  logic vlan0;
  logic v1;
  hdr_t h1;
  logic [8*80-1:0] kwin1;  // the first 80 bytes after a UDP header: the key-hash window

  assign vlan0 = (in_len >= 17'd14) && (be16(in_hdr, 12) == 16'h8100);

  always_ff @(posedge clk) begin
    v1 <= in_valid && !rst;
    h1.in_port <= in_port;
    h1.inj <= in_inj;
    h1.direct <= in_direct;
    h1.len <= in_len;
    h1.beats <= in_beats;
    h1.oversize <= in_oversize;
    h1.vlan <= vlan0;
    h1.runt <= vlan0 ? in_len < 17'd18 : in_len < 17'd14;
    h1.ethertype <= vlan0 ? be16(in_hdr, 16) : be16(in_hdr, 12);
    h1.avail <= vlan0 ? in_len - 17'd18 : in_len - 17'd14;
    h1.l4len <= vlan0 ? {1'b0, be16(in_hdr, 20)} - 17'd20 : {1'b0, be16(in_hdr, 16)} - 17'd20;
    h1.ip <= vlan0 ? in_hdr[8*18+:160] : in_hdr[8*14+:160];
    h1.l4 <= vlan0 ? in_hdr[8*38+:160] : in_hdr[8*34+:160];
    kwin1 <= vlan0 ? in_hdr[8*46+:8*80] : in_hdr[8*42+:8*80];
  end

  // Parsed fields carried down the pipeline.
  typedef struct packed {
    logic [2:0] in_port;
    logic inj;
    logic direct;
    logic [16:0] len;
    logic [15:0] beats;
    logic fail;  // a parse rule matched
    logic host;  // ... and it sends the frame to the host
    logic [4:0] reason;
    logic vlan;
    logic l3known;
    logic [31:0] sip;
    logic [31:0] dip;
    logic [15:0] sport;
    logic [15:0] dport;
    logic [7:0] proto;
    logic [7:0] ttl;
    logic syn;  // SYN set, ACK clear
    logic tcp_fin;
    logic tcp_rst;
    logic [15:0] ulen;
    logic [15:0] ip_csum;
    logic [15:0] l4_csum;
  } pkt_t;

  function automatic logic [15:0] b16(input logic [159:0] v, input int at);
    b16 = {v[8*at+:8], v[8*(at+1)+:8]};
  endfunction

  // Stage 2: validate (the header checksum rule is applied in stage 4) and start the header
  // checksum: two levels of its adder tree here, two in stage 3, the fold in stage 4.
  pkt_t p_c;
  logic p_at_csum;
  logic [3:0] ihl_c, doff_c;
  logic [15:0] total_c, ulen_c;
  logic [17:0] csum_qa_c, csum_qb_c;
  logic [16:0] csum_qc_c;

  always_comb begin
    total_c = b16(h1.ip, 2);
    ihl_c = h1.ip[3:0];
    doff_c = h1.l4[8*12+4+:4];
    ulen_c = b16(h1.l4, 4);
    csum_qa_c = 18'(17'(b16(h1.ip, 0)) + 17'(b16(h1.ip, 2))) +
        18'(17'(b16(h1.ip, 4)) + 17'(b16(h1.ip, 6)));
    csum_qb_c = 18'(17'(b16(h1.ip, 8)) + 17'(b16(h1.ip, 10))) +
        18'(17'(b16(h1.ip, 12)) + 17'(b16(h1.ip, 14)));
    csum_qc_c = 17'(b16(h1.ip, 16)) + 17'(b16(h1.ip, 18));
    p_c.in_port = h1.in_port;
    p_c.inj = h1.inj;
    p_c.direct = h1.direct;
    p_c.len = h1.len;
    p_c.beats = h1.beats;
    p_c.vlan = h1.vlan;
    p_c.sip = {h1.ip[8*12+:8], h1.ip[8*13+:8], h1.ip[8*14+:8], h1.ip[8*15+:8]};
    p_c.dip = {h1.ip[8*16+:8], h1.ip[8*17+:8], h1.ip[8*18+:8], h1.ip[8*19+:8]};
    p_c.sport = b16(h1.l4, 0);
    p_c.dport = b16(h1.l4, 2);
    p_c.proto = h1.ip[8*9+:8];
    p_c.ttl = h1.ip[8*8+:8];
    p_c.syn = (p_c.proto == 8'd6) && ((h1.l4[8*13+:8] & 8'h12) == 8'h02);
    p_c.tcp_fin = (p_c.proto == 8'd6) && h1.l4[8*13];
    p_c.tcp_rst = (p_c.proto == 8'd6) && h1.l4[8*13+2];
    p_c.ulen = (p_c.proto == 8'd17) ? ulen_c : 16'd0;
    p_c.ip_csum = b16(h1.ip, 10);
    p_c.l4_csum = (p_c.proto == 8'd6) ? b16(h1.l4, 16) : b16(h1.l4, 6);
    p_c.fail = 1'b1;
    p_c.host = 1'b0;
    p_c.l3known = 1'b0;
    p_c.reason = 5'd0;
    p_at_csum = 1'b0;
    if (h1.runt) p_c.reason = 5'(REASON_RUNT);
    else if (h1.oversize) p_c.reason = 5'(REASON_OVERSIZE);
    else if (h1.ethertype == 16'h0806) begin
      p_c.reason = 5'(REASON_ARP);
      p_c.host = 1'b1;
    end else if (h1.ethertype != 16'h0800) begin
      p_c.reason = 5'(REASON_NON_IPV4);
      p_c.host = 1'b1;
    end else begin
      p_c.l3known = 1'b1;
      if (h1.avail < 17'd20) p_c.reason = 5'(REASON_IP_TRUNCATED);
      else if (h1.ip[7:4] != 4'd4) p_c.reason = 5'(REASON_IP_VERSION);
      else if (ihl_c < 4'd5) p_c.reason = 5'(REASON_IP_IHL);
      else if (ihl_c > 4'd5) begin
        p_c.reason = 5'(REASON_IP_OPTIONS);
        p_c.host = 1'b1;
      end else if ({1'b0, total_c} > h1.avail || total_c < 16'd20)
        p_c.reason = 5'(REASON_IP_TOTAL_LEN);
      else begin
        // The checksum rule comes here; its result overrides the rules below in stage 4.
        p_at_csum = 1'b1;
        if ((b16(h1.ip, 6) & 16'h3fff) != 16'd0) begin
          p_c.reason = 5'(REASON_IP_FRAGMENT);
          p_c.host = 1'b1;
        end else if (p_c.proto != 8'd6 && p_c.proto != 8'd17) begin
          p_c.reason = 5'(REASON_L4_OTHER);
          p_c.host = 1'b1;
        end else if (p_c.proto == 8'd6) begin
          if (h1.l4len < 17'd20 || doff_c < 4'd5 || {11'd0, doff_c, 2'b00} > h1.l4len)
            p_c.reason = 5'(REASON_L4_TRUNCATED);
          else p_c.fail = 1'b0;
        end else begin
          if (h1.l4len < 17'd8 || ulen_c < 16'd8 || {1'b0, ulen_c} > h1.l4len)
            p_c.reason = 5'(REASON_L4_TRUNCATED);
          else p_c.fail = 1'b0;
        end
      end
    end
  end

  // ... and the service match (lowest valid service on dst ip, proto, dst port) and member match
  // (lowest member in use on src ip and src port whose service has the packet's proto): every
  // entry's comparison in stage 2, the lowest-index pick and the service entry read in stage 3.
  logic [NUM_SERVICES-1:0] svc_match_c, svc_proto_ok;
  logic [NUM_MEMBERS-1:0] mem_match_c;
  logic [7:0] m_svc;

  always_comb begin
    for (int s = 0; s < NUM_SERVICES; s++) begin
      svc_proto_ok[s] = `F(svcs_q[s], TBL_SERVICE_PROTO) == p_c.proto;
      svc_match_c[s] = `F(svcs_q[s], TBL_SERVICE_VALID) != 0 &&
          `F(svcs_q[s], TBL_SERVICE_VIP) == p_c.dip &&
          `F(svcs_q[s], TBL_SERVICE_PROTO) == p_c.proto &&
          `F(svcs_q[s], TBL_SERVICE_PORT) == p_c.dport;
    end
    for (int m = 0; m < NUM_MEMBERS; m++) begin
      m_svc = `F(mems_q[m], TBL_MEMBER_SERVICE);
      mem_match_c[m] = `F(mems_q[m], TBL_MEMBER_STATE) != 2'(MEMBER_STATE_UNUSED) &&
          `F(mems_q[m], TBL_MEMBER_ADDR) == p_c.sip && `F(mems_q[m], TBL_MEMBER_PORT) == p_c.sport &&
          32'(m_svc) < NUM_SERVICES && svc_proto_ok[m_svc[SW-1:0]];
    end
  end

  logic vm;
  pkt_t pm;
  logic [NUM_SERVICES-1:0] svc_match_m;
  logic [NUM_MEMBERS-1:0] mem_match_m;
  logic [8*80-1:0] kwinm;
  logic at_csum_m;
  logic [17:0] csum_qa_m, csum_qb_m;
  logic [16:0] csum_qc_m;

  always_ff @(posedge clk) begin
    vm <= v1 && !rst;
    pm <= p_c;
    kwinm <= kwin1;
    svc_match_m <= svc_match_c;
    mem_match_m <= mem_match_c;
    at_csum_m <= p_at_csum;
    csum_qa_m <= csum_qa_c;
    csum_qb_m <= csum_qb_c;
    csum_qc_m <= csum_qc_c;
  end

  logic svc_hit_c, mem_hit_c;
  logic [5:0] svc_id_c;
  logic [9:0] mem_id_c;

  always_comb begin
    svc_hit_c = 1'b0;
    svc_id_c = '0;
    for (int s = NUM_SERVICES - 1; s >= 0; s--) begin
      if (svc_match_m[s]) begin
        svc_hit_c = 1'b1;
        svc_id_c = 6'(s);
      end
    end
    mem_hit_c = 1'b0;
    mem_id_c = '0;
    for (int m = NUM_MEMBERS - 1; m >= 0; m--) begin
      if (mem_match_m[m]) begin
        mem_hit_c = 1'b1;
        mem_id_c = 10'(m);
      end
    end
  end

  logic v2;
  pkt_t p2;
  logic svc_hit2, mem_hit2;
  logic [5:0] svc_id2;
  logic [9:0] mem_id2;
  logic [127:0] svc2;
  logic [8*80-1:0] kwin2;
  logic at_csum2;
  logic [19:0] csum_sum2;
  logic [16:0] csum_f2;
  logic csum_bad2;
  // The folded sum is ffff exactly when the first fold is 0ffff (that fold is at most 10008).
  assign csum_f2 = 17'(csum_sum2[15:0]) + 17'(csum_sum2[19:16]);
  assign csum_bad2 = at_csum2 && csum_f2 != 17'h0ffff;

  always_ff @(posedge clk) begin
    v2 <= vm && !rst;
    p2 <= pm;
    kwin2 <= kwinm;
    svc_hit2 <= svc_hit_c && !pm.fail;
    mem_hit2 <= mem_hit_c && !pm.fail;
    at_csum2 <= at_csum_m;
    csum_sum2 <= 20'(19'(csum_qa_m) + 19'(csum_qb_m)) + 20'(csum_qc_m);
    svc_id2 <= svc_id_c;
    mem_id2 <= mem_id_c;
    svc2 <= svc_e(16'(svc_id_c));
  end

  // ---------------------------------------------------------------------------------------------
  // Stage 4: hash messages. The key-hash key is `key_len` bytes at `key_offset` of the UDP payload;
  // a payload too short for it (or a length outside 1-16) falls back to the 5-tuple hash.
  logic [191:0] tmsg_c, kmsg_c;
  logic use_key_c;
  logic [8*80-1:0] key_shift;
  logic [127:0] key_bytes;
  logic [7:0] key_off;
  logic [4:0] key_len;
  logic [2:0] policy2;

  always_comb begin
    key_off = `F(svc2, TBL_SERVICE_KEY_OFFSET);
    key_len = `F(svc2, TBL_SERVICE_KEY_LEN);
    policy2 = `F(svc2, TBL_SERVICE_POLICY);
    // The first 80 payload bytes (offset + len <= 64 by the register map's rule).
    key_shift = kwin2 >> {key_off[5:0], 3'b000};
    for (int i = 0; i < 16; i++) key_bytes[8*i+:8] = (5'(i) < key_len) ? key_shift[8*i+:8] : 8'd0;
    use_key_c = svc_hit2 && policy2 == 3'(POLICY_KEY_HASH) && p2.proto == 8'd17 && key_off < 8'd64 &&
        key_len >= 5'd1 && key_len <= 5'd16 &&
        ({9'd0, key_off} + {12'd0, key_len} + 17'd8 <= {1'b0, p2.ulen});
    tmsg_c = {48'd0, 8'd13, 8'd0, 24'd0, p2.proto, p2.dport[7:0], p2.dport[15:8], p2.sport[7:0],
              p2.sport[15:8], p2.dip[7:0], p2.dip[15:8], p2.dip[23:16], p2.dip[31:24],
              p2.sip[7:0], p2.sip[15:8], p2.sip[23:16], p2.sip[31:24]};
    kmsg_c = {48'd0, 3'd0, key_len, 8'd1, key_bytes};
  end

  logic v3;
  pkt_t p3;
  logic [191:0] tmsg3, kmsg3;
  logic use_key3, svc_hit3, mem_hit3;
  logic [5:0] svc_id3;
  logic [9:0] mem_id3;
  logic [127:0] svc3;

  always_ff @(posedge clk) begin
    v3 <= v2 && !rst;
    p3 <= p2;
    if (csum_bad2) begin
      p3.fail <= 1'b1;
      p3.host <= 1'b0;
      p3.reason <= 5'(REASON_IP_CHECKSUM);
    end
    tmsg3 <= tmsg_c;
    kmsg3 <= kmsg_c;
    use_key3 <= use_key_c;
    svc_hit3 <= svc_hit2 && !csum_bad2;
    mem_hit3 <= mem_hit2 && !csum_bad2;
    svc_id3 <= svc_id2;
    mem_id3 <= mem_id2;
    svc3 <= svc2;
  end

  // ---------------------------------------------------------------------------------------------
  // Stages 5-18: SipHash-1-3, the sideband waits in a delay line.
  logic [63:0] thash, khash;
  anypoint_siphash u_tuple_hash (
      .clk(clk),
      .k0({hash_key[63:32], hash_key[31:0]}),
      .k1({hash_key[127:96], hash_key[95:64]}),
      .msg(tmsg3),
      .hash(thash)
  );
  anypoint_siphash u_key_hash (
      .clk(clk),
      .k0({hash_key[63:32], hash_key[31:0]}),
      .k1({hash_key[127:96], hash_key[95:64]}),
      .msg(kmsg3),
      .hash(khash)
  );

  typedef struct packed {
    logic v;
    pkt_t p;
    logic use_key;
    logic svc_hit;
    logic mem_hit;
    logic [5:0] svc_id;
    logic [9:0] mem_id;
    logic [127:0] svc;
    logic [15:0] indir_mask;  // the service's slot mask, decoded here off the slot address path
  } side_t;

  side_t side3;
  always_comb begin
    side3.v = v3 && !rst;
    side3.p = p3;
    side3.use_key = use_key3;
    side3.svc_hit = svc_hit3;
    side3.mem_hit = mem_hit3;
    side3.svc_id = svc_id3;
    side3.mem_id = mem_id3;
    side3.svc = svc3;
    side3.indir_mask = 16'((32'd1 << `F(svc3, TBL_SERVICE_INDIR_LOG2)) - 32'd1);
  end

  // Delay line beside the hash (no reset: reset is held longer than it is deep).
  logic [$bits(side3)-1:0] dl[HASH_LAT];
  always_ff @(posedge clk) begin
    dl[0] <= side3;
    for (int i = 1; i < HASH_LAT; i++) dl[i] <= dl[i-1];
  end

  side_t s10;
  assign s10 = dl[HASH_LAT-1];

  // Stage 19: connection-table and indirection reads.
  logic [63:0] slot_hash;
  logic [16:0] slot_c;
  logic [CONN_BUCKETS_LOG2-1:0] bucket0_c, bucket1_c;

  always_comb begin
    slot_hash = s10.use_key ? khash : thash;
    slot_c = 17'(`F(s10.svc, TBL_SERVICE_INDIR_BASE)) + 17'(16'(slot_hash[63:48] & s10.indir_mask));
    bucket0_c = thash[CONN_BUCKETS_LOG2-1:0];
    bucket1_c = thash[32+:CONN_BUCKETS_LOG2];
  end

  // One RAM per way (one write and one registered read port each), so every way maps to block RAM.
  logic [159:0] conn_rd[8];
  logic [16:0] indir_rd;
  for (genvar w = 0; w < 8; w++) begin : g_conn
    logic [159:0] mem[BUCKETS];
    always_ff @(posedge clk) begin
      if (tw_valid && tw_table == 4'(TBL_CONN_ID) && tw_index < 24'(2 * 4 * BUCKETS) &&
          tw_way == 3'(w))
        mem[tw_bucket] <= tw_data;
      conn_rd[w] <= mem[(w < 4) ? bucket0_c : bucket1_c];
    end
  end
  always_ff @(posedge clk) indir_rd <= indir_mem[slot_c[INDIR_SLOTS_LOG2-1:0]];

  side_t s11;
  logic [63:0] thash11;
  logic [16:0] slot11;
  logic [CONN_BUCKETS_LOG2-1:0] bucket0_11, bucket1_11;
  always_ff @(posedge clk) begin
    s11 <= s10;
    if (rst) s11.v <= 1'b0;
    thash11 <= thash;
    slot11 <= slot_c;
    bucket0_11 <= bucket0_c;
    bucket1_11 <= bucket1_c;
  end

  // ---------------------------------------------------------------------------------------------
  // Stage 20: compare the eight candidate entries (the block RAM reads take much of the cycle, so
  // the lowest-index pick and the indirection slot's member read wait for stage 21).
  logic [7:0] conn_match_c;

  always_comb begin
    for (int w = 0; w < 8; w++)
      conn_match_c[w] = `F(conn_rd[w], TBL_CONN_VALID) != 0 &&
          `F(conn_rd[w], TBL_CONN_SRC_IP) == s11.p.sip &&
          `F(conn_rd[w], TBL_CONN_DST_IP) == s11.p.dip &&
          `F(conn_rd[w], TBL_CONN_SRC_PORT) == s11.p.sport &&
          `F(conn_rd[w], TBL_CONN_DST_PORT) == s11.p.dport &&
          `F(conn_rd[w], TBL_CONN_PROTO) == s11.p.proto;
  end

  side_t sk;
  logic [7:0] conn_match_k;
  logic [159:0] conn_rd_k[8];
  logic [16:0] indir_rd_k, slot_k;
  logic [31:0] hash_lo_k;
  logic [CONN_BUCKETS_LOG2-1:0] bucket0_k, bucket1_k;

  always_ff @(posedge clk) begin
    sk <= s11;
    if (rst) sk.v <= 1'b0;
    conn_match_k <= conn_match_c;
    // Way by way: yosys 0.23 (Debian) rejects the copy of a whole unpacked array.
    for (int w = 0; w < 8; w++) conn_rd_k[w] <= conn_rd[w];
    indir_rd_k <= indir_rd;
    slot_k <= slot11;
    hash_lo_k <= thash11[31:0];
    bucket0_k <= bucket0_11;
    bucket1_k <= bucket1_11;
  end

  // Stage 21: the lowest matching way wins.
  logic conn_hit_c;
  logic [2:0] conn_way_c;
  logic [159:0] conn_e_c;
  logic indir_valid_c;
  logic [15:0] indir_member_c;

  always_comb begin
    conn_hit_c = 1'b0;
    conn_way_c = '0;
    conn_e_c = conn_rd_k[0];
    for (int w = 7; w >= 0; w--) begin
      if (conn_match_k[w]) begin
        conn_hit_c = 1'b1;
        conn_way_c = 3'(w);
        conn_e_c = conn_rd_k[w];
      end
    end
    conn_hit_c = conn_hit_c && !sk.p.fail && !sk.p.direct;
    indir_valid_c = (slot_k < 17'(INDIR_SLOTS)) && indir_rd_k[16];
    indir_member_c = indir_rd_k[15:0];
  end

  side_t s12;
  logic conn_hit12;
  logic [159:0] conn12;
  logic indir_valid12;
  logic [15:0] indir_member12;
  logic [31:0] hash_lo12;
  logic [127:0] m_indir12, m_mid12;  // member entries of the indirection slot and the member match

  always_ff @(posedge clk) begin
    s12 <= sk;
    if (rst) s12.v <= 1'b0;
    conn_hit12 <= conn_hit_c;
    conn12 <= conn_e_c;
    indir_valid12 <= indir_valid_c;
    indir_member12 <= indir_member_c;
    hash_lo12 <= hash_lo_k;
    m_indir12 <= mem_e(indir_member_c);
    m_mid12 <= mem_e(16'(sk.mem_id));
    act_valid <= sk.v && !rst && conn_hit_c;
    act_index <= {conn_way_c[2], conn_way_c[2] ? bucket1_k : bucket0_k, conn_way_c[1:0]};
  end

  // ---------------------------------------------------------------------------------------------
  // Stage 22: read the table entries the decision may need, one lookup deep: the connection's
  // member and service, and the service of the matched member.
  side_t se;
  logic conn_hit_e;
  logic [159:0] conn_e;
  logic indir_valid_e;
  logic [15:0] indir_member_e;
  logic [31:0] hash_lo_e;
  logic [127:0] m_conn_e, s_conn_e, m_indir_e, m_mid_e, s_mid_e;

  always_ff @(posedge clk) begin
    se <= s12;
    if (rst) se.v <= 1'b0;
    conn_hit_e <= conn_hit12;
    conn_e <= conn12;
    indir_valid_e <= indir_valid12;
    indir_member_e <= indir_member12;
    hash_lo_e <= hash_lo12;
    m_conn_e <= mem_e(`F(conn12, TBL_CONN_MEMBER));
    s_conn_e <= svc_e(16'(`F(conn12, TBL_CONN_SERVICE)));
    m_indir_e <= m_indir12;
    m_mid_e <= m_mid12;
    s_mid_e <= svc_e(16'(`F(m_mid12, TBL_MEMBER_SERVICE)));
  end

  // ---------------------------------------------------------------------------------------------
  // Stage 23: decide (section 3).
  logic [1:0] d_action;
  logic [4:0] d_reason;
  logic [15:0] d_service, d_member;
  logic d_outbound, d_record, d_nh_valid;
  logic [2:0] d_port;
  logic [31:0] d_ip;
  logic [15:0] d_l4port;
  logic [47:0] d_src_mac, d_dst_mac;
  logic [127:0] m_e, s_e, pt_e, in_pt_e;
  logic [1:0] m_state;
  logic fwd;

  always_comb begin
    d_action = ACT_HOST;
    d_reason = '0;
    d_service = 16'hffff;
    d_member = 16'hffff;
    d_outbound = 1'b0;
    d_record = 1'b0;
    d_nh_valid = 1'b0;
    d_port = '0;
    d_ip = '0;
    d_l4port = '0;
    d_src_mac = '0;
    d_dst_mac = '0;
    m_e = '0;
    s_e = '0;
    pt_e = '0;
    m_state = '0;
    fwd = 1'b0;
    in_pt_e = port_e(se.p.in_port);
    if (se.p.direct) begin
      d_action = ACT_FWD;
      d_port = se.p.in_port;
    end else if (se.p.fail) begin
      d_action = se.p.host ? ACT_HOST : ACT_DROP;
      d_reason = se.p.reason;
    end else begin
      // Which member / service / port the decision concerns, and which rewrite.
      if (conn_hit_e) begin
        d_service = 16'(`F(conn_e, TBL_CONN_SERVICE));
        d_member = `F(conn_e, TBL_CONN_MEMBER);
        if (`F(conn_e, TBL_CONN_DIR) != 0) begin
          d_outbound = 1'b1;
          d_port = `F(conn_e, TBL_CONN_PEER_PORT);
          fwd = 1'b1;
        end else begin
          m_e = m_conn_e;
          m_state = `F(m_e, TBL_MEMBER_STATE);
          if (m_state == 2'(MEMBER_STATE_ACTIVE) || m_state == 2'(MEMBER_STATE_DRAINING)) fwd = 1'b1;
          else d_reason = 5'(REASON_MEMBER_DOWN);
        end
        // A FIN or RST forwarded on a connection: a state record for the host's ageing.
        if (fwd && (se.p.tcp_fin || se.p.tcp_rst)) begin
          d_record = 1'b1;
          d_reason = se.p.tcp_rst ? 5'(REASON_TCP_RST) : 5'(REASON_TCP_FIN);
        end
      end else if (se.svc_hit) begin
        d_service = 16'(se.svc_id);
        if (`F(se.svc, TBL_SERVICE_POLICY) == 3'(POLICY_MAGLEV) ||
            `F(se.svc, TBL_SERVICE_POLICY) == 3'(POLICY_KEY_HASH)) begin
          if (!indir_valid_e) d_reason = 5'(REASON_NO_MEMBER);
          else begin
            d_member = indir_member_e;
            m_e = m_indir_e;
            if (`F(m_e, TBL_MEMBER_STATE) != 2'(MEMBER_STATE_ACTIVE))
              d_reason = 5'(REASON_NO_MEMBER);
            else begin
              fwd = 1'b1;
              d_record = se.p.syn;
              if (se.p.syn) d_reason = 5'(REASON_LEARN);
            end
          end
        end else d_reason = 5'(REASON_HOST_POLICY);
      end else if (se.mem_hit) begin
        m_e = m_mid_e;
        d_member = 16'(se.mem_id);
        d_service = 16'(`F(m_e, TBL_MEMBER_SERVICE));
        if (se.p.proto != 8'd17) d_reason = 5'(REASON_OUTBOUND_NO_CONN);
        else begin
          d_outbound = 1'b1;
          s_e = s_mid_e;
          d_port = `F(s_e, TBL_SERVICE_PEER_PORT);
          fwd = 1'b1;
        end
      end else begin
        d_reason = 5'(REASON_NO_SERVICE);
        if (`F(in_pt_e, TBL_PORT_NO_SERVICE_DROP) != 0) d_action = ACT_DROP;
      end

      if (fwd) begin
        if (d_outbound) begin
          s_e = conn_hit_e ? s_conn_e : s_mid_e;
          pt_e = port_e(d_port);
          d_ip = `F(s_e, TBL_SERVICE_VIP);
          d_l4port = `F(s_e, TBL_SERVICE_PORT);
          d_src_mac = {`F(pt_e, TBL_PORT_MAC_HI), `F(pt_e, TBL_PORT_MAC_LO)};
          d_dst_mac = {`F(pt_e, TBL_PORT_NH_MAC_HI), `F(pt_e, TBL_PORT_NH_MAC_LO)};
          d_nh_valid = `F(pt_e, TBL_PORT_NH_VALID) != 0;
        end else begin
          d_port = `F(m_e, TBL_MEMBER_OUT_PORT);
          pt_e = port_e(d_port);
          d_ip = `F(m_e, TBL_MEMBER_ADDR);
          d_l4port = `F(m_e, TBL_MEMBER_PORT);
          d_src_mac = {`F(pt_e, TBL_PORT_MAC_HI), `F(pt_e, TBL_PORT_MAC_LO)};
          d_dst_mac = {`F(m_e, TBL_MEMBER_MAC_HI), `F(m_e, TBL_MEMBER_MAC_LO)};
          d_nh_valid = `F(m_e, TBL_MEMBER_MAC_VALID) != 0;
        end
        if (se.p.ttl <= 8'd1) d_reason = 5'(REASON_TTL_EXPIRED);
        else if (!d_nh_valid) d_reason = 5'(REASON_NO_NEXT_HOP);
        else if (`F(pt_e, TBL_PORT_ENABLED) == 0) begin
          d_reason = 5'(REASON_PORT_DOWN);
          d_action = ACT_DROP;
        end else d_action = ACT_FWD;
        if (d_action != ACT_FWD) d_record = 1'b0;
      end
    end
  end

  // Decision of a frame, carried through the checksum stages.
  typedef struct packed {
    side_t s;
    logic [1:0] action;
    logic [4:0] reason;
    logic [15:0] service;
    logic [15:0] member;
    logic outbound;
    logic record;  // a header-only learn or state record beside the forward
    logic [2:0] port;
    logic [31:0] ip;
    logic [15:0] l4port;
    logic [47:0] src_mac;
    logic [47:0] dst_mac;
    logic [31:0] hash_lo;
  } dec_t;

  dec_t d13, d14, d15;

  always_ff @(posedge clk) begin
    d13.s <= se;
    if (rst) d13.s.v <= 1'b0;
    d13.action <= d_action;
    d13.reason <= d_reason;
    d13.service <= d_service;
    d13.member <= d_member;
    d13.outbound <= d_outbound;
    d13.record <= d_record;
    d13.port <= d_port;
    d13.ip <= d_ip;
    d13.l4port <= d_l4port;
    d13.src_mac <= d_src_mac;
    d13.dst_mac <= d_dst_mac;
    d13.hash_lo <= hash_lo_e;
  end

  // ---------------------------------------------------------------------------------------------
  // Stages 24-25: the RFC 1624 updates of each checksum (section 7). Applying the updates
  // HC' = ~(~HC + ~m + m') one after another equals one one's-complement sum of all their terms
  // (end-around-carry addition is associative and is zero only when every term is), so each
  // checksum is a 7-term sum: a balanced adder tree in stage 24, the last add and the fold in
  // stage 25. The fold takes one add: both end-around-carry results are added at once and the
  // carry out of the first picks one.
  function automatic logic [15:0] fold(input logic [18:0] s);
    logic [16:0] f0;
    logic [15:0] f1;
    logic [3:0] c1;
    f0 = 17'(s[15:0]) + 17'(s[18:16]);
    c1 = 4'(s[18:16]) + 4'd1;
    f1 = s[15:0] + 16'(c1);
    fold = f0[16] ? f1 : f0[15:0];
  endfunction

  // A 16-bit term widened for the tree (complement it before widening).
  function automatic logic [17:0] ones(input logic [15:0] w);
    ones = {2'b00, w};
  endfunction

  logic [31:0] old_ip13;
  logic [15:0] old_port13, ttl_word13;
  logic [17:0] ip_pa14, ip_pb14, l4_pa14, l4_pb14;
  logic [18:0] ip_sum15, l4_sum15;
  logic [15:0] ip_s15, l4_s15;

  always_comb begin
    old_ip13 = d13.outbound ? d13.s.p.sip : d13.s.p.dip;
    old_port13 = d13.outbound ? d13.s.p.sport : d13.s.p.dport;
    ttl_word13 = {d13.s.p.ttl, d13.s.p.proto};
  end

  always_ff @(posedge clk) begin
    d14 <= d13;
    if (rst) d14.s.v <= 1'b0;
    ip_pa14 <= (ones(~d13.s.p.ip_csum) + ones(~old_ip13[31:16])) +
        (ones(d13.ip[31:16]) + ones(~old_ip13[15:0]));
    ip_pb14 <= (ones(d13.ip[15:0]) + ones(~ttl_word13)) + ones(ttl_word13 - 16'h0100);
    l4_pa14 <= (ones(~d13.s.p.l4_csum) + ones(~old_ip13[31:16])) +
        (ones(d13.ip[31:16]) + ones(~old_ip13[15:0]));
    l4_pb14 <= (ones(d13.ip[15:0]) + ones(~old_port13)) + ones(d13.l4port);

    d15 <= d14;
    if (rst) d15.s.v <= 1'b0;
    ip_s15 <= fold(ip_sum15);
    l4_s15 <= fold(l4_sum15);
  end
  assign ip_sum15 = 19'(ip_pa14) + 19'(ip_pb14);
  assign l4_sum15 = 19'(l4_pa14) + 19'(l4_pb14);

  // ---------------------------------------------------------------------------------------------
  // Stage 26: rewrite (section 7) and the host record header.
  logic [15:0] new_ttl_word, ip_hc, l4_hc;
  logic [511:0] rw_data;
  logic [63:0] rw_mask;
  logic [255:0] hh;
  logic [8*38-1:0] rel_data;
  logic [37:0] rel_mask;
  logic is_tcp;
  logic [4:0] l3;

  always_comb begin
    is_tcp = d15.s.p.proto == 8'd6;
    l3 = d15.s.p.vlan ? 5'd18 : 5'd14;
    new_ttl_word = {d15.s.p.ttl, d15.s.p.proto} - 16'h0100;
    ip_hc = ~ip_s15;
    l4_hc = d15.s.p.l4_csum;
    if (is_tcp || l4_hc != 16'd0) begin
      l4_hc = ~l4_s15;
      if (!is_tcp && l4_hc == 16'd0) l4_hc = 16'hffff;
    end

    rw_data = '0;
    rw_mask = '0;
    for (int i = 0; i < 6; i++) begin
      rw_data[8*i+:8] = d15.dst_mac[8*(5-i)+:8];
      rw_data[8*(6+i)+:8] = d15.src_mac[8*(5-i)+:8];
    end
    rw_mask[11:0] = 12'hfff;
    // IPv4 and L4 bytes relative to the IPv4 header (fixed offsets), then placed at 14 or 18.
    rel_data = '0;
    rel_mask = '0;
    rel_data[8*8+:16] = {new_ttl_word[7:0], new_ttl_word[15:8]};
    rel_data[8*10+:16] = {ip_hc[7:0], ip_hc[15:8]};
    rel_mask[11:8] = 4'hf;
    if (d15.outbound) begin
      rel_data[8*12+:32] = {d15.ip[7:0], d15.ip[15:8], d15.ip[23:16], d15.ip[31:24]};
      rel_mask[15:12] = 4'hf;
      rel_data[8*20+:16] = {d15.l4port[7:0], d15.l4port[15:8]};
      rel_mask[21:20] = 2'b11;
    end else begin
      rel_data[8*16+:32] = {d15.ip[7:0], d15.ip[15:8], d15.ip[23:16], d15.ip[31:24]};
      rel_mask[19:16] = 4'hf;
      rel_data[8*22+:16] = {d15.l4port[7:0], d15.l4port[15:8]};
      rel_mask[23:22] = 2'b11;
    end
    if (is_tcp) begin
      rel_data[8*36+:16] = {l4_hc[7:0], l4_hc[15:8]};
      rel_mask[37:36] = 2'b11;
    end else begin
      rel_data[8*26+:16] = {l4_hc[7:0], l4_hc[15:8]};
      rel_mask[27:26] = 2'b11;
    end
    if (d15.s.p.vlan) begin
      rw_data[8*18+:8*38] = rel_data;
      rw_mask[18+:38] = rel_mask;
    end else begin
      rw_data[8*14+:8*38] = rel_data;
      rw_mask[14+:38] = rel_mask;
    end
    if (d15.s.p.direct || d15.action != ACT_FWD) rw_mask = '0;

    // Host record header: punt, or the learn / state record of a forward (its reason says which).
    hh = '0;
    hh[7:0] = 8'd1;
    hh[15:8] = (d15.action != ACT_FWD) ? 8'd0 : (d15.reason == 5'(REASON_LEARN)) ? 8'd1 : 8'd2;
    hh[23:16] = 8'(d15.reason);
    hh[31:24] = 8'(d15.s.p.in_port);
    hh[32+:16] = {d15.service[7:0], d15.service[15:8]};
    hh[48+:16] = {d15.member[7:0], d15.member[15:8]};
    hh[64+:16] = (d15.action == ACT_FWD) ? 16'd0 : {d15.s.p.len[7:0], d15.s.p.len[15:8]};
    hh[80+:8] = d15.s.p.l3known ? {3'd0, l3} : 8'd0;
    hh[88+:8] = {7'd0, d15.s.p.vlan};
    if (!d15.s.p.fail) begin
      hh[96+:32] = {d15.s.p.sip[7:0], d15.s.p.sip[15:8], d15.s.p.sip[23:16], d15.s.p.sip[31:24]};
      hh[128+:32] = {d15.s.p.dip[7:0], d15.s.p.dip[15:8], d15.s.p.dip[23:16], d15.s.p.dip[31:24]};
      hh[160+:16] = {d15.s.p.sport[7:0], d15.s.p.sport[15:8]};
      hh[176+:16] = {d15.s.p.dport[7:0], d15.s.p.dport[15:8]};
      hh[192+:8] = d15.s.p.proto;
      hh[224+:32] = {d15.hash_lo[7:0], d15.hash_lo[15:8], d15.hash_lo[23:16], d15.hash_lo[31:24]};
    end
  end

  always_ff @(posedge clk) begin
    out_valid <= d15.s.v && !rst;
    out_action <= d15.action;
    out_port <= d15.port;
    out_record <= d15.record && d15.action == ACT_FWD && !d15.s.p.direct;
    out_rw_data <= rw_data;
    out_rw_mask <= rw_mask;
    out_hhdr <= hh;
    out_len <= d15.s.p.len;
    out_beats <= d15.s.p.beats;

    ev_valid <= d15.s.v && !rst;
    ev_rx <= !d15.s.p.inj;
    ev_in_port <= d15.s.p.in_port;
    ev_action <= d15.s.p.direct ? 2'd3 : d15.action;
    ev_out_port <= d15.port;
    ev_reason <= d15.reason;
    ev_record <= d15.record && d15.action == ACT_FWD && !d15.s.p.direct;
    ev_outbound <= d15.outbound;
    ev_service <= d15.service;
    ev_member <= d15.member;
    ev_len <= d15.s.p.len;
  end

`undef F
endmodule
`default_nettype wire
