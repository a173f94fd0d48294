//! Images: where they come from, what they are (format and size read from the header bytes,
//! no decoding), and the streamed `data:` URI that carries a local image inline.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Where the image comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ImageSource<'a> {
    /// An `http(s)` URL the provider fetches itself. Nothing is read locally.
    Url(String),
    /// A local file, sent inline as a data URI, read in chunks while sending.
    Path(PathBuf),
    /// Bytes in memory, sent inline as a data URI. Borrowed bytes are not copied.
    Bytes(Cow<'a, [u8]>),
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
pub fn sniff(header: &[u8]) -> Option<ImageFormat> {
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
pub fn data_uri_len(format: ImageFormat, byte_len: u64) -> u64 {
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
pub struct DataUriReader<R: Read> {
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
    pub fn new(format: ImageFormat, source: R) -> Self {
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

/// Builders of minimal image headers of a given size, shared with the integration tests.
#[cfg(test)]
#[path = "../tests/common/images.rs"]
pub(crate) mod fixtures;

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use base64::Engine as _;
    use std::io::Write;

    fn dims(bytes: &[u8]) -> (ImageFormat, u32, u32) {
        let i = inspect_bytes(bytes).unwrap();
        assert_eq!(i.byte_len, bytes.len() as u64);
        (i.format, i.width, i.height)
    }

    fn field(e: Error) -> &'static str {
        match e {
            Error::InvalidInput { field, .. } => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vidu-image-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        path
    }

    #[test]
    fn sniffs_magic_bytes() {
        assert_eq!(sniff(&png(1, 1)), Some(ImageFormat::Png));
        assert_eq!(sniff(&jpeg(1, 1)), Some(ImageFormat::Jpeg));
        assert_eq!(sniff(&webp_lossy(1, 1)), Some(ImageFormat::Webp));
        assert_eq!(sniff(b"GIF89a"), None);
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(&[0xFF, 0xD8]), None);
    }

    #[test]
    fn reads_dimensions_of_each_format() {
        assert_eq!(dims(&png(256, 192)), (ImageFormat::Png, 256, 192));
        assert_eq!(dims(&png(100_000, 3)), (ImageFormat::Png, 100_000, 3));
        assert_eq!(dims(&jpeg(640, 480)), (ImageFormat::Jpeg, 640, 480));
        assert_eq!(dims(&jpeg(65535, 1)), (ImageFormat::Jpeg, 65535, 1));
        assert_eq!(dims(&webp_lossy(160, 90)), (ImageFormat::Webp, 160, 90));
        assert_eq!(dims(&webp_lossy(16383, 1)), (ImageFormat::Webp, 16383, 1));
        assert_eq!(
            dims(&webp_lossless(1, 16384)),
            (ImageFormat::Webp, 1, 16384)
        );
        assert_eq!(
            dims(&webp_lossless(300, 200)),
            (ImageFormat::Webp, 300, 200)
        );
        assert_eq!(
            dims(&webp_extended(1 << 24, 5000)),
            (ImageFormat::Webp, 1 << 24, 5000)
        );
    }

    #[test]
    fn jpeg_fill_bytes_and_standalone_markers_are_skipped() {
        let j = jpeg(320, 240);
        let mut odd = vec![0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0x01, 0xFF, 0xD0];
        odd.extend(std::iter::repeat_n(0xFF, 40));
        odd.extend_from_slice(&j[2..]);
        assert_eq!(dims(&odd), (ImageFormat::Jpeg, 320, 240));
        // Fill runs of every length around the read-buffer size, before each segment.
        for fills in 0..40 {
            let run = vec![0xFF; fills];
            let mut padded = vec![0xFF, 0xD8];
            let app0 = &j[2..20];
            padded.extend_from_slice(&run);
            padded.extend_from_slice(app0);
            padded.extend_from_slice(&run);
            padded.extend_from_slice(&j[20..]);
            assert_eq!(
                dims(&padded),
                (ImageFormat::Jpeg, 320, 240),
                "{fills} fill bytes"
            );
        }
        // DHT (C4) before the frame header is skipped, not taken for a SOF.
        let mut dht = vec![0xFF, 0xD8, 0xFF, 0xC4, 0, 4, 0xAA, 0xBB];
        dht.extend_from_slice(&j[2..]);
        assert_eq!(dims(&dht), (ImageFormat::Jpeg, 320, 240));
        // Progressive (SOF2) is a frame header too.
        let mut prog = j.clone();
        let at = prog.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
        prog[at + 1] = 0xC2;
        assert_eq!(dims(&prog), (ImageFormat::Jpeg, 320, 240));
    }

    #[test]
    fn jpeg_with_big_exif_is_read_from_a_file_by_seeking() {
        // Sixteen 64 KB APP1 blocks (about 1 MB to seek over) before the frame header.
        let app1 = &jpeg_with_app1(1, 1, 65_000)[20..20 + 65_004];
        let mut many = vec![0xFF, 0xD8];
        for _ in 0..16 {
            many.extend_from_slice(app1);
        }
        many.extend_from_slice(&jpeg_with_app1(1920, 1080, 65_000)[2..]);
        let path = temp_file("exif.jpg", &many);
        let info = inspect_path(&path).unwrap();
        assert_eq!((info.width, info.height), (1920, 1080));
        assert_eq!(info.byte_len, many.len() as u64);
    }

    #[test]
    fn path_errors() {
        let missing = Path::new("/nonexistent/vidu/cat.png");
        match inspect_path(missing).unwrap_err() {
            Error::Io { action, path, .. } => {
                assert_eq!(action, "reading the image");
                assert_eq!(path, missing);
            }
            other => panic!("{other:?}"),
        }
        let gif = temp_file("cat.png", b"GIF89a\x10\0\x10\0\0\0\0");
        let e = inspect_path(&gif).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("cat.png") && text.contains("GIF"), "{text}");
        assert!(text.contains("checked by its content"), "{text}");
        assert_eq!(field(e), "image");
        let png_as_jpg = temp_file("cat.jpg", &png(300, 200));
        assert_eq!(inspect_path(&png_as_jpg).unwrap().format, ImageFormat::Png);
        let empty = temp_file("empty.webp", b"");
        assert!(inspect_path(&empty)
            .unwrap_err()
            .to_string()
            .contains("empty"));
    }

    #[test]
    fn wrong_magic_is_invalid_input() {
        for bytes in [
            &b"GIF89a"[..],
            b"",
            b"hello world",
            b"BM\0\0\0\0",
            b"RIFF\0\0\0\0AVI ",
        ] {
            let e = inspect_bytes(bytes).unwrap_err();
            assert!(e.to_string().contains("bytes in memory"), "{e}");
            assert_eq!(field(e), "image");
        }
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let samples = [
            png(300, 200),
            jpeg_with_app1(300, 200, 100),
            webp_lossy(300, 200),
            webp_lossless(300, 200),
            webp_extended(300, 200),
        ];
        for full in &samples {
            // The last bytes of a JPEG are EOI, after the frame header: not needed.
            let needed = if full[0] == 0xFF {
                full.len() - 2 - 10
            } else {
                full.len()
            };
            for cut in 0..needed {
                let e = inspect_bytes(&full[..cut]).unwrap_err();
                assert_eq!(field(e), "image", "prefix {cut} of {:?}", &full[..4]);
            }
        }
        let e = inspect_bytes(&png(300, 200)[..20]).unwrap_err();
        assert!(
            e.to_string().contains("dimensions could not be read"),
            "{e}"
        );
    }

    #[test]
    fn corrupt_headers_do_not_panic() {
        let cases: Vec<Vec<u8>> = vec![
            vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00],       // length 0
            vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01],       // length 1
            vec![0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF, 1, 2], // huge length past the end
            vec![0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x05, 8, 0, 1], // SOF too short
            vec![0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x08],       // scan before frame
            vec![0xFF, 0xD8, 0xFF, 0x00],                   // stuffed zero
            vec![0xFF, 0xD8, 0xFF, 0xD9],                   // EOI
            vec![0xFF, 0xD8, 0xFF, 0xFF, 0xFF, 0xFF],       // only fill bytes
            vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0x12], // garbage after a segment
            png(0, 10),
            jpeg(0, 10),
            [&png(10, 10)[..12], b"IDAT", &[0; 8]].concat(),
            [&webp_lossy(10, 10)[..23], &[0, 0, 0, 1, 0, 1, 0]].concat(),
            [&webp_lossless(10, 10)[..20], &[0x2E, 0, 0, 0, 0]].concat(),
            [&b"RIFF\0\0\0\0WEBPVP8Z"[..], &[0; 20]].concat(),
        ];
        for c in &cases {
            assert_eq!(field(inspect_bytes(c).unwrap_err()), "image", "{c:02x?}");
        }
        // A pseudo-random walk over arbitrary bytes behind each magic.
        let mut x: u32 = 12345;
        for i in 0..3000 {
            let magic: &[u8] = match i % 3 {
                0 => b"\x89PNG\r\n\x1a\n",
                1 => &[0xFF, 0xD8, 0xFF],
                _ => b"RIFF\0\0\0\0WEBPVP8",
            };
            let mut bytes = magic.to_vec();
            for _ in 0..(i % 64) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                bytes.push((x >> 16) as u8 | if i % 5 == 0 { 0xC0 } else { 0 });
            }
            let _ = inspect_bytes(&bytes);
        }
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
            let expected = format!(
                "data:image/png;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(data)
            );
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
        let expected = format!(
            "data:image/webp;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(data)
        );
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

    #[test]
    fn sample_image_is_a_real_png() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample.png");
        let info = inspect_path(&path).unwrap();
        assert_eq!(
            (info.format, info.width, info.height),
            (ImageFormat::Png, 256, 192)
        );
        assert!(info.byte_len < 20_000);
        for name in [
            "sample-160.jpg",
            "sample-160.webp",
            "sample-160-lossless.webp",
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(name);
            let info = inspect_path(&path).unwrap();
            assert_eq!((info.width, info.height), (160, 160), "{name}");
        }
    }
}
