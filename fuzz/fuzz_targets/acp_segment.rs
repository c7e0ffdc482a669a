#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    anypoint_fuzz::acp_segment::run(data);
});
