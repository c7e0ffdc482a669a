//! The three generated views of the register map. Each is a pure function of the map so the drift
//! check can compare it with the committed file byte for byte.

use crate::spec::{field_mask, Field, RegMap};
use std::fmt::Write;

const HEADER: &str = "Generated from hw/regmap.toml by `cargo run -p regmap-gen`. Do not edit.";

fn hex(v: u32) -> String {
    format!("0x{:05x}", v)
}

fn upper(s: &str) -> String {
    s.to_uppercase()
}

/// Rust definitions shared by the model and the driver.
pub fn rust(map: &RegMap) -> String {
    let mut o = String::new();
    let w = &mut o;
    writeln!(
        w,
        "//! Anypoint register map and table-entry layouts.\n//!\n//! {HEADER}\n"
    )
    .unwrap();
    writeln!(
        w,
        "/// Bytes of register space (BAR0).\npub const MAP_SIZE: u32 = {};",
        hex(map.map.size)
    )
    .unwrap();
    writeln!(
        w,
        "/// Value of the `ID` register.\npub const DEVICE_ID: u32 = 0x{:08x};",
        map.map.id
    )
    .unwrap();
    writeln!(
        w,
        "/// Value of the `VERSION` register.\npub const MAP_VERSION: u32 = 0x{:08x};\n",
        map.map.version
    )
    .unwrap();
    w.push_str(FIELD_TYPE);

    writeln!(w, "\n/// Register byte offsets (arrays: `NAME + 4 * i` for `i < NAME_COUNT`).\npub mod reg {{").unwrap();
    writeln!(w, "    use super::Field;").unwrap();
    for r in &map.regs {
        writeln!(w, "\n    /// {} ({})", r.desc, r.access).unwrap();
        writeln!(w, "    pub const {}: u32 = {};", r.name, hex(r.offset)).unwrap();
        if r.count > 1 {
            writeln!(w, "    pub const {}_COUNT: usize = {};", r.name, r.count).unwrap();
        }
        if r.reset != 0 {
            writeln!(w, "    pub const {}_RESET: u32 = {};", r.name, r.reset).unwrap();
        }
        for f in &r.fields {
            rust_field(w, &format!("{}_{}", r.name, upper(&f.name)), f);
        }
    }
    writeln!(
        w,
        "}}\n\n/// Memory regions: byte offset and size.\npub mod region {{"
    )
    .unwrap();
    for r in &map.regions {
        writeln!(w, "    /// {}", r.desc).unwrap();
        writeln!(w, "    pub const {}: u32 = {};", r.name, hex(r.offset)).unwrap();
        writeln!(w, "    pub const {}_SIZE: u32 = {};", r.name, hex(r.size)).unwrap();
    }
    writeln!(w, "}}\n\n/// Counter blocks inside the `CTR` region: block `OFFSET + i * STRIDE + 8 * counter`.\npub mod ctr {{").unwrap();
    for b in &map.counter_blocks {
        writeln!(w, "    /// {}", b.desc).unwrap();
        writeln!(w, "    pub mod {} {{", b.name.to_lowercase()).unwrap();
        writeln!(w, "        pub const OFFSET: u32 = {};", hex(b.offset)).unwrap();
        writeln!(w, "        pub const STRIDE: u32 = {};", b.stride).unwrap();
        writeln!(w, "        pub const COUNT: usize = {};", b.count).unwrap();
        for (i, c) in b.counters.iter().enumerate() {
            writeln!(w, "        pub const {}: usize = {i};", upper(c)).unwrap();
        }
        let names: Vec<String> = b.counters.iter().map(|c| format!("{c:?}")).collect();
        writeln!(
            w,
            "        pub const NAMES: [&str; {}] = [{}];",
            names.len(),
            names.join(", ")
        )
        .unwrap();
        writeln!(w, "    }}").unwrap();
    }
    writeln!(w, "}}\n\n/// Table ids (for `TBL_CMD`), entry sizes in words, and entry fields.\npub mod table {{").unwrap();
    for t in &map.tables {
        writeln!(w, "    /// {}", t.desc).unwrap();
        writeln!(w, "    pub mod {} {{", t.name).unwrap();
        writeln!(w, "        use crate::regs::Field;").unwrap();
        writeln!(w, "        pub const ID: u32 = {};", t.id).unwrap();
        writeln!(w, "        pub const WORDS: usize = {};", t.words).unwrap();
        for f in &t.fields {
            let mut s = String::new();
            rust_field(&mut s, &upper(&f.name), f);
            for line in s.lines() {
                writeln!(w, "    {line}").unwrap();
            }
        }
        writeln!(w, "    }}").unwrap();
    }
    writeln!(w, "}}").unwrap();
    for e in &map.enums {
        writeln!(w, "\n/// {}\npub mod {} {{", e.desc, e.name.to_lowercase()).unwrap();
        for v in &e.values {
            writeln!(
                w,
                "    /// {}\n    pub const {}: u8 = {};",
                v.desc,
                upper(&v.name),
                v.value
            )
            .unwrap();
        }
        let all: Vec<String> = e
            .values
            .iter()
            .map(|v| format!("({}, {:?})", upper(&v.name), v.name))
            .collect();
        writeln!(w, "    /// Every code with its name.").unwrap();
        writeln!(
            w,
            "    pub const ALL: [(u8, &str); {}] = [{}];",
            all.len(),
            all.join(", ")
        )
        .unwrap();
        writeln!(w, "}}").unwrap();
    }
    o
}

fn rust_field(w: &mut String, name: &str, f: &Field) {
    writeln!(w, "    /// {}", f.desc).unwrap();
    writeln!(
        w,
        "    pub const {name}: Field = Field {{ word: {}, lsb: {}, width: {} }};",
        f.word, f.lsb, f.width
    )
    .unwrap();
}

const FIELD_TYPE: &str = r#"/// A bit field: bits `lsb .. lsb + width` of word `word` of a register or table entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub word: usize,
    pub lsb: u32,
    pub width: u32,
}

impl Field {
    /// The field's bits within its word.
    pub const fn mask(self) -> u32 {
        (((1u64 << self.width) - 1) as u32) << self.lsb
    }

    /// The field's value in `word`.
    pub const fn extract(self, word: u32) -> u32 {
        (word & self.mask()) >> self.lsb
    }

    /// `value` shifted into place; bits beyond the field's width are dropped.
    pub const fn place(self, value: u32) -> u32 {
        (value << self.lsb) & self.mask()
    }

    /// The field's value in an entry.
    pub fn get(self, words: &[u32]) -> u32 {
        self.extract(words[self.word])
    }

    /// Sets the field in an entry, leaving the other bits alone.
    pub fn set(self, words: &mut [u32], value: u32) {
        words[self.word] = (words[self.word] & !self.mask()) | self.place(value);
    }
}
"#;

/// Verilog localparams, `include`d inside a module body.
pub fn verilog(map: &RegMap) -> String {
    let mut o = String::new();
    let w = &mut o;
    writeln!(
        w,
        "// Anypoint register map and table-entry layouts.\n// {HEADER}"
    )
    .unwrap();
    writeln!(w, "// Include inside a module body: localparams only.\n").unwrap();
    writeln!(
        w,
        "localparam logic [31:0] MAP_SIZE = 32'h{:08x};",
        map.map.size
    )
    .unwrap();
    writeln!(
        w,
        "localparam logic [31:0] DEVICE_ID = 32'h{:08x};",
        map.map.id
    )
    .unwrap();
    writeln!(
        w,
        "localparam logic [31:0] MAP_VERSION = 32'h{:08x};\n",
        map.map.version
    )
    .unwrap();
    for r in &map.regs {
        writeln!(
            w,
            "localparam logic [31:0] REG_{} = 32'h{:08x};",
            r.name, r.offset
        )
        .unwrap();
        if r.count > 1 {
            writeln!(
                w,
                "localparam int unsigned REG_{}_COUNT = {};",
                r.name, r.count
            )
            .unwrap();
        }
        if r.reset != 0 {
            writeln!(
                w,
                "localparam logic [31:0] REG_{}_RESET = 32'd{};",
                r.name, r.reset
            )
            .unwrap();
        }
        for f in &r.fields {
            verilog_field(w, &format!("REG_{}_{}", r.name, upper(&f.name)), f);
        }
    }
    writeln!(w).unwrap();
    for r in &map.regions {
        writeln!(
            w,
            "localparam logic [31:0] REGION_{} = 32'h{:08x};",
            r.name, r.offset
        )
        .unwrap();
        writeln!(
            w,
            "localparam logic [31:0] REGION_{}_SIZE = 32'h{:08x};",
            r.name, r.size
        )
        .unwrap();
    }
    writeln!(w).unwrap();
    for b in &map.counter_blocks {
        writeln!(
            w,
            "localparam int unsigned CTR_{}_OFFSET = {};",
            b.name, b.offset
        )
        .unwrap();
        writeln!(
            w,
            "localparam int unsigned CTR_{}_STRIDE = {};",
            b.name, b.stride
        )
        .unwrap();
        writeln!(
            w,
            "localparam int unsigned CTR_{}_COUNT = {};",
            b.name, b.count
        )
        .unwrap();
        for (i, c) in b.counters.iter().enumerate() {
            writeln!(
                w,
                "localparam int unsigned CTR_{}_{} = {i};",
                b.name,
                upper(c)
            )
            .unwrap();
        }
    }
    writeln!(w).unwrap();
    for t in &map.tables {
        let n = upper(&t.name);
        writeln!(w, "localparam int unsigned TBL_{n}_ID = {};", t.id).unwrap();
        writeln!(w, "localparam int unsigned TBL_{n}_WORDS = {};", t.words).unwrap();
        for f in &t.fields {
            verilog_field(w, &format!("TBL_{n}_{}", upper(&f.name)), f);
        }
    }
    for e in &map.enums {
        writeln!(w).unwrap();
        for v in &e.values {
            writeln!(
                w,
                "localparam int unsigned {}_{} = {};",
                e.name,
                upper(&v.name),
                v.value
            )
            .unwrap();
        }
    }
    o
}

fn verilog_field(w: &mut String, name: &str, f: &Field) {
    writeln!(w, "localparam int unsigned {name}_WORD = {};", f.word).unwrap();
    writeln!(w, "localparam int unsigned {name}_LSB = {};", f.lsb).unwrap();
    writeln!(w, "localparam int unsigned {name}_W = {};", f.width).unwrap();
}

/// `docs/registers.md`.
pub fn markdown(map: &RegMap) -> String {
    let mut o = String::new();
    let w = &mut o;
    writeln!(w, "# Anypoint register map\n\n<!-- {HEADER} -->\n").unwrap();
    writeln!(
        w,
        "BAR0 is {} bytes of 32-bit registers. `ID` reads `0x{:08x}`, `VERSION` reads `0x{:08x}`. \
         Semantics of the tables and counters: [pipeline.md](pipeline.md).\n",
        hex(map.map.size),
        map.map.id,
        map.map.version
    )
    .unwrap();
    writeln!(
        w,
        "## Registers\n\n| offset | name | access | reset | description |\n|---|---|---|---|---|"
    )
    .unwrap();
    for r in &map.regs {
        let name = if r.count > 1 {
            format!("`{}[0..{}]` (stride 4)", r.name, r.count)
        } else {
            format!("`{}`", r.name)
        };
        writeln!(
            w,
            "| {} | {name} | {} | {} | {} |",
            hex(r.offset),
            r.access,
            r.reset,
            r.desc
        )
        .unwrap();
    }
    for r in map.regs.iter().filter(|r| !r.fields.is_empty()) {
        writeln!(w, "\n### `{}` fields\n", r.name).unwrap();
        md_fields(w, &r.fields, false);
    }
    writeln!(
        w,
        "\n## Regions\n\n| offset | size | name | description |\n|---|---|---|---|"
    )
    .unwrap();
    for r in &map.regions {
        writeln!(
            w,
            "| {} | {} | `{}` | {} |",
            hex(r.offset),
            hex(r.size),
            r.name,
            r.desc
        )
        .unwrap();
    }
    writeln!(
        w,
        "\n## Counter blocks (in `CTR`)\n\nCounter `c` of instance `i` is at `CTR + offset + i * stride + 8 * c`.\n\n\
         | block | offset | stride | instances | counters (c = 0, 1, ...) | description |\n|---|---|---|---|---|---|"
    )
    .unwrap();
    for b in &map.counter_blocks {
        writeln!(
            w,
            "| `{}` | {} | {} | {} | {} | {} |",
            b.name,
            hex(b.offset),
            b.stride,
            b.count,
            b.counters.join(", "),
            b.desc
        )
        .unwrap();
    }
    writeln!(w, "\n## Tables\n\nWritten through `TBL_WDATA` + `TBL_CMD` (the whole entry changes at once), read through `TBL_CMD` + `TBL_RDATA`.").unwrap();
    for t in &map.tables {
        writeln!(
            w,
            "\n### `{}` (id {}, {} words)\n\n{}\n",
            t.name, t.id, t.words, t.desc
        )
        .unwrap();
        md_fields(w, &t.fields, true);
    }
    for e in &map.enums {
        writeln!(
            w,
            "\n## `{}` codes\n\n{}\n\n| value | name | meaning |\n|---|---|---|",
            e.name, e.desc
        )
        .unwrap();
        for v in &e.values {
            writeln!(w, "| {} | `{}` | {} |", v.value, v.name, v.desc).unwrap();
        }
    }
    o
}

fn md_fields(w: &mut String, fields: &[Field], with_word: bool) {
    if with_word {
        writeln!(
            w,
            "| word | bits | field | description |\n|---|---|---|---|"
        )
        .unwrap();
    } else {
        writeln!(w, "| bits | field | description |\n|---|---|---|").unwrap();
    }
    for f in fields {
        let bits = if f.width == 1 {
            format!("{}", f.lsb)
        } else {
            format!("{}:{}", f.lsb + f.width - 1, f.lsb)
        };
        debug_assert_ne!(field_mask(f), 0);
        if with_word {
            writeln!(w, "| {} | {bits} | `{}` | {} |", f.word, f.name, f.desc).unwrap();
        } else {
            writeln!(w, "| {bits} | `{}` | {} |", f.name, f.desc).unwrap();
        }
    }
}
