`default_nettype none
// anypoint_decide: the fixed-latency decision pipeline of one ingress source (docs/pipeline.md
// sections 2-5 and 7): parse and validate, service and member match, key extraction, the 5-tuple and
// key SipHash-1-3, connection-table and indirection lookup, the decision and the rewrite with RFC 1624
// incremental checksums.
//
// One frame descriptor (the first HDR_BYTES bytes of the frame, its length) may enter every cycle;
// its result leaves 26 cycles later, unregistered from stage 27 for the caller to register (stage n
// below is registered at the end of cycle n), its counter event a cycle after that. The
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
    input wire [7:0] in_vlan,  // copies of the 802.1Q flag (anypoint_ingress), for fan-out
    input wire in_oversize,
    input wire [2:0] in_port,
    input wire in_inj,
    input wire in_direct,
    input wire [15:0] in_beats,
    // Result (combinational): action 0 = drop, 1 = forward, 2 = host record.
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
  // The table write buses, registered in each pipeline (`keep`: shared, the write index had ~600
  // loads across an FPGA): a write lands here a cycle after the register block issues it, before
  // the register write is answered and, in the reset sweep, as the pipeline leaves reset. Which
  // table a write goes to, its index in range, is worked out as the buses are registered: behind
  // the register, a table entry's write enable is its index decoded, not a 24-bit compare, the
  // table and the valid (nextpnr's post-route critical path of this pipeline, 16.1 ns, ended on a
  // member entry's enable).
  logic iw_valid_q, port_wr_q, svc_wr_q, mem_wr_q, conn_wr_q;
  logic [23:0] tw_index_q;
  logic [159:0] tw_data_q;
  logic [15:0] iw_index_q;
  logic [31:0] iw_data_q;
  // Whether a table write of `table` at index `idx` is to an entry of table `id` with `n` entries
  // (of `w` index bits): the index's bits above `w` zero, and a compare only when n is not 2^w.
  function automatic logic tw_to(input logic [3:0] table_id, input logic [23:0] idx,
                                 input logic [3:0] id, input int n, input int w);
    tw_to = table_id == id && (idx >> w) == 24'd0 &&
        (n == 1 << w || (idx & 24'((1 << w) - 1)) < 24'(n));
  endfunction
  (* keep *) always_ff @(posedge clk) begin
    port_wr_q <= tw_valid && tw_to(tw_table, tw_index, 4'(TBL_PORT_ID), NUM_PORTS, PW);
    svc_wr_q <= tw_valid && tw_to(tw_table, tw_index, 4'(TBL_SERVICE_ID), NUM_SERVICES, SW);
    mem_wr_q <= tw_valid && tw_to(tw_table, tw_index, 4'(TBL_MEMBER_ID), NUM_MEMBERS, MW);
    conn_wr_q <= tw_valid &&
        tw_to(tw_table, tw_index, 4'(TBL_CONN_ID), 2 * 4 * BUCKETS, CONN_BUCKETS_LOG2 + 3);
    tw_index_q <= tw_index;
    tw_data_q <= tw_data;
    iw_valid_q <= iw_valid;
    iw_index_q <= iw_index;
    iw_data_q <= iw_data;
  end

  // ---------------------------------------------------------------------------------------------
  // Table copies.
  logic [127:0] ports_q[NUM_PORTS];
  logic [127:0] svcs_q[NUM_SERVICES];
  // Per service, beside the pick: whether it hashes a key (policy, offset and length rules) and
  // where the key ends in the UDP packet, worked out as the entry is written (off the packet's
  // path, one rule check for all services); stage 4 only compares that with the UDP length.
  logic [NUM_SERVICES-1:0] svc_key_ok;
  logic [16:0] svc_key_end[NUM_SERVICES];  // words, not a packed vector: no 17x index multiply
  logic [127:0] mems_q[NUM_MEMBERS];
  // Each member's state is ACTIVE: written with the member table, for the indirection's check
  // behind its block RAM read.
  logic [NUM_MEMBERS-1:0] mem_active;
  logic [17:0] indir_mem[INDIR_SLOTS];  // {member exists, valid, member}

  always_ff @(posedge clk) begin
    if (port_wr_q) ports_q[tw_index_q[PW-1:0]] <= tw_data_q[127:0];
    if (svc_wr_q) begin
      svcs_q[tw_index_q[SW-1:0]] <= tw_data_q[127:0];
      svc_key_ok[tw_index_q[SW-1:0]] <= key_ok(tw_data_q[127:0]);
      svc_key_end[tw_index_q[SW-1:0]] <= key_end(tw_data_q[127:0]);
    end
    if (mem_wr_q) begin
      mems_q[tw_index_q[MW-1:0]] <= tw_data_q[127:0];
      mem_active[tw_index_q[MW-1:0]] <= `F(tw_data_q, TBL_MEMBER_STATE) == 2'(MEMBER_STATE_ACTIVE);
    end
  end

  logic [2:0] tw_way;
  logic [CONN_BUCKETS_LOG2-1:0] tw_bucket;
  assign tw_way = {tw_index_q[CONN_BUCKETS_LOG2+2], tw_index_q[1:0]};
  assign tw_bucket = tw_index_q[CONN_BUCKETS_LOG2+1:2];

  // Entry `id` of a table, all zero beyond it.
  function automatic logic [127:0] port_e(input logic [2:0] id);
    port_e = (32'(id) < NUM_PORTS) ? ports_q[id[PW-1:0]] : '0;
  endfunction
  // id < n for an index of w bits: the bits above it zero, and a compare only when n is not 2^w.
  function automatic logic below(input logic [15:0] id, input int n, input int w);
    below = (id >> w) == 16'd0 && (n == 1 << w || {16'd0, id & 16'((1 << w) - 1)} < n);
  endfunction
  function automatic logic [127:0] svc_e(input logic [15:0] id);
    svc_e = below(id, NUM_SERVICES, SW) ? svcs_q[id[SW-1:0]] : '0;
  endfunction
  // Whether service entry `s_e` hashes a key (policy key-hash, offset below 64, length 1 to 16), and
  // where the key ends in a UDP packet.
  function automatic logic key_ok(input logic [127:0] s_e);
    logic [7:0] off;
    logic [4:0] len;
    off = `F(s_e, TBL_SERVICE_KEY_OFFSET);
    len = `F(s_e, TBL_SERVICE_KEY_LEN);
    key_ok = `F(s_e, TBL_SERVICE_POLICY) == 3'(POLICY_KEY_HASH) && off < 8'd64 && len >= 5'd1 &&
        len <= 5'd16;
  endfunction
  function automatic logic [16:0] key_end(input logic [127:0] s_e);
    key_end = {9'd0, `F(s_e, TBL_SERVICE_KEY_OFFSET)} + {12'd0, `F(s_e, TBL_SERVICE_KEY_LEN)} +
        17'd8;
  endfunction

  // The slot's member range check is made as it is written, off the read path.
  always_ff @(posedge clk) begin
    // The register block only sends slots that exist.
    if (iw_valid_q)
      indir_mem[iw_index_q[INDIR_SLOTS_LOG2-1:0]] <=
          {below(iw_data_q[15:0], NUM_MEMBERS, MW), iw_data_q[31], iw_data_q[15:0]};
  end

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

  // Each copy of the VLAN flag picks one share of the header fields (~120 bits).
  assign vlan0 = in_vlan[7];

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
    h1.ip <= in_vlan[0] ? in_hdr[8*18+:160] : in_hdr[8*14+:160];
    h1.l4 <= in_vlan[1] ? in_hdr[8*38+:160] : in_hdr[8*34+:160];
    for (int k = 0; k < 5; k++)
      kwin1[128*k+:128] <= in_vlan[2+k] ? in_hdr[8*46+128*k+:128] : in_hdr[8*42+128*k+:128];
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

  // Stage 2: the parse rules' conditions (section 2; stage 3 applies them in order, the header
  // checksum rule in stage 4) and two levels of the header checksum's adder tree (two more in
  // stage 3, the fold in stage 4).
  typedef struct packed {
    logic runt;
    logic oversize;
    logic arp;
    logic ipv4;
    logic ip_truncated;
    logic ip_version;
    logic ip_ihl;
    logic ip_options;
    logic ip_total_len;
    logic fragment;
    logic l4known;  // TCP or UDP
    logic l4_truncated;
  } rules_t;

  pkt_t p_c;
  rules_t r_c;
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
    // Stage 3 applies the rules.
    p_c.fail = 1'b1;
    p_c.host = 1'b0;
    p_c.l3known = 1'b0;
    p_c.reason = 5'd0;
    r_c.runt = h1.runt;
    r_c.oversize = h1.oversize;
    r_c.arp = h1.ethertype == 16'h0806;
    r_c.ipv4 = h1.ethertype == 16'h0800;
    r_c.ip_truncated = h1.avail < 17'd20;
    r_c.ip_version = h1.ip[7:4] != 4'd4;
    r_c.ip_ihl = ihl_c < 4'd5;
    r_c.ip_options = ihl_c > 4'd5;
    r_c.ip_total_len = {1'b0, total_c} > h1.avail || total_c < 16'd20;
    r_c.fragment = (b16(h1.ip, 6) & 16'h3fff) != 16'd0;
    r_c.l4known = p_c.proto == 8'd6 || p_c.proto == 8'd17;
    r_c.l4_truncated = (p_c.proto == 8'd6) ?
        h1.l4len < 17'd20 || doff_c < 4'd5 || {11'd0, doff_c, 2'b00} > h1.l4len :
        h1.l4len < 17'd8 || ulen_c < 16'd8 || {1'b0, ulen_c} > h1.l4len;
  end

  // ... and every table entry's comparison with the packet, in pieces of at most 16 bits (a few
  // LUT levels each; as one 56-bit compare it took six): stage 3 ands the pieces, picks the lowest
  // valid service on dst ip, proto and dst port and reads it; the member match (lowest member in use
  // on src ip and src port whose service has the packet's proto) is picked in stage 4.
  // Per service {valid and vip[31:16], vip[15:0], port, proto}.
  function automatic logic [3:0] svc_pieces(input logic [127:0] s_e, input logic [31:0] dip,
                                            input logic [15:0] dport, input logic [7:0] proto);
    logic [31:0] vip;
    vip = `F(s_e, TBL_SERVICE_VIP);
    svc_pieces = {`F(s_e, TBL_SERVICE_VALID) != 0 && vip[31:16] == dip[31:16],
                  vip[15:0] == dip[15:0], `F(s_e, TBL_SERVICE_PORT) == dport,
                  `F(s_e, TBL_SERVICE_PROTO) == proto};
  endfunction

  // The 5-tuple hash needs no table: it starts here, three stages before the key hash, so that the
  // connection-table read, compare and pick have stages to spare (stages 16-20).
  logic [191:0] tmsg_c;
  assign tmsg_c = {48'd0, 8'd13, 8'd0, 24'd0, p_c.proto, p_c.dport[7:0], p_c.dport[15:8],
                   p_c.sport[7:0], p_c.sport[15:8], p_c.dip[7:0], p_c.dip[15:8], p_c.dip[23:16],
                   p_c.dip[31:24], p_c.sip[7:0], p_c.sip[15:8], p_c.sip[23:16], p_c.sip[31:24]};

  logic vm;
  pkt_t pm;
  rules_t rm;
  logic [4*NUM_SERVICES-1:0] svc_pc_m;
  logic [8*80-1:0] kwinm;
  logic [17:0] csum_qa_m, csum_qb_m;
  logic [16:0] csum_qc_m;

  // Per member, the pieces {in use with a service, addr[31:16], addr[15:0], port} and its service,
  // registered only with a packet (v1), as are the matches and the pick below: with 1024 members
  // (the default geometry) five ports' loops over every member each clock made most of the
  // simulation's time (the daemon's `rtl` backend runs it in real time against its ACP peers'
  // timers); in hardware they are clock enables. Unused while no packet is in their stage.
  logic [NUM_MEMBERS-1:0] mem_use_m, mem_hi_m, mem_lo_m, mem_port_m;
  logic [SW*NUM_MEMBERS-1:0] mem_svc_m;
  function automatic logic [3:0] mem_pieces(input logic [127:0] m_e, input logic [31:0] sip,
                                            input logic [15:0] sport);
    logic [7:0] svc;
    logic [31:0] a;
    svc = `F(m_e, TBL_MEMBER_SERVICE);
    a = `F(m_e, TBL_MEMBER_ADDR);
    mem_pieces = {`F(m_e, TBL_MEMBER_STATE) != 2'(MEMBER_STATE_UNUSED) && 32'(svc) < NUM_SERVICES,
                  a[31:16] == sip[31:16], a[15:0] == sip[15:0], `F(m_e, TBL_MEMBER_PORT) == sport};
  endfunction

  always_ff @(posedge clk) begin
    if (v1) begin
      for (int s = 0; s < NUM_SERVICES; s++)
        svc_pc_m[4*s+:4] <= svc_pieces(svcs_q[s], p_c.dip, p_c.dport, p_c.proto);
      for (int m = 0; m < NUM_MEMBERS; m++) begin
        {mem_use_m[m], mem_hi_m[m], mem_lo_m[m], mem_port_m[m]} <=
            mem_pieces(mems_q[m], p_c.sip, p_c.sport);
        mem_svc_m[SW*m+:SW] <= SW'(`F(mems_q[m], TBL_MEMBER_SERVICE));
      end
    end
  end

  always_ff @(posedge clk) begin
    vm <= v1 && !rst;
    pm <= p_c;
    rm <= r_c;
    kwinm <= kwin1;
    csum_qa_m <= csum_qa_c;
    csum_qb_m <= csum_qb_c;
    csum_qc_m <= csum_qc_c;
  end

  // Stage 3: the rules in order, the service pick and read, the member matches.
  logic r_fail, r_host, r_l3known, r_at_csum;
  logic [4:0] r_reason;

  always_comb begin
    r_fail = 1'b1;
    r_host = 1'b0;
    r_l3known = 1'b0;
    r_reason = 5'd0;
    r_at_csum = 1'b0;
    if (rm.runt) r_reason = 5'(REASON_RUNT);
    else if (rm.oversize) r_reason = 5'(REASON_OVERSIZE);
    else if (rm.arp) begin
      r_reason = 5'(REASON_ARP);
      r_host = 1'b1;
    end else if (!rm.ipv4) begin
      r_reason = 5'(REASON_NON_IPV4);
      r_host = 1'b1;
    end else begin
      r_l3known = 1'b1;
      if (rm.ip_truncated) r_reason = 5'(REASON_IP_TRUNCATED);
      else if (rm.ip_version) r_reason = 5'(REASON_IP_VERSION);
      else if (rm.ip_ihl) r_reason = 5'(REASON_IP_IHL);
      else if (rm.ip_options) begin
        r_reason = 5'(REASON_IP_OPTIONS);
        r_host = 1'b1;
      end else if (rm.ip_total_len) r_reason = 5'(REASON_IP_TOTAL_LEN);
      else begin
        // The checksum rule comes here; its result overrides the rules below in stage 4.
        r_at_csum = 1'b1;
        if (rm.fragment) begin
          r_reason = 5'(REASON_IP_FRAGMENT);
          r_host = 1'b1;
        end else if (!rm.l4known) begin
          r_reason = 5'(REASON_L4_OTHER);
          r_host = 1'b1;
        end else if (rm.l4_truncated) r_reason = 5'(REASON_L4_TRUNCATED);
        else r_fail = 1'b0;
      end
    end
  end

  // The lowest service all of whose pieces match (0 for none).
  function automatic logic [5:0] lowest_service(input logic [4*NUM_SERVICES-1:0] pc);
    lowest_service = '0;
    for (int s = NUM_SERVICES - 1; s >= 0; s--) if (&pc[4*s+:4]) lowest_service = 6'(s);
  endfunction
  function automatic logic any_service(input logic [4*NUM_SERVICES-1:0] pc);
    any_service = 1'b0;
    for (int s = 0; s < NUM_SERVICES; s++) any_service = any_service || &pc[4*s+:4];
  endfunction

  logic v2;
  pkt_t p2;
  logic svc_hit2, key_ok2;
  logic [16:0] key_end2;
  logic [5:0] svc_id2;
  logic [NUM_MEMBERS-1:0] mem_match2;
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
    p2.fail <= r_fail;
    p2.host <= r_host;
    p2.l3known <= r_l3known;
    p2.reason <= r_reason;
    kwin2 <= kwinm;
    at_csum2 <= r_at_csum;
    csum_sum2 <= 20'(19'(csum_qa_m) + 19'(csum_qb_m)) + 20'(csum_qc_m);
    // The service pick, with a packet only (as the member pieces).
    if (vm) begin
      svc_hit2 <= any_service(svc_pc_m);
      svc_id2 <= lowest_service(svc_pc_m);
      svc2 <= svc_e(16'(lowest_service(svc_pc_m)));
      key_ok2 <= svc_key_ok[SW'(lowest_service(svc_pc_m))];
      key_end2 <= svc_key_end[SW'(lowest_service(svc_pc_m))];
    end
  end

  // Stage 3, with a packet: the members matching (their pieces anded with their service's proto
  // compare).
  always_ff @(posedge clk) begin
    if (vm) begin
      for (int m = 0; m < NUM_MEMBERS; m++)
        mem_match2[m] <= mem_use_m[m] && mem_hi_m[m] && mem_lo_m[m] && mem_port_m[m] &&
            svc_pc_m[{mem_svc_m[SW*m+:SW], 2'b00}];
    end
  end

  // ---------------------------------------------------------------------------------------------
  // Stage 4: the key hash message and the member pick. The key-hash key is `key_len` bytes at
  // `key_offset` of the UDP payload; a payload too short for it (or a length outside 1-16) falls back
  // to the 5-tuple hash.
  logic [191:0] kmsg_c;
  logic use_key_c;
  logic [8*80-1:0] key_shift;
  logic [127:0] key_bytes;
  logic [5:0] key_off;  // below 64 when the key is used
  logic [4:0] key_len;
  // The lowest member matching (0 for none).
  function automatic logic [9:0] lowest_member(input logic [NUM_MEMBERS-1:0] match);
    lowest_member = '0;
    for (int m = NUM_MEMBERS - 1; m >= 0; m--) if (match[m]) lowest_member = 10'(m);
  endfunction

  always_comb begin
    key_off = 6'(`F(svc2, TBL_SERVICE_KEY_OFFSET));
    key_len = `F(svc2, TBL_SERVICE_KEY_LEN);
    // The first 80 payload bytes (offset + len <= 64 by the register map's rule), shifted by the
    // offset's high bit first, so that the stages narrow from 47 bytes to the 16 used (a shift
    // taking the low bit first had ~700 loads on each offset bit).
    key_shift = kwin2;
    for (int j = 5; j >= 0; j--) if (key_off[j]) key_shift = key_shift >> (8 << j);
    for (int i = 0; i < 16; i++) key_bytes[8*i+:8] = (5'(i) < key_len) ? key_shift[8*i+:8] : 8'd0;
    use_key_c = svc_hit2 && !p2.fail && key_ok2 && p2.proto == 8'd17 && key_end2 <= {1'b0, p2.ulen};
    kmsg_c = {48'd0, 3'd0, key_len, 8'd1, key_bytes};
  end

  logic v3;
  pkt_t p3;
  logic [191:0] kmsg3;
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
    kmsg3 <= kmsg_c;
    use_key3 <= use_key_c;
    svc_hit3 <= svc_hit2 && !p2.fail && !csum_bad2;
    svc_id3 <= svc_id2;
    svc3 <= svc2;
    if (v2) begin
      mem_hit3 <= |mem_match2 && !p2.fail && !csum_bad2;
      mem_id3 <= lowest_member(mem_match2);
    end
  end

  // ---------------------------------------------------------------------------------------------
  // SipHash-1-3: the 5-tuple hash in stages 3-16, the key hash in stages 5-18; the sideband waits in
  // a delay line.
  logic [63:0] thash, khash;
  anypoint_siphash u_tuple_hash (
      .clk(clk),
      .valid(v1),
      .k0({hash_key[63:32], hash_key[31:0]}),
      .k1({hash_key[127:96], hash_key[95:64]}),
      .msg(tmsg_c),
      .hash(thash)
  );
  anypoint_siphash u_key_hash (
      .clk(clk),
      .valid(v3),
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

  // Delay line beside the key hash (no reset: reset is held longer than it is deep).
  logic [$bits(side3)-1:0] dl[HASH_LAT];
  always_ff @(posedge clk) begin
    dl[0] <= side3;
    for (int i = 1; i < HASH_LAT; i++) dl[i] <= dl[i-1];
  end

  side_t s18, s10;
  assign s18 = dl[HASH_LAT-2];
  assign s10 = dl[HASH_LAT-1];

  // ---------------------------------------------------------------------------------------------
  // Connection lookup, stages 16-22: the 5-tuple hash registered (16), the read of the eight
  // candidate entries (17), their comparison in pieces (18: the read takes much of the cycle), the
  // lowest matching way as a one-hot select (19), its entry (20), waiting a stage (21) beside the
  // indirection read, the entry's member and service (22).
  logic [63:0] thash16, thash17, thash18, thash19;
  always_ff @(posedge clk) begin
    thash16 <= thash;
    thash17 <= thash16;
    thash18 <= thash17;
    thash19 <= thash18;
  end

  // One RAM per way (one write and one registered read port each), so every way maps to block RAM.
  logic [159:0] conn_rd[8];
  for (genvar w = 0; w < 8; w++) begin : g_conn
    logic [159:0] mem[BUCKETS];
    always_ff @(posedge clk) begin
      if (conn_wr_q && tw_way == 3'(w)) mem[tw_bucket] <= tw_data_q;
      conn_rd[w] <= mem[(w < 4) ? thash16[CONN_BUCKETS_LOG2-1:0] : thash16[32+:CONN_BUCKETS_LOG2]];
    end
  end

  logic [8*8-1:0] conn_pc_c;  // per way {valid, src ip[31:16], src ip[15:0], dst ip x2, ports, proto}
  logic [31:0] c_sip, c_dip;
  always_comb begin
    for (int w = 0; w < 8; w++) begin
      c_sip = `F(conn_rd[w], TBL_CONN_SRC_IP);
      c_dip = `F(conn_rd[w], TBL_CONN_DST_IP);
      conn_pc_c[8*w+7] = `F(conn_rd[w], TBL_CONN_VALID) != 0;
      conn_pc_c[8*w+6] = c_sip[31:16] == s18.p.sip[31:16];
      conn_pc_c[8*w+5] = c_sip[15:0] == s18.p.sip[15:0];
      conn_pc_c[8*w+4] = c_dip[31:16] == s18.p.dip[31:16];
      conn_pc_c[8*w+3] = c_dip[15:0] == s18.p.dip[15:0];
      conn_pc_c[8*w+2] = `F(conn_rd[w], TBL_CONN_SRC_PORT) == s18.p.sport;
      conn_pc_c[8*w+1] = `F(conn_rd[w], TBL_CONN_DST_PORT) == s18.p.dport;
      conn_pc_c[8*w] = `F(conn_rd[w], TBL_CONN_PROTO) == s18.p.proto;
    end
  end

  logic [8*8-1:0] conn_pc18;
  logic [159:0] conn_rd18[8], conn_rd19[8];
  always_ff @(posedge clk) begin
    conn_pc18 <= conn_pc_c;
    // Way by way: yosys 0.23 (Debian) rejects the copy of a whole unpacked array.
    for (int w = 0; w < 8; w++) conn_rd18[w] <= conn_rd[w];
  end

  logic [7:0] conn_first_c;
  logic conn_seen;
  always_comb begin
    conn_seen = 1'b0;
    for (int w = 0; w < 8; w++) begin
      conn_first_c[w] = &conn_pc18[8*w+:8] && !conn_seen;
      conn_seen = conn_seen || &conn_pc18[8*w+:8];
    end
  end

  logic [7:0] conn_sel19;
  always_ff @(posedge clk) begin
    conn_sel19 <= conn_first_c;
    for (int w = 0; w < 8; w++) conn_rd19[w] <= conn_rd18[w];
  end

  // Stage 19: the key hash picks the indirection slot (the service's base plus the masked hash),
  // read in stage 20.
  logic [63:0] slot_hash;
  logic [16:0] slot_c;
  assign slot_hash = s10.use_key ? khash : thash18;
  assign slot_c = 17'(`F(s10.svc, TBL_SERVICE_INDIR_BASE)) +
      17'(16'(slot_hash[63:48] & s10.indir_mask));

  // Member and service entries read in stages 21 and 22 by quarters, each 32-bit quarter selected
  // by a copy of the number of its own, registered a stage before (`keep`: one register selecting
  // all 128 bits of every entry had ~500 loads across an FPGA).
  function automatic logic [31:0] mem_q32(input logic [15:0] id, input int k);
    mem_q32 = below(id, NUM_MEMBERS, MW) ? mems_q[id[MW-1:0]][32*k+:32] : '0;
  endfunction
  function automatic logic [31:0] svc_q32(input logic [15:0] id, input int k);
    svc_q32 = below(id, NUM_SERVICES, SW) ? svcs_q[id[SW-1:0]][32*k+:32] : '0;
  endfunction

  side_t s19, s20, s21, s22;
  logic [16:0] slot19;
  always_ff @(posedge clk) begin
    s19 <= s10;
    if (rst) s19.v <= 1'b0;
    slot19 <= slot_c;
  end

  // Stage 20: the matching way's entry, the hit and the activity bitmap index.
  logic conn_hit_c;
  logic [2:0] conn_way_c;
  logic [159:0] conn_e_c;
  always_comb begin
    conn_way_c = '0;
    conn_e_c = '0;
    for (int w = 0; w < 8; w++) begin
      if (conn_sel19[w]) conn_way_c = conn_way_c | 3'(w);
      conn_e_c = conn_e_c | (conn_sel19[w] ? conn_rd19[w] : 160'd0);
    end
    conn_hit_c = conn_sel19 != 8'd0 && !s19.p.fail && !s19.p.direct;
  end

  logic conn_hit20, indir_in20;
  logic [159:0] conn_e20;
  logic [17:0] indir_rd20;
  logic [31:0] hash_lo20;
  logic [15:0] mid20_c[4];  // copies of s20.mem_id
  for (genvar k = 0; k < 4; k++) begin : g_mid20
    (* keep *) always_ff @(posedge clk) mid20_c[k] <= 16'(s19.mem_id);
  end
  always_ff @(posedge clk) begin
    s20 <= s19;
    if (rst) s20.v <= 1'b0;
    conn_hit20 <= conn_hit_c;
    conn_e20 <= conn_e_c;
    act_valid <= s19.v && !rst && conn_hit_c;
    act_index <= {conn_way_c[2],
                  conn_way_c[2] ? thash19[32+:CONN_BUCKETS_LOG2] : thash19[CONN_BUCKETS_LOG2-1:0],
                  conn_way_c[1:0]};
    indir_rd20 <= indir_mem[slot19[INDIR_SLOTS_LOG2-1:0]];
    indir_in20 <= slot19 < 17'(INDIR_SLOTS);
    hash_lo20 <= thash19[31:0];
  end

  // Stage 21: the indirection read registered as it leaves the block RAM (its clock-to-output takes
  // half the cycle); the member of the member match.
  logic conn_hit21, indir_in21;
  logic [159:0] conn_e21;
  logic [17:0] indir_rd21;
  logic [31:0] hash_lo21;
  logic [127:0] m_mid21;
  // Copies of conn_e21's member and service and of indir_rd21's member.
  logic [15:0] cmem21_c[4], csvc21_c[4];
  logic [MW-1:0] imem21_c[4];
  for (genvar k = 0; k < 4; k++) begin : g_sel21
    (* keep *) always_ff @(posedge clk) begin
      cmem21_c[k] <= `F(conn_e20, TBL_CONN_MEMBER);
      csvc21_c[k] <= 16'(`F(conn_e20, TBL_CONN_SERVICE));
      imem21_c[k] <= indir_rd20[MW-1:0];
    end
  end
  always_ff @(posedge clk) begin
    s21 <= s20;
    if (rst) s21.v <= 1'b0;
    conn_hit21 <= conn_hit20;
    conn_e21 <= conn_e20;
    indir_rd21 <= indir_rd20;
    indir_in21 <= indir_in20;
    for (int k = 0; k < 4; k++) m_mid21[32*k+:32] <= mem_q32(mid20_c[k], k);
    hash_lo21 <= hash_lo20;
  end

  // Stage 22: the entries one lookup deeper: the connection's member and service, the indirection
  // slot's member, the service of the matched member.
  logic conn_hit22, indir_valid22, indir_up22;
  logic [159:0] conn_e22;
  logic [15:0] indir_member22;
  logic [31:0] hash_lo22;
  logic [127:0] m_conn22, s_conn22, m_indir22, m_mid22, s_mid22;
  always_ff @(posedge clk) begin
    s22 <= s21;
    if (rst) s22.v <= 1'b0;
    conn_hit22 <= conn_hit21;
    conn_e22 <= conn_e21;
    for (int k = 0; k < 4; k++) begin
      m_conn22[32*k+:32] <= mem_q32(cmem21_c[k], k);
      s_conn22[32*k+:32] <= svc_q32(csvc21_c[k], k);
      m_indir22[32*k+:32] <= mems_q[imem21_c[k]][32*k+:32];
    end
    indir_valid22 <= indir_in21 && indir_rd21[16];
    indir_member22 <= indir_rd21[15:0];
    // The slot's member entry (above) unchecked (only a forward reads it, and that needs the
    // member active), its range and state as one flag.
    indir_up22 <= indir_rd21[17] && mem_active[indir_rd21[MW-1:0]];
    m_mid22 <= m_mid21;
    s_mid22 <= svc_e(16'(`F(m_mid21, TBL_MEMBER_SERVICE)));
    hash_lo22 <= hash_lo21;
  end

  // ---------------------------------------------------------------------------------------------
  // Stage 23: decide (section 3) up to the egress port: which member / service / port the decision
  // concerns and which rewrite. Stage 24 reads that port's entry and finishes the decision.
  typedef struct packed {
    side_t s;
    logic [1:0] action;  // final unless fwd
    logic [4:0] reason;
    logic [15:0] service;
    logic [15:0] member;
    logic outbound;
    logic record;
    logic fwd;  // forward if the egress port and next hop allow
    logic ttl_expired;
    logic [2:0] port;
    logic [31:0] ip;
    logic [15:0] l4port;
    logic [47:0] mac;  // the member's MAC (inbound)
    logic mac_valid;
    logic [31:0] hash_lo;
  } pre_t;

  pre_t a;
  logic [127:0] m_e, s_e, in_pt_e;
  logic [1:0] m_state;

  always_comb begin
    a.s = s22;
    a.action = ACT_HOST;
    a.reason = '0;
    a.service = 16'hffff;
    a.member = 16'hffff;
    a.outbound = 1'b0;
    a.record = 1'b0;
    a.fwd = 1'b0;
    a.ttl_expired = s22.p.ttl <= 8'd1;
    a.port = '0;
    a.ip = '0;
    a.l4port = '0;
    a.mac = '0;
    a.mac_valid = 1'b0;
    a.hash_lo = hash_lo22;
    m_e = '0;
    s_e = '0;
    m_state = '0;
    in_pt_e = port_e(s22.p.in_port);
    if (s22.p.direct) begin
      a.action = ACT_FWD;
      a.port = s22.p.in_port;
    end else if (s22.p.fail) begin
      a.action = s22.p.host ? ACT_HOST : ACT_DROP;
      a.reason = s22.p.reason;
    end else begin
      if (conn_hit22) begin
        a.service = 16'(`F(conn_e22, TBL_CONN_SERVICE));
        a.member = `F(conn_e22, TBL_CONN_MEMBER);
        if (`F(conn_e22, TBL_CONN_DIR) != 0) begin
          a.outbound = 1'b1;
          a.port = `F(conn_e22, TBL_CONN_PEER_PORT);
          a.fwd = 1'b1;
        end else begin
          m_e = m_conn22;
          m_state = `F(m_e, TBL_MEMBER_STATE);
          if (m_state == 2'(MEMBER_STATE_ACTIVE) || m_state == 2'(MEMBER_STATE_DRAINING)) a.fwd = 1'b1;
          else a.reason = 5'(REASON_MEMBER_DOWN);
        end
        // A FIN or RST forwarded on a connection: a state record for the host's ageing.
        if (a.fwd && (s22.p.tcp_fin || s22.p.tcp_rst)) begin
          a.record = 1'b1;
          a.reason = s22.p.tcp_rst ? 5'(REASON_TCP_RST) : 5'(REASON_TCP_FIN);
        end
      end else if (s22.svc_hit) begin
        a.service = 16'(s22.svc_id);
        if (`F(s22.svc, TBL_SERVICE_POLICY) == 3'(POLICY_MAGLEV) ||
            `F(s22.svc, TBL_SERVICE_POLICY) == 3'(POLICY_KEY_HASH)) begin
          if (!indir_valid22) a.reason = 5'(REASON_NO_MEMBER);
          else begin
            a.member = indir_member22;
            m_e = m_indir22;
            if (!indir_up22) a.reason = 5'(REASON_NO_MEMBER);
            else begin
              a.fwd = 1'b1;
              a.record = s22.p.syn;
              if (s22.p.syn) a.reason = 5'(REASON_LEARN);
            end
          end
        end else a.reason = 5'(REASON_HOST_POLICY);
      end else if (s22.mem_hit) begin
        m_e = m_mid22;
        a.member = 16'(s22.mem_id);
        a.service = 16'(`F(m_e, TBL_MEMBER_SERVICE));
        if (s22.p.proto != 8'd17) a.reason = 5'(REASON_OUTBOUND_NO_CONN);
        else begin
          a.outbound = 1'b1;
          a.port = `F(s_mid22, TBL_SERVICE_PEER_PORT);
          a.fwd = 1'b1;
        end
      end else begin
        a.reason = 5'(REASON_NO_SERVICE);
        if (`F(in_pt_e, TBL_PORT_NO_SERVICE_DROP) != 0) a.action = ACT_DROP;
      end

      if (a.fwd) begin
        if (a.outbound) begin
          s_e = conn_hit22 ? s_conn22 : s_mid22;
          a.ip = `F(s_e, TBL_SERVICE_VIP);
          a.l4port = `F(s_e, TBL_SERVICE_PORT);
        end else begin
          a.port = `F(m_e, TBL_MEMBER_OUT_PORT);
          a.ip = `F(m_e, TBL_MEMBER_ADDR);
          a.l4port = `F(m_e, TBL_MEMBER_PORT);
          a.mac = {`F(m_e, TBL_MEMBER_MAC_HI), `F(m_e, TBL_MEMBER_MAC_LO)};
          a.mac_valid = `F(m_e, TBL_MEMBER_MAC_VALID) != 0;
        end
      end
    end
  end

  pre_t a23;
  always_ff @(posedge clk) begin
    a23 <= a;
    if (rst) a23.s.v <= 1'b0;
  end

  // Stage 24: the egress port's entry: its MAC, the next hop of an outbound forward, and whether
  // the forward goes out (TTL, next hop, port enabled).
  logic [1:0] d_action;
  logic [4:0] d_reason;
  logic d_record, d_nh_valid;
  logic [47:0] d_src_mac, d_dst_mac;
  logic [127:0] pt_e;

  always_comb begin
    d_action = a23.action;
    d_reason = a23.reason;
    d_record = a23.record;
    d_src_mac = '0;
    d_dst_mac = '0;
    d_nh_valid = 1'b0;
    pt_e = port_e(a23.port);
    if (a23.fwd) begin
      d_src_mac = {`F(pt_e, TBL_PORT_MAC_HI), `F(pt_e, TBL_PORT_MAC_LO)};
      if (a23.outbound) begin
        d_dst_mac = {`F(pt_e, TBL_PORT_NH_MAC_HI), `F(pt_e, TBL_PORT_NH_MAC_LO)};
        d_nh_valid = `F(pt_e, TBL_PORT_NH_VALID) != 0;
      end else begin
        d_dst_mac = a23.mac;
        d_nh_valid = a23.mac_valid;
      end
      if (a23.ttl_expired) d_reason = 5'(REASON_TTL_EXPIRED);
      else if (!d_nh_valid) d_reason = 5'(REASON_NO_NEXT_HOP);
      else if (`F(pt_e, TBL_PORT_ENABLED) == 0) begin
        d_reason = 5'(REASON_PORT_DOWN);
        d_action = ACT_DROP;
      end else d_action = ACT_FWD;
      if (d_action != ACT_FWD) d_record = 1'b0;
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
    d13.s <= a23.s;
    if (rst) d13.s.v <= 1'b0;
    d13.action <= d_action;
    d13.reason <= d_reason;
    d13.service <= a23.service;
    d13.member <= a23.member;
    d13.outbound <= a23.outbound;
    d13.record <= d_record;
    d13.port <= a23.port;
    d13.ip <= a23.ip;
    d13.l4port <= a23.l4port;
    d13.src_mac <= d_src_mac;
    d13.dst_mac <= d_dst_mac;
    d13.hash_lo <= a23.hash_lo;
  end

  // ---------------------------------------------------------------------------------------------
  // Stages 25-26: the RFC 1624 updates of each checksum (section 7). Applying the updates
  // HC' = ~(~HC + ~m + m') one after another equals one one's-complement sum of all their terms
  // (end-around-carry addition is associative and is zero only when every term is), so each
  // checksum is a 7-term sum: a balanced adder tree in stage 25, the last add and the fold in
  // stage 26. The fold takes one add: both end-around-carry results are added at once and the
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
  // Stage 27: rewrite (section 7) and the host record header.
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

  // The result goes unregistered into the caller's descriptor FIFO (its write is the register);
  // the counter event is registered.
  always_comb begin
    out_valid = d15.s.v && !rst;
    out_action = d15.action;
    out_port = d15.port;
    out_record = d15.record && d15.action == ACT_FWD && !d15.s.p.direct;
    out_rw_data = rw_data;
    out_rw_mask = rw_mask;
    out_hhdr = hh;
    out_len = d15.s.p.len;
    out_beats = d15.s.p.beats;
  end

  always_ff @(posedge clk) begin
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
