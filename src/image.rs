//! Images: where they come from, what they are (format and size read from the header bytes,
//! no decoding), and the streamed `data:` URI that carries a local image inline.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

// The image rules shared by every provider.
/// Largest image file accepted by all providers: 50 MB.
pub const MAX_IMAGE_BYTES: u64 = 50 * 1024 * 1024;
/// Smallest image side, in pixels.
pub const MIN_IMAGE_SIDE: u32 = 128;
/// Largest ratio between the long and the short side (exclusive).
pub const MAX_ASPECT: u32 = 4;

/// Where the image comes from.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ImageSource<'a> {
    /// An `http(s)` URL the provider fetches itself. Nothing is read locally.
    Url(String),
    /// A local file, sent inline as a data URI, read in chunks while sending.
    Path(PathBuf),
    /// Bytes in memory, sent inline as a data URI. Borrowed bytes are not copied.
    Bytes(Cow<'a, [u8]>),
}

impl ImageSource<'_> {
    /// The same source, borrowing bytes instead of copying them.
    pub(crate) fn reborrow(&self) -> ImageSource<'_> {
        match self {
            ImageSource::Url(u) => ImageSource::Url(u.clone()),
            ImageSource::Path(p) => ImageSource::Path(p.clone()),
            ImageSource::Bytes(b) => ImageSource::Bytes(Cow::Borrowed(b)),
        }
    }
}

impl<'a> From<&str> for ImageSource<'a> {
    /// `http://` and `https://` strings become URLs, anything else a path.
    fn from(s: &str) -> Self {
        let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            ImageSource::Url(s.to_owned())
        } else {
            ImageSource::Path(PathBuf::from(s))
        }
    }
}
impl<'a> From<String> for ImageSource<'a> {
    fn from(s: String) -> Self {
        ImageSource::from(s.as_str())
    }
}
impl<'a> From<&Path> for ImageSource<'a> {
    fn from(p: &Path) -> Self {
        ImageSource::Path(p.to_owned())
    }
}
impl<'a> From<PathBuf> for ImageSource<'a> {
    fn from(p: PathBuf) -> Self {
        ImageSource::Path(p)
    }
}
impl<'a> From<&'a [u8]> for ImageSource<'a> {
    fn from(b: &'a [u8]) -> Self {
        ImageSource::Bytes(Cow::Borrowed(b))
    }
}
impl<'a> From<Vec<u8>> for ImageSource<'a> {
    fn from(b: Vec<u8>) -> Self {
        ImageSource::Bytes(Cow::Owned(b))
    }
}

/// The image formats every provider accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImageFormat {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP (lossy, lossless or extended).
    Webp,
}

impl ImageFormat {
    /// The MIME type, as used in the data URI: `image/png`, `image/jpeg`, `image/webp`.
    pub fn mime(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }
}

/// What the header bytes say about an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    /// The format, from the magic bytes.
    pub format: ImageFormat,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Size of the encoded file in bytes.
    pub byte_len: u64,
}

/// The format named by the magic bytes at the start of `header`, if it is one we accept.
pub(crate) fn sniff(header: &[u8]) -> Option<ImageFormat> {
    if header.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageFormat::Png)
    } else if header.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if header.len() >= 12 && &header[..4] == b"RIFF" && &header[8..12] == b"WEBP" {
        Some(ImageFormat::Webp)
    } else {
        None
    }
}

/// Format and dimensions of an image in memory. The error names the field `image`.
pub fn inspect_bytes(bytes: &[u8]) -> Result<ImageInfo> {
    let what = format!("{} bytes in memory", bytes.len());
    inspect(&mut SliceSource(bytes), &what).map_err(|e| match e {
        Failure::Invalid(e) => e,
        // Reading a slice cannot fail; report it as a corrupt image all the same.
        Failure::Io(_) => Error::invalid("image", &what, UNREADABLE),
    })
}

/// Format and dimensions of an image file, reading only its headers (JPEG: seeking from segment
/// to segment to the frame header). The error names the field `image` and the path.
pub fn inspect_path(path: &Path) -> Result<ImageInfo> {
    let io_error = |source| Error::Io {
        action: "reading the image",
        path: path.to_owned(),
        source,
        task_id: None,
    };
    let file = File::open(path).map_err(io_error)?;
    let len = file.metadata().map_err(io_error)?.len();
    let mut source = FileSource { file, len };
    inspect(&mut source, &path.display().to_string()).map_err(|e| match e {
        Failure::Invalid(e) => e,
        Failure::Io(source) => io_error(source),
    })
}

/// Exact length in bytes of `data:<mime>;base64,<base64 of byte_len bytes>`.
pub(crate) fn data_uri_len(format: ImageFormat, byte_len: u64) -> u64 {
    let prefix = "data:;base64,".len() + format.mime().len();
    (prefix as u64).saturating_add(byte_len.div_ceil(3).saturating_mul(4))
}

const ACCEPTED: &str = "a PNG, JPEG or WebP image (checked by its content, not its name)";
const UNREADABLE: &str = "a complete PNG, JPEG or WebP image: its dimensions could not be read \
     (the header is truncated or corrupt)";

/// Why inspecting failed: a bad image, or a file that could not be read.
enum Failure {
    Invalid(Error),
    Io(io::Error),
}

/// Random access to the image bytes, so that a file is read header by header, never whole.
trait Source {
    fn len(&self) -> u64;
    /// Fills as much of `buf` as there are bytes from `pos` on; returns how many.
    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<usize>;
}

struct SliceSource<'a>(&'a [u8]);

impl Source for SliceSource<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        let rest = usize::try_from(pos)
            .ok()
            .and_then(|p| self.0.get(p..))
            .unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
}

struct FileSource {
    file: File,
    len: u64,
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
        if pos >= self.len {
            return Ok(0);
        }
        self.file.seek(SeekFrom::Start(pos))?;
        let mut filled = 0;
        while filled < buf.len() {
            match self.file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}

fn inspect(source: &mut dyn Source, what: &str) -> std::result::Result<ImageInfo, Failure> {
    let mut header = [0u8; 40];
    let n = source.read_at(0, &mut header).map_err(Failure::Io)?;
    let header = &header[..n];
    let format = sniff(header).ok_or_else(|| {
        Failure::Invalid(Error::invalid(
            "image",
            format!("{what}, {}", describe_magic(header)),
            ACCEPTED,
        ))
    })?;
    let dims = match format {
        ImageFormat::Png => png_dims(header),
        ImageFormat::Jpeg => jpeg_dims(source).map_err(Failure::Io)?,
        ImageFormat::Webp => webp_dims(header),
    };
    match dims {
        Some((width, height)) if width > 0 && height > 0 => Ok(ImageInfo {
            format,
            width,
            height,
            byte_len: source.len(),
        }),
        _ => Err(Failure::Invalid(Error::invalid(
            "image",
            format!("{what}, a {format:?} header"),
            UNREADABLE,
        ))),
    }
}

/// Names what was found instead of an accepted image, for the error message.
fn describe_magic(header: &[u8]) -> String {
    let known: &[(&[u8], &str)] = &[
        (b"GIF8", "GIF"),
        (b"BM", "BMP"),
        (b"II*\0", "TIFF"),
        (b"MM\0*", "TIFF"),
        (b"%PDF", "PDF"),
        (b"RIFF", "RIFF but not WebP"),
    ];
    if header.is_empty() {
        return "which is empty".to_owned();
    }
    if let Some((_, name)) = known.iter().find(|(magic, _)| header.starts_with(magic)) {
        return format!("which is {name}");
    }
    if header.get(4..8) == Some(b"ftyp") {
        return "which is HEIC/AVIF/MP4 (ftyp)".to_owned();
    }
    let hex: Vec<String> = header.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("starting with bytes {}", hex.join(" "))
}

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?) as u32)
}
fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?) as u32)
}
fn le24(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 3)?;
    Some(s[0] as u32 | (s[1] as u32) << 8 | (s[2] as u32) << 16)
}

/// PNG: the 13-byte IHDR chunk comes first, width and height big-endian at 16 and 20. The
/// whole chunk (with its CRC) must be there.
fn png_dims(h: &[u8]) -> Option<(u32, u32)> {
    if h.get(8..16)? != b"\0\0\0\x0dIHDR" || h.len() < 33 {
        return None;
    }
    let w = u32::from_be_bytes(h.get(16..20)?.try_into().ok()?);
    let ht = u32::from_be_bytes(h.get(20..24)?.try_into().ok()?);
    Some((w, ht))
}

/// WebP: the first chunk after `RIFF....WEBP` is `VP8 `, `VP8L` or `VP8X`.
fn webp_dims(h: &[u8]) -> Option<(u32, u32)> {
    match h.get(12..16)? {
        b"VP8 " => {
            // 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height.
            if h.get(23..26)? != [0x9D, 0x01, 0x2A] {
                return None;
            }
            Some((le16(h, 26)? & 0x3FFF, le16(h, 28)? & 0x3FFF))
        }
        b"VP8L" => {
            if *h.get(20)? != 0x2F {
                return None;
            }
            let bits = u32::from_le_bytes(h.get(21..25)?.try_into().ok()?);
            Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => Some((le24(h, 24)? + 1, le24(h, 27)? + 1)),
        _ => None,
    }
}

/// JPEG: walks the marker segments from after SOI to the first frame header (SOF0..SOF15
/// except DHT, JPG and DAC), reading a few bytes per segment and skipping the rest.
/// `Ok(None)` when the structure is broken or ends before a frame header.
fn jpeg_dims(source: &mut dyn Source) -> io::Result<Option<(u32, u32)>> {
    let mut pos: u64 = 2;
    let mut buf = [0u8; 16];
    loop {
        let n = source.read_at(pos, &mut buf)?;
        let b = &buf[..n];
        if b.first() != Some(&0xFF) {
            return Ok(None);
        }
        // Fill bytes: any number of 0xFF before the marker code. Skip them and read again,
        // so that the marker and its segment header are at the start of the buffer.
        let fills = b.iter().take_while(|&&x| x == 0xFF).count();
        if fills == n && n < 2 {
            return Ok(None);
        }
        if fills > 1 {
            pos += (fills - 1) as u64;
            continue;
        }
        let marker = b[1];
        match marker {
            // Standalone markers: TEM, RSTn, SOI.
            0x01 | 0xD0..=0xD8 => {
                pos += 2;
                continue;
            }
            // Stuffed zero, EOI or start of scan before any frame header.
            0x00 | 0xD9 | 0xDA => return Ok(None),
            _ => {}
        }
        let Some(len) = be16(b, 2) else {
            return Ok(None);
        };
        if len < 2 {
            return Ok(None);
        }
        if matches!(marker, 0xC0..=0xCF) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            // Length, precision, height, width.
            if len < 7 {
                return Ok(None);
            }
            return Ok(be16(b, 5).zip(be16(b, 7)).map(|(h, w)| (w, h)));
        }
        pos += 2 + len as u64;
    }
}

/// Bytes of source read per chunk: a multiple of 3, so chunks encode without padding.
const CHUNK: usize = 48 * 1024;

#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
))]
type Base64Engine = base64::engine::Simd;
#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
)))]
type Base64Engine = base64::engine::GeneralPurpose;

/// The SIMD engine where base64 has one (about memcpy speed), the scalar one elsewhere.
fn engine() -> Base64Engine {
    #[cfg(any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon")
    ))]
    return base64::engine::Simd::standard(base64::engine::general_purpose::PAD);
    #[cfg(not(any(
        target_arch = "x86_64",
        all(target_arch = "aarch64", target_feature = "neon")
    )))]
    return base64::engine::general_purpose::STANDARD;
}

/// Streams `data:<mime>;base64,` followed by the base64 of `source`, encoding chunk by chunk
/// (memory stays constant whatever the size). Reading yields exactly
/// [`data_uri_len`]`(format, byte_len)` bytes when `source` yields `byte_len` bytes.
pub(crate) struct DataUriReader<R: Read> {
    source: R,
    engine: Base64Engine,
    prefix: String,
    prefix_pos: usize,
    /// Source bytes not yet encoded; `input_len` of them are valid.
    input: Vec<u8>,
    input_len: usize,
    /// Encoded text not yet handed out: `output[output_pos..output_len]`.
    output: Vec<u8>,
    output_pos: usize,
    output_len: usize,
    eof: bool,
}

impl<R: Read> DataUriReader<R> {
    /// Streams `source` as an image of `format`.
    pub(crate) fn new(format: ImageFormat, source: R) -> Self {
        DataUriReader {
            source,
            engine: engine(),
            prefix: format!("data:{};base64,", format.mime()),
            prefix_pos: 0,
            input: vec![0; CHUNK],
            input_len: 0,
            output: vec![0; CHUNK / 3 * 4],
            output_pos: 0,
            output_len: 0,
            eof: false,
        }
    }

    /// Reads the source until the input buffer is full or the source ends, then encodes it.
    fn refill(&mut self) -> io::Result<()> {
        use base64::Engine as _;
        while !self.eof && self.input_len < CHUNK {
            match self.source.read(&mut self.input[self.input_len..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.input_len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        // Before the end only whole 3-byte groups are encoded; the rest waits for more input.
        let take = if self.eof {
            self.input_len
        } else {
            self.input_len / 3 * 3
        };
        let written = self
            .engine
            .encode_slice(&self.input[..take], &mut self.output)
            .map_err(io::Error::other)?;
        self.input.copy_within(take..self.input_len, 0);
        self.input_len -= take;
        self.output_pos = 0;
        self.output_len = written;
        Ok(())
    }
}

impl<R: Read> Read for DataUriReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.prefix_pos < self.prefix.len() {
            let rest = &self.prefix.as_bytes()[self.prefix_pos..];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.prefix_pos += n;
            return Ok(n);
        }
        while self.output_pos == self.output_len {
            if self.eof && self.input_len == 0 {
                return Ok(0);
            }
            self.refill()?;
        }
        let rest = &self.output[self.output_pos..self.output_len];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.output_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    #[test]
    fn sniffs_magic_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n"), Some(ImageFormat::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(ImageFormat::Jpeg));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageFormat::Webp));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(&[0xFF, 0xD8]), None);
    }

    #[test]
    fn data_uri_len_counts_prefix_and_padding() {
        assert_eq!(data_uri_len(ImageFormat::Png, 0), 22);
        assert_eq!(data_uri_len(ImageFormat::Png, 1), 26);
        assert_eq!(data_uri_len(ImageFormat::Jpeg, 3), 23 + 4);
        assert_eq!(data_uri_len(ImageFormat::Webp, 4), 23 + 8);
        assert!(data_uri_len(ImageFormat::Png, u64::MAX) > 0);
    }

    /// Yields its bytes one at a time, with an `Interrupted` error before every other byte.
    struct Trickle<'a> {
        bytes: &'a [u8],
        interrupt: bool,
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            match self.bytes.split_first() {
                Some((b, rest)) if !buf.is_empty() => {
                    buf[0] = *b;
                    self.bytes = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    fn read_all(mut r: impl Read, step: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = vec![0; step];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn data_uri_reader_streams_base64() {
        let all: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for len in [0, 1, 2, 3, 4, 5, CHUNK - 1, CHUNK, CHUNK + 1, 100_000] {
            let data = &all[..len];
            let expected = format!("data:image/png;base64,{}", STANDARD.encode(data));
            for step in [1, 7, 4096, 200_000] {
                let got = read_all(DataUriReader::new(ImageFormat::Png, data), step);
                assert_eq!(got.len() as u64, data_uri_len(ImageFormat::Png, len as u64));
                assert!(got == expected.as_bytes(), "len {len} step {step}");
            }
        }
        let data = &all[..1000];
        let trickle = Trickle {
            bytes: data,
            interrupt: false,
        };
        let got = read_all(DataUriReader::new(ImageFormat::Webp, trickle), 100);
        let expected = format!("data:image/webp;base64,{}", STANDARD.encode(data));
        assert_eq!(String::from_utf8(got).unwrap(), expected);
    }

    #[test]
    fn data_uri_reader_passes_on_source_errors() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        let mut r = DataUriReader::new(ImageFormat::Jpeg, Broken);
        let mut buf = [0u8; 64];
        assert_eq!(r.read(&mut buf).unwrap(), "data:image/jpeg;base64,".len());
        assert!(r.read(&mut buf).is_err());
    }
}
