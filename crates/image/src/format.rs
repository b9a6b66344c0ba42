//! Source formats recognised by their magic bytes.

/// A source image format Tessera can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceFormat {
    /// JPEG (JFIF, EXIF, Adobe).
    Jpeg,
    /// PNG (first frame of APNG).
    Png,
    /// GIF 87a/89a (first frame).
    Gif,
    /// TIFF and BigTIFF, either byte order.
    Tiff,
    /// WebP (lossy, lossless, first frame of animations).
    Webp,
    /// JPEG 2000: JP2/JPX files and raw J2K codestreams.
    Jpeg2000,
}

impl SourceFormat {
    /// Recognise a format from the first bytes of a file (16 bytes are enough).
    pub fn sniff(prefix: &[u8]) -> Option<Self> {
        match prefix {
            [0xFF, 0xD8, 0xFF, ..] => Some(SourceFormat::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(SourceFormat::Png),
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(SourceFormat::Gif),
            [b'I', b'I', 42 | 43, 0, ..] | [b'M', b'M', 0, 42 | 43, ..] => Some(SourceFormat::Tiff),
            [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => {
                Some(SourceFormat::Webp)
            }
            [0, 0, 0, 0x0C, b'j', b'P', b' ', b' ', ..] | [0xFF, 0x4F, 0xFF, 0x51, ..] => {
                Some(SourceFormat::Jpeg2000)
            }
            _ => None,
        }
    }

    /// A short lowercase name, for messages and logs.
    pub fn name(&self) -> &'static str {
        match self {
            SourceFormat::Jpeg => "jpeg",
            SourceFormat::Png => "png",
            SourceFormat::Gif => "gif",
            SourceFormat::Tiff => "tiff",
            SourceFormat::Webp => "webp",
            SourceFormat::Jpeg2000 => "jpeg2000",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_magic() {
        assert_eq!(
            SourceFormat::sniff(b"\xFF\xD8\xFF\xE0"),
            Some(SourceFormat::Jpeg)
        );
        assert_eq!(
            SourceFormat::sniff(b"\x89PNG\r\n\x1a\n"),
            Some(SourceFormat::Png)
        );
        assert_eq!(SourceFormat::sniff(b"GIF89a"), Some(SourceFormat::Gif));
        assert_eq!(SourceFormat::sniff(b"II*\0"), Some(SourceFormat::Tiff));
        assert_eq!(SourceFormat::sniff(b"MM\0+"), Some(SourceFormat::Tiff));
        assert_eq!(
            SourceFormat::sniff(b"RIFF\0\0\0\0WEBPVP8 "),
            Some(SourceFormat::Webp)
        );
        assert_eq!(
            SourceFormat::sniff(b"\0\0\0\x0cjP  \r\n\x87\n"),
            Some(SourceFormat::Jpeg2000)
        );
        assert_eq!(
            SourceFormat::sniff(b"\xFF\x4F\xFF\x51\0\x2F"),
            Some(SourceFormat::Jpeg2000)
        );
        assert_eq!(SourceFormat::sniff(b""), None);
        assert_eq!(SourceFormat::sniff(b"hello world"), None);
    }
}
