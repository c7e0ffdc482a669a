// C ABI over the Verilated anypoint_acp_out engine (the ACP fast path). One call of
// acp_cycle() is one clock, as ap_cycle() in shim.cpp: inputs applied, this cycle's outputs
// sampled, then the clock rises.

#include <cstdint>
#include <cstring>
#include <memory>

#include "verilated.h"

#include "Vacp.h"

static const int RECORD_WORDS = 112;  // 3584 bits
static const int RING_WORDS = 3;     // 83 bits

extern "C" {
struct AcpIo {
    // Inputs.
    uint8_t rst;
    uint64_t in_data;
    uint8_t in_keep;
    uint8_t in_valid;
    uint8_t in_last;
    uint32_t in_src;
    uint32_t in_dst;
    uint8_t out_ready;
    uint8_t rec_load;
    uint8_t rec_unload;
    uint8_t rec_slot;
    uint32_t rec_wdata[RECORD_WORDS];
    uint8_t ring_slot;
    uint8_t ring_out;
    uint32_t ring_idx;
    uint8_t ring_wr;
    uint8_t ring_wr_out;
    uint8_t ring_wr_slot;
    uint32_t ring_wr_idx;
    uint32_t ring_wr_data[RING_WORDS];
    // Outputs (this cycle, before the edge).
    uint8_t in_ready;
    uint64_t out_data;
    uint8_t out_keep;
    uint8_t out_valid;
    uint8_t out_last;
    uint8_t out_punt;
    uint32_t out_src;
    uint32_t out_dst;
    uint32_t rec_rdata[RECORD_WORDS];
    uint8_t rec_valid;
    uint32_t rec_taken[6];  // out_data, out_ack, in_data, in_rtx, in_ack, out_rtx
    uint32_t ring_rdata[RING_WORDS];
    uint8_t seg_done;
    uint8_t idle;
};
}

struct AcpSim {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<Vacp> m;

    AcpSim() : ctx(new VerilatedContext) {
        m.reset(new Vacp(ctx.get()));
        m->clk = 0;
        m->rst = 1;
        m->eval();
    }
    ~AcpSim() { m->final(); }

    void cycle(AcpIo* io) {
        Vacp& t = *m;
        t.rst = io->rst;
        t.in_tdata = io->in_data;
        t.in_tkeep = io->in_keep;
        t.in_tvalid = io->in_valid;
        t.in_tlast = io->in_last;
        t.in_src = io->in_src;
        t.in_dst = io->in_dst;
        t.out_tready = io->out_ready;
        t.rec_load = io->rec_load;
        t.rec_unload = io->rec_unload;
        t.rec_slot = io->rec_slot;
        for (int i = 0; i < RECORD_WORDS; i++) t.rec_wdata[i] = io->rec_wdata[i];
        t.ring_slot = io->ring_slot;
        t.ring_out = io->ring_out;
        t.ring_idx = io->ring_idx;
        t.ring_wr = io->ring_wr;
        t.ring_wr_out = io->ring_wr_out;
        t.ring_wr_slot = io->ring_wr_slot;
        t.ring_wr_idx = io->ring_wr_idx;
        for (int i = 0; i < RING_WORDS; i++) t.ring_wr_data[i] = io->ring_wr_data[i];
        t.clk = 0;
        t.eval();
        io->in_ready = t.in_tready;
        io->out_data = t.out_tdata;
        io->out_keep = t.out_tkeep;
        io->out_valid = t.out_tvalid;
        io->out_last = t.out_tlast;
        io->out_punt = t.out_punt;
        io->out_src = t.out_src;
        io->out_dst = t.out_dst;
        for (int i = 0; i < RECORD_WORDS; i++) io->rec_rdata[i] = t.rec_rdata[i];
        io->rec_valid = t.rec_valid;
        io->rec_taken[0] = t.rec_taken_out_data;
        io->rec_taken[1] = t.rec_taken_out_ack;
        io->rec_taken[2] = t.rec_taken_in_data;
        io->rec_taken[3] = t.rec_taken_in_rtx;
        io->rec_taken[4] = t.rec_taken_in_ack;
        io->rec_taken[5] = t.rec_taken_out_rtx;
        for (int i = 0; i < RING_WORDS; i++) io->ring_rdata[i] = t.ring_rdata[i];
        io->seg_done = t.seg_done;
        io->idle = t.idle;
        t.clk = 1;
        t.eval();
    }
};

extern "C" {
void* acp_new() { return new AcpSim(); }
void acp_free(void* h) { delete static_cast<AcpSim*>(h); }
void acp_cycle(void* h, AcpIo* io) { static_cast<AcpSim*>(h)->cycle(io); }
}
