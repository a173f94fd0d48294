//! Builders of minimal image headers of a given size. Used by the integration tests and, as
//! `image::fixtures`, by the unit tests.
#![allow(dead_code)]

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// PNG signature and a complete IHDR chunk (8-bit RGB).
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = b"IHDR".to_vec();
    chunk.extend_from_slice(&width.to_be_bytes());
    chunk.extend_from_slice(&height.to_be_bytes());
    chunk.extend_from_slice(&[8, 2, 0, 0, 0]);
    out.extend_from_slice(&13u32.to_be_bytes());
    out.extend_from_slice(&chunk);
    out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    out
}

/// SOI, a JFIF APP0 segment, an APP1 segment of `app1_len` payload bytes (none if 0),
/// a baseline SOF0 frame header and EOI.
pub fn jpeg_with_app1(width: u16, height: u16, app1_len: usize) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    out.extend_from_slice(&[0xFF, 0xE0, 0, 16]);
    out.extend_from_slice(b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
    if app1_len > 0 {
        let len = u16::try_from(app1_len + 2).expect("APP1 payload under 64 KiB");
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend(std::iter::repeat_n(0x45, app1_len));
    }
    out.extend_from_slice(&[0xFF, 0xC0, 0, 17, 8]);
    out.extend_from_slice(&height.to_be_bytes());
    out.extend_from_slice(&width.to_be_bytes());
    out.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A JPEG header with no APP1 segment.
pub fn jpeg(width: u16, height: u16) -> Vec<u8> {
    jpeg_with_app1(width, height, 0)
}

fn riff(chunk: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&((4 + 8 + data.len()) as u32).to_le_bytes());
    out.extend_from_slice(b"WEBP");
    out.extend_from_slice(chunk);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// Lossy WebP: `VP8 ` chunk with a key-frame header (sides up to 16383).
pub fn webp_lossy(width: u16, height: u16) -> Vec<u8> {
    let mut data = vec![0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A];
    data.extend_from_slice(&(width & 0x3FFF).to_le_bytes());
    data.extend_from_slice(&(height & 0x3FFF).to_le_bytes());
    riff(b"VP8 ", &data)
}

/// Lossless WebP: `VP8L` chunk (sides 1..=16384).
pub fn webp_lossless(width: u32, height: u32) -> Vec<u8> {
    let bits = (width - 1) | (height - 1) << 14;
    let mut data = vec![0x2F];
    data.extend_from_slice(&bits.to_le_bytes());
    riff(b"VP8L", &data)
}

/// Extended WebP: `VP8X` chunk with a 24-bit canvas size.
pub fn webp_extended(width: u32, height: u32) -> Vec<u8> {
    let mut data = vec![0, 0, 0, 0];
    data.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    data.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    riff(b"VP8X", &data)
}
