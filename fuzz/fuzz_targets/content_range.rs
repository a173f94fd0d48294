#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vidu::fuzzing::content_range(data));
