//! Checks the image string of a submit the way the providers do: an http(s) URL (not
//! fetched) or a `data:image/<png|jpeg|webp>;base64,` URI whose bytes really are that format,
//! at least 128x128, aspect ratio strictly inside 1:4..4:1.
//!
//! Written from the documents, independently of the client's `crate::image`.

use std::io::Read;

/// Decoded bytes kept for sniffing the format and reading the dimensions; the rest is only
/// decoded to check it and count it, never held (one copy of an inline image per request).
const HEADER_PREFIX: usize = 1024 * 1024;

/// Decodes standard base64 as a stream: the decoded length and the first `keep` bytes.
fn decode_streaming(data: &str, keep: usize) -> std::io::Result<(u64, Vec<u8>)> {
    let engine = &base64::engine::general_purpose::STANDARD;
    let mut decoder = base64::read::DecoderReader::new(data.as_bytes(), engine);
    let mut prefix = Vec::new();
    (&mut decoder).take(keep as u64).read_to_end(&mut prefix)?;
    let rest = std::io::copy(&mut decoder, &mut std::io::sink())?;
    Ok((prefix.len() as u64 + rest, prefix))
}

/// Smallest accepted side, in pixels.
const MIN_SIDE: u32 = 128;
/// Widest accepted aspect ratio (exclusive).
const MAX_ASPECT: u64 = 4;

/// What is wrong with an image string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImageProblem {
    /// Neither an http(s) URL nor a data URI, or a data URI that is not base64 or not decodable.
    NotAnImage(String),
    /// Decoded bytes are not the declared (or any supported) image format.
    Format(String),
    /// Decoded bytes larger than the provider accepts.
    TooLarge(String),
    /// Too small or too narrow/tall.
    Dimensions(String),
}

impl ImageProblem {
    /// The human message.
    pub fn message(&self) -> &str {
        match self {
            ImageProblem::NotAnImage(m)
            | ImageProblem::Format(m)
            | ImageProblem::TooLarge(m)
            | ImageProblem::Dimensions(m) => m,
        }
    }
}

/// A supported format, found from the magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Png,
    Jpeg,
    Webp,
}

impl Format {
    fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Webp => "image/webp",
        }
    }
}

/// The part of a data URI before the comma and the base64 text after it.
fn split_data_uri(s: &str) -> Option<(&str, &str)> {
    let rest = s.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let mime = meta.strip_suffix(";base64")?;
    Some((mime, data))
}

fn is_http_url(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// How the submit record shows an image: `url:<url>` or `data:<mime>;<decoded bytes>`
/// (`data:<mime>;invalid` when it does not decode, `other:<first chars>` otherwise).
pub(crate) fn describe(s: &str) -> String {
    if is_http_url(s) {
        return format!("url:{s}");
    }
    if let Some((mime, data)) = split_data_uri(s) {
        return match decode_streaming(data, 0) {
            Ok((len, _)) => format!("data:{mime};{len}"),
            Err(_) => format!("data:{mime};invalid"),
        };
    }
    format!("other:{}", s.chars().take(32).collect::<String>())
}

/// Checks one image string; `max_decoded` caps the decoded size of a data URI.
pub(crate) fn check(s: &str, max_decoded: u64) -> Result<(), ImageProblem> {
    if is_http_url(s) {
        return Ok(());
    }
    let Some((mime, data)) = split_data_uri(s) else {
        return Err(ImageProblem::NotAnImage(
            "must be an http(s) URL or a data:image/<png|jpeg|webp>;base64,<data> URI".into(),
        ));
    };
    let declared = match mime {
        "image/png" => Format::Png,
        "image/jpeg" => Format::Jpeg,
        "image/webp" => Format::Webp,
        other => {
            return Err(ImageProblem::Format(format!(
                "unsupported data URI type {other:?}: use image/png, image/jpeg or image/webp"
            )))
        }
    };
    // base64 text is 4/3 of the bytes: refuse before decoding something huge.
    if (data.len() as u64 / 4).saturating_mul(3) > max_decoded + 3 {
        return Err(ImageProblem::TooLarge(format!(
            "decoded image larger than {max_decoded} bytes"
        )));
    }
    let (len, bytes) = decode_streaming(data, HEADER_PREFIX)
        .map_err(|e| ImageProblem::NotAnImage(format!("data URI is not valid base64: {e}")))?;
    if len > max_decoded {
        return Err(ImageProblem::TooLarge(format!(
            "decoded image is {len} bytes, larger than {max_decoded}"
        )));
    }
    let actual = sniff(&bytes).map_err(ImageProblem::Format)?;
    if actual != declared {
        return Err(ImageProblem::Format(format!(
            "data URI declares {} but the bytes are {}",
            declared.mime(),
            actual.mime()
        )));
    }
    let (w, h) = dimensions(actual, &bytes)
        .ok_or_else(|| ImageProblem::Format(format!("cannot read the {} header", actual.mime())))?;
    if w < MIN_SIDE || h < MIN_SIDE {
        return Err(ImageProblem::Dimensions(format!(
            "image is {w}x{h}, at least {MIN_SIDE}x{MIN_SIDE} required"
        )));
    }
    let (w64, h64) = (u64::from(w), u64::from(h));
    if w64 >= MAX_ASPECT * h64 || h64 >= MAX_ASPECT * w64 {
        return Err(ImageProblem::Dimensions(format!(
            "image is {w}x{h}, aspect ratio must be strictly inside 1:4..4:1"
        )));
    }
    Ok(())
}

/// The format from the magic bytes, or a message naming what was found instead.
fn sniff(b: &[u8]) -> Result<Format, String> {
    if b.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok(Format::Png)
    } else if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok(Format::Jpeg)
    } else if b.len() >= 12 && &b[..4] == b"RIFF" && &b[8..12] == b"WEBP" {
        Ok(Format::Webp)
    } else if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
        Err("image is a GIF: only png, jpeg and webp are supported".into())
    } else if b.starts_with(b"BM") {
        Err("image is a BMP: only png, jpeg and webp are supported".into())
    } else {
        Err("image bytes are not png, jpeg or webp".into())
    }
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes(
        b.get(at..at + 2)?.try_into().ok()?,
    )))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(u32::from(s[0]) | u32::from(s[1]) << 8 | u32::from(s[2]) << 16)
}

/// Width and height from the header.
fn dimensions(format: Format, b: &[u8]) -> Option<(u32, u32)> {
    match format {
        Format::Png => {
            if b.get(12..16)? != b"IHDR" {
                return None;
            }
            let w = u32::from_be_bytes(b.get(16..20)?.try_into().ok()?);
            let h = u32::from_be_bytes(b.get(20..24)?.try_into().ok()?);
            Some((w, h))
        }
        Format::Jpeg => jpeg_dimensions(b),
        Format::Webp => match b.get(12..16)? {
            b"VP8 " => {
                if b.get(23..26)? != [0x9d, 0x01, 0x2a] {
                    return None;
                }
                Some((le16(b, 26)? & 0x3fff, le16(b, 28)? & 0x3fff))
            }
            b"VP8L" => {
                if *b.get(20)? != 0x2f {
                    return None;
                }
                let bits = u32::from_le_bytes(b.get(21..25)?.try_into().ok()?);
                Some(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
            }
            b"VP8X" => Some((le24(b, 24)? + 1, le24(b, 27)? + 1)),
            _ => None,
        },
    }
}

/// Walks the JPEG markers up to the first start-of-frame.
fn jpeg_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    let mut i = 2;
    loop {
        if *b.get(i)? != 0xFF {
            return None;
        }
        // Fill bytes.
        while *b.get(i + 1)? == 0xFF {
            i += 1;
        }
        let marker = *b.get(i + 1)?;
        match marker {
            0x01 | 0xD0..=0xD7 => {
                i += 2;
                continue;
            }
            0xD9 | 0xDA => return None,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                let h = be16(b, i + 5)?;
                let w = be16(b, i + 7)?;
                return Some((w, h));
            }
            _ => {
                let len = be16(b, i + 2)? as usize;
                if len < 2 {
                    return None;
                }
                i += 2 + len;
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::Engine;

    /// A PNG header (signature + IHDR) of the given size; enough for the checks.
    pub(crate) fn png(w: u32, h: u32) -> Vec<u8> {
        let mut v = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec();
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    fn jpeg(w: u16, h: u16) -> Vec<u8> {
        let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46];
        v.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x11, 0x08]);
        v.extend_from_slice(&h.to_be_bytes());
        v.extend_from_slice(&w.to_be_bytes());
        v.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        v
    }

    fn webp_vp8x(w: u32, h: u32) -> Vec<u8> {
        let mut v = b"RIFF\x00\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00".to_vec();
        v.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
        v.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
        v
    }

    fn webp_vp8l(w: u32, h: u32) -> Vec<u8> {
        let mut v = b"RIFF\x00\x00\x00\x00WEBPVP8L\x05\x00\x00\x00\x2f".to_vec();
        let bits = (w - 1) | (h - 1) << 14;
        v.extend_from_slice(&bits.to_le_bytes());
        v
    }

    fn webp_vp8(w: u16, h: u16) -> Vec<u8> {
        let mut v =
            b"RIFF\x00\x00\x00\x00WEBPVP8 \x0a\x00\x00\x00\x00\x00\x00\x9d\x01\x2a".to_vec();
        v.extend_from_slice(&w.to_le_bytes());
        v.extend_from_slice(&h.to_le_bytes());
        v
    }

    pub(crate) fn data_uri(mime: &str, bytes: &[u8]) -> String {
        format!(
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }

    #[test]
    fn reads_dimensions_of_each_format() {
        assert_eq!(dimensions(Format::Png, &png(300, 200)), Some((300, 200)));
        assert_eq!(jpeg_dimensions(&jpeg(640, 480)), Some((640, 480)));
        assert_eq!(
            dimensions(Format::Webp, &webp_vp8x(1000, 129)),
            Some((1000, 129))
        );
        assert_eq!(
            dimensions(Format::Webp, &webp_vp8l(256, 300)),
            Some((256, 300))
        );
        assert_eq!(
            dimensions(Format::Webp, &webp_vp8(512, 256)),
            Some((512, 256))
        );
    }

    #[test]
    fn checks_data_uris() {
        let max = 10 << 20;
        assert_eq!(check(&data_uri("image/png", &png(256, 256)), max), Ok(()));
        assert_eq!(check(&data_uri("image/jpeg", &jpeg(256, 200)), max), Ok(()));
        assert_eq!(
            check(&data_uri("image/webp", &webp_vp8l(256, 300)), max),
            Ok(())
        );
        assert!(matches!(
            check(&data_uri("image/png", b"GIF89a\x00\x01\x00\x01"), max),
            Err(ImageProblem::Format(m)) if m.contains("GIF")
        ));
        assert!(matches!(
            check(&data_uri("image/jpeg", &png(256, 256)), max),
            Err(ImageProblem::Format(_))
        ));
        assert!(matches!(
            check(&data_uri("image/gif", &png(256, 256)), max),
            Err(ImageProblem::Format(_))
        ));
        assert!(matches!(
            check(&data_uri("image/png", &png(127, 256)), max),
            Err(ImageProblem::Dimensions(_))
        ));
        assert!(matches!(
            check(&data_uri("image/png", &png(1024, 256)), max),
            Err(ImageProblem::Dimensions(_))
        ));
        assert!(matches!(
            check(&data_uri("image/png", &png(256, 256)), 10),
            Err(ImageProblem::TooLarge(_))
        ));
        assert!(matches!(
            check("data:image/png;base64,@@@", max),
            Err(ImageProblem::NotAnImage(_))
        ));
        assert!(matches!(
            check("ftp://x/y.png", max),
            Err(ImageProblem::NotAnImage(_))
        ));
        assert_eq!(check("https://example.com/cat.jpg", max), Ok(()));
        assert!(check("https://", max).is_err());
    }

    #[test]
    fn describes_images() {
        assert_eq!(describe("http://a/b.png"), "url:http://a/b.png");
        assert_eq!(
            describe(&data_uri("image/png", &png(256, 256))),
            "data:image/png;33"
        );
    }
}
