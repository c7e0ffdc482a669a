// C ABI over the Verilated anypoint_top builds (one class per build, selected by a variant id).
// One call of ap_cycle() is one clock: inputs are applied, the combinational outputs of that cycle
// are sampled (so the caller sees which handshakes happen at the edge), then the clock rises.

#include <cstdint>
#include <cstring>
#include <memory>

#include <cstdio>

#include "verilated.h"
#if VM_TRACE
#include "verilated_fst_c.h"
#endif

#include "Vap64.h"
#include "Vap512.h"
#if AP_REPLAY_GEOMETRY
#include "Vap64d.h"
#endif

static const int MAX_PORTS = 8;
static const int MAX_BYTES = 64;

extern "C" {
struct ApIo {
    // Inputs.
    uint8_t eth_in_data[MAX_PORTS][MAX_BYTES];
    uint64_t eth_in_keep[MAX_PORTS];
    uint8_t eth_in_valid[MAX_PORTS];
    uint8_t eth_in_last[MAX_PORTS];
    uint8_t eth_out_ready[MAX_PORTS];
    uint8_t inj_data[MAX_BYTES];
    uint64_t inj_keep;
    uint8_t inj_valid;
    uint8_t inj_last;
    uint8_t host_ready;
    uint8_t rst;
    uint32_t awaddr;
    uint32_t wdata;
    uint8_t awvalid;
    uint8_t wvalid;
    uint8_t bready;
    uint8_t arvalid;
    uint32_t araddr;
    uint8_t rready;
    // Outputs (this cycle, before the edge).
    uint8_t eth_in_ready[MAX_PORTS];
    uint8_t eth_out_data[MAX_PORTS][MAX_BYTES];
    uint64_t eth_out_keep[MAX_PORTS];
    uint8_t eth_out_valid[MAX_PORTS];
    uint8_t eth_out_last[MAX_PORTS];
    uint8_t inj_ready;
    uint8_t host_data[MAX_BYTES];
    uint64_t host_keep;
    uint8_t host_valid;
    uint8_t host_last;
    uint8_t awready;
    uint8_t wready;
    uint8_t bvalid;
    uint8_t arready;
    uint8_t rvalid;
    uint32_t rdata;
    uint8_t busy;
    uint8_t eth_out_user[MAX_PORTS];
};
}

// Bit access on Verilator's port types: integral (up to 64 bits) or VlWide.
template <typename T> static inline void put(T& x, int lsb, int w, uint64_t v) {
    uint64_t mask = (w >= 64) ? ~0ULL : ((1ULL << w) - 1);
    uint64_t cur = static_cast<uint64_t>(x);
    cur = (cur & ~(mask << lsb)) | ((v & mask) << lsb);
    x = static_cast<T>(cur);
}
template <std::size_t N> static inline void put(VlWide<N>& x, int lsb, int w, uint64_t v) {
    for (int i = 0; i < w; i++) {
        int b = lsb + i;
        uint32_t bit = 1u << (b & 31);
        if ((v >> i) & 1) x[b >> 5] |= bit;
        else x[b >> 5] &= ~bit;
    }
}
template <typename T> static inline uint64_t get(const T& x, int lsb, int w) {
    uint64_t mask = (w >= 64) ? ~0ULL : ((1ULL << w) - 1);
    return (static_cast<uint64_t>(x) >> lsb) & mask;
}
template <std::size_t N> static inline uint64_t get(const VlWide<N>& x, int lsb, int w) {
    uint64_t v = 0;
    for (int i = 0; i < w; i++) {
        int b = lsb + i;
        v |= static_cast<uint64_t>((x[b >> 5] >> (b & 31)) & 1) << i;
    }
    return v;
}
template <std::size_t N> static inline void put_bytes(VlWide<N>& x, int off, const uint8_t* src, int n) {
    std::memcpy(reinterpret_cast<uint8_t*>(x.data()) + off, src, n);
}
template <typename T> static inline void put_bytes(T& x, int off, const uint8_t* src, int n) {
    for (int i = 0; i < n; i++) put(x, 8 * (off + i), 8, src[i]);
}
template <std::size_t N> static inline void get_bytes(const VlWide<N>& x, int off, uint8_t* dst, int n) {
    std::memcpy(dst, reinterpret_cast<const uint8_t*>(x.data()) + off, n);
}
template <typename T> static inline void get_bytes(const T& x, int off, uint8_t* dst, int n) {
    for (int i = 0; i < n; i++) dst[i] = static_cast<uint8_t>(get(x, 8 * (off + i), 8));
}

struct SimBase {
    virtual ~SimBase() {}
    virtual void cycle(ApIo* io) = 0;
    virtual void trace_open(const char* path) = 0;
    virtual void trace_close() = 0;
};

template <typename M> struct Sim : SimBase {
    std::unique_ptr<VerilatedContext> ctx;
    std::unique_ptr<M> m;
#if VM_TRACE
    std::unique_ptr<VerilatedFstC> tfp;
#endif
    int ports;
    int bytes;
    uint64_t time = 0;

    Sim(int ports_, int bytes_) : ctx(new VerilatedContext), ports(ports_), bytes(bytes_) {
#if VM_TRACE
        ctx->traceEverOn(true);
#endif
        m.reset(new M(ctx.get()));
        m->clk = 0;
        m->rst = 1;
        m->eval();
    }
    ~Sim() override {
        trace_close();
        m->final();
    }
    void trace_open(const char* path) override {
#if VM_TRACE
        if (tfp) return;
        tfp.reset(new VerilatedFstC);
        m->trace(tfp.get(), 99);
        tfp->open(path);
#else
        std::fprintf(stderr, "anypoint shim: built without tracing; rebuild with ANYPOINT_TRACE=1 for %s\n", path);
#endif
    }
    void trace_close() override {
#if VM_TRACE
        if (tfp) {
            tfp->close();
            tfp.reset();
        }
#endif
    }
    void cycle(ApIo* io) override {
        M& t = *m;
        t.rst = io->rst;
        for (int p = 0; p < ports; p++) {
            put_bytes(t.s_axis_eth_tdata, p * bytes, io->eth_in_data[p], bytes);
            put(t.s_axis_eth_tkeep, p * bytes, bytes, io->eth_in_keep[p]);
            put(t.s_axis_eth_tvalid, p, 1, io->eth_in_valid[p]);
            put(t.s_axis_eth_tlast, p, 1, io->eth_in_last[p]);
            put(t.s_axis_eth_tuser, 3 * p, 3, p);
            put(t.m_axis_eth_tready, p, 1, io->eth_out_ready[p]);
        }
        put_bytes(t.s_axis_inj_tdata, 0, io->inj_data, bytes);
        put(t.s_axis_inj_tkeep, 0, bytes, io->inj_keep);
        t.s_axis_inj_tvalid = io->inj_valid;
        t.s_axis_inj_tlast = io->inj_last;
        t.m_axis_host_tready = io->host_ready;
        t.s_axil_awaddr = io->awaddr;
        t.s_axil_awvalid = io->awvalid;
        t.s_axil_wdata = io->wdata;
        t.s_axil_wstrb = 0xf;
        t.s_axil_wvalid = io->wvalid;
        t.s_axil_bready = io->bready;
        t.s_axil_araddr = io->araddr;
        t.s_axil_arvalid = io->arvalid;
        t.s_axil_rready = io->rready;
        t.clk = 0;
        t.eval();
#if VM_TRACE
        if (tfp) tfp->dump(time * 2);
#endif
        for (int p = 0; p < ports; p++) {
            io->eth_in_ready[p] = get(t.s_axis_eth_tready, p, 1);
            get_bytes(t.m_axis_eth_tdata, p * bytes, io->eth_out_data[p], bytes);
            io->eth_out_keep[p] = get(t.m_axis_eth_tkeep, p * bytes, bytes);
            io->eth_out_valid[p] = get(t.m_axis_eth_tvalid, p, 1);
            io->eth_out_last[p] = get(t.m_axis_eth_tlast, p, 1);
            io->eth_out_user[p] = get(t.m_axis_eth_tuser, 3 * p, 3);
        }
        io->inj_ready = t.s_axis_inj_tready;
        get_bytes(t.m_axis_host_tdata, 0, io->host_data, bytes);
        io->host_keep = get(t.m_axis_host_tkeep, 0, bytes);
        io->host_valid = t.m_axis_host_tvalid;
        io->host_last = t.m_axis_host_tlast;
        io->awready = t.s_axil_awready;
        io->wready = t.s_axil_wready;
        io->bvalid = t.s_axil_bvalid;
        io->arready = t.s_axil_arready;
        io->rvalid = t.s_axil_rvalid;
        io->rdata = t.s_axil_rdata;
        io->busy = t.busy;
        t.clk = 1;
        t.eval();
#if VM_TRACE
        if (tfp) tfp->dump(time * 2 + 1);
#endif
        time++;
    }
};

extern "C" {
// variant: 0 = 64-bit build, 1 = 512-bit build (test geometry), 2 = 64-bit build of the model's
// default geometry (feature replay-geometry).
void* ap_new(int variant, int ports) {
    if (variant == 0) return static_cast<SimBase*>(new Sim<Vap64>(ports, 8));
    if (variant == 1) return static_cast<SimBase*>(new Sim<Vap512>(ports, 64));
#if AP_REPLAY_GEOMETRY
    if (variant == 2) return static_cast<SimBase*>(new Sim<Vap64d>(ports, 8));
#endif
    return nullptr;
}
void ap_free(void* h) { delete static_cast<SimBase*>(h); }
void ap_cycle(void* h, ApIo* io) { static_cast<SimBase*>(h)->cycle(io); }
void ap_cycles(void* h, ApIo* io, uint64_t n) {
    for (uint64_t i = 0; i < n; i++) static_cast<SimBase*>(h)->cycle(io);
}
void ap_trace_open(void* h, const char* path) { static_cast<SimBase*>(h)->trace_open(path); }
void ap_trace_close(void* h) { static_cast<SimBase*>(h)->trace_close(); }
}
