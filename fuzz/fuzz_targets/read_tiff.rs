//! The TIFF (the tiff crate and Tessera's own chunk decoders; JPEG-in-TIFF through mozjpeg, C) reader from bytes: open, header, storage, small reads, small renders. The seed
//! corpus holds tiff files; mutations may reach any reader.
#![no_main]

#[path = "../../crates/image/tests/fuzz_harness/mod.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = harness::exercise_reader(data);
});
