//! The shape of `hw/regmap.toml`, with the consistency checks a hand-edited map needs.

use serde::Deserialize;
use std::path::Path;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegMap {
    pub map: MapInfo,
    #[serde(rename = "reg", default)]
    pub regs: Vec<Reg>,
    #[serde(rename = "region")]
    pub regions: Vec<Region>,
    #[serde(rename = "counter_block", default)]
    pub counter_blocks: Vec<CounterBlock>,
    #[serde(rename = "table", default)]
    pub tables: Vec<Table>,
    #[serde(rename = "enum", default)]
    pub enums: Vec<Enum>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapInfo {
    pub size: u32,
    pub id: u32,
    pub version: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reg {
    pub name: String,
    pub offset: u32,
    #[serde(default = "one")]
    pub count: u32,
    pub access: String,
    #[serde(default)]
    pub reset: u32,
    pub desc: String,
    #[serde(default)]
    pub fields: Vec<Field>,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub name: String,
    #[serde(default)]
    pub word: u32,
    pub lsb: u32,
    pub width: u32,
    pub desc: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub name: String,
    pub offset: u32,
    pub size: u32,
    pub desc: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CounterBlock {
    pub name: String,
    pub offset: u32,
    pub stride: u32,
    pub count: u32,
    pub desc: String,
    pub counters: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub name: String,
    pub id: u32,
    pub words: u32,
    pub desc: String,
    pub fields: Vec<Field>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enum {
    pub name: String,
    pub desc: String,
    pub values: Vec<EnumValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumValue {
    pub name: String,
    pub value: u32,
    pub desc: String,
}

pub fn load(path: &Path) -> Result<RegMap, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let map: RegMap = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    validate(&map).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(map)
}

/// Rejects overlapping registers and fields, fields outside their word, and counter blocks that do
/// not fit their stride or the CTR region.
fn validate(map: &RegMap) -> Result<(), String> {
    let mut spans: Vec<(u32, u32, &str)> = map
        .regs
        .iter()
        .map(|r| (r.offset, r.offset + 4 * r.count, r.name.as_str()))
        .chain(
            map.regions
                .iter()
                .map(|r| (r.offset, r.offset + r.size, r.name.as_str())),
        )
        .collect();
    spans.sort();
    for pair in spans.windows(2) {
        if pair[0].1 > pair[1].0 {
            return Err(format!("`{}` overlaps `{}`", pair[0].2, pair[1].2));
        }
    }
    if let Some(last) = spans.last() {
        if last.1 > map.map.size {
            return Err(format!("`{}` ends beyond the map size", last.2));
        }
    }
    for r in &map.regs {
        if r.offset % 4 != 0 {
            return Err(format!("register `{}`: offset not word aligned", r.name));
        }
        if !["ro", "rw", "wo", "rw1c"].contains(&r.access.as_str()) {
            return Err(format!(
                "register `{}`: unknown access `{}`",
                r.name, r.access
            ));
        }
        check_fields(&r.name, &r.fields, 1)?;
    }
    for t in &map.tables {
        check_fields(&t.name, &t.fields, t.words)?;
    }
    let ctr = map
        .regions
        .iter()
        .find(|r| r.name == "CTR")
        .ok_or("no CTR region")?;
    for b in &map.counter_blocks {
        if 8 * b.counters.len() as u32 > b.stride {
            return Err(format!(
                "counter block `{}`: counters exceed stride",
                b.name
            ));
        }
        if b.offset + b.stride * b.count > ctr.size {
            return Err(format!("counter block `{}`: beyond the CTR region", b.name));
        }
    }
    Ok(())
}

fn check_fields(owner: &str, fields: &[Field], words: u32) -> Result<(), String> {
    for (i, f) in fields.iter().enumerate() {
        if f.word >= words || f.width == 0 || f.lsb + f.width > 32 {
            return Err(format!("`{owner}.{}`: outside its 32-bit word", f.name));
        }
        let mask = field_mask(f);
        for g in &fields[..i] {
            if g.word == f.word && field_mask(g) & mask != 0 {
                return Err(format!(
                    "`{owner}.{}` overlaps `{owner}.{}`",
                    f.name, g.name
                ));
            }
        }
    }
    Ok(())
}

pub fn field_mask(f: &Field) -> u32 {
    (((1u64 << f.width) - 1) << f.lsb) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_with(extra: &str) -> Result<RegMap, String> {
        let text = format!(
            "[map]\nsize = 0x1000\nid = 1\nversion = 1\n\
             [[region]]\nname = \"CTR\"\noffset = 0x800\nsize = 0x100\ndesc = \"c\"\n{extra}"
        );
        let map: RegMap = toml::from_str(&text).map_err(|e| e.to_string())?;
        validate(&map).map(|()| map)
    }

    const TWO_REGS: &str = "[[reg]]\nname = \"A\"\noffset = 0\naccess = \"rw\"\ndesc = \"a\"\n\
        [[reg]]\nname = \"B\"\noffset = 4\ncount = 2\naccess = \"ro\"\ndesc = \"b\"\n";

    #[test]
    fn the_committed_map_is_consistent() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hw/regmap.toml");
        let map = load(&root).unwrap();
        assert!(map.tables.iter().any(|t| t.name == "conn"));
    }

    #[test]
    fn accepts_disjoint_registers() {
        assert!(map_with(TWO_REGS).is_ok());
    }

    #[test]
    fn rejects_overlaps_and_misfits() {
        let cases = [
            (TWO_REGS.replace("offset = 4", "offset = 0"), "overlaps"),
            (TWO_REGS.replace("offset = 4", "offset = 0x7fc"), "overlaps"),
            (TWO_REGS.replace("offset = 4", "offset = 6"), "not word aligned"),
            (TWO_REGS.replace("\"rw\"", "\"rx\""), "unknown access"),
            (
                format!("{TWO_REGS}fields = [ {{ name = \"X\", lsb = 30, width = 4, desc = \"x\" }} ]\n"),
                "outside its 32-bit word",
            ),
            (
                format!(
                    "{TWO_REGS}fields = [ {{ name = \"X\", lsb = 0, width = 4, desc = \"x\" }}, \
                     {{ name = \"Y\", lsb = 3, width = 1, desc = \"y\" }} ]\n"
                ),
                "overlaps",
            ),
            (
                "[[counter_block]]\nname = \"P\"\noffset = 0\nstride = 8\ncount = 64\ndesc = \"p\"\ncounters = [\"a\"]\n"
                    .to_string(),
                "beyond the CTR region",
            ),
            (
                "[[counter_block]]\nname = \"P\"\noffset = 0\nstride = 8\ncount = 1\ndesc = \"p\"\ncounters = [\"a\", \"b\"]\n"
                    .to_string(),
                "exceed stride",
            ),
        ];
        for (extra, want) in cases {
            let e = map_with(&extra).err().unwrap_or_default();
            assert!(
                e.contains(want),
                "expected `{want}` for:\n{extra}\ngot `{e}`"
            );
        }
    }
}
