//! Images: where they come from, what they are (format and size read from the header bytes,
//! no decoding), and the streamed `data:` URI that carries a local image inline.

use std::borrow::Cow;
use std::io::Read;
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
    todo!("image helper")
}

/// Format and dimensions of an image in memory. The error names the field `image`.
pub fn inspect_bytes(bytes: &[u8]) -> Result<ImageInfo> {
    todo!("image helper")
}

/// Format and dimensions of an image file, reading only its headers (JPEG: seeking from segment
/// to segment to the frame header). The error names the field `image` and the path.
pub fn inspect_path(path: &Path) -> Result<ImageInfo> {
    todo!("image helper")
}

/// Exact length in bytes of `data:<mime>;base64,<base64 of byte_len bytes>`.
pub fn data_uri_len(format: ImageFormat, byte_len: u64) -> u64 {
    todo!("image helper")
}

/// Streams `data:<mime>;base64,` followed by the base64 of `source`, encoding chunk by chunk
/// (memory stays constant whatever the size). Reading yields exactly
/// [`data_uri_len`]`(format, byte_len)` bytes when `source` yields `byte_len` bytes.
pub(crate) struct DataUriReader<R: Read> {
    _source: R,
}

impl<R: Read> DataUriReader<R> {
    pub(crate) fn new(format: ImageFormat, source: R) -> Self {
        todo!("image helper")
    }
}

impl<R: Read> Read for DataUriReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        todo!("image helper")
    }
}

#[allow(dead_code)]
fn _unused(_: Error) {}
