#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vidu::fuzzing::video_url(data));
