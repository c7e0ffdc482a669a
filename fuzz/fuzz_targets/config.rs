#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    anypoint_fuzz::config::run(data);
});
