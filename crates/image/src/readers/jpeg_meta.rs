//! Metadata segments of a JPEG before its first scan: the ICC profile (APP2, possibly split
//! over several segments), the EXIF orientation (APP1), Adobe's APP14 marker and the frame size.

/// What the metadata segments say.
#[derive(Debug, Default, Clone)]
pub(crate) struct JpegMeta {
    /// The embedded ICC profile, reassembled.
    pub icc: Option<Vec<u8>>,
    /// EXIF orientation 1–8 (1 when absent or invalid).
    pub orientation: u8,
    /// An Adobe APP14 segment is present (CMYK samples are then stored inverted).
    pub adobe: bool,
    /// The frame header (SOFn): width, height and number of components.
    pub frame: Option<(u16, u16, u8)>,
    /// A JFIF APP0 segment is present (three components are then YCbCr, whatever their ids).
    pub jfif: bool,
    /// Three components whose ids are 'R', 'G', 'B': decoders take them as RGB without a transform.
    pub rgb_ids: bool,
}

/// The marker segments of a JPEG header from SOI up to and including SOS (or EOI): each marker
/// with its segment's contents after the length, and the offset in `stream` just past the
/// segment (for SOS, where the entropy-coded data starts).
pub(crate) fn segments(stream: &[u8]) -> impl Iterator<Item = (u8, &[u8], usize)> {
    let mut at = if stream.starts_with(&[0xFF, 0xD8]) {
        2
    } else {
        usize::MAX
    };
    std::iter::from_fn(move || loop {
        if at >= stream.len() {
            return None;
        }
        let (Some(&0xFF), Some(&marker)) = (stream.get(at), stream.get(at + 1)) else {
            return None;
        };
        match marker {
            // Fill bytes before a marker.
            0xFF => at += 1,
            0xD9 => {
                let end = at + 2;
                at = usize::MAX;
                return Some((marker, &[][..], end));
            }
            _ => {
                let len = stream.get(at + 2..at + 4)?;
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let end = at + 2 + len;
                let body = stream.get(at + 4..end.max(at + 4))?;
                at = if marker == 0xDA { usize::MAX } else { end };
                return Some((marker, body, end));
            }
        }
    })
}

/// Walk the segments of `data` up to the first scan.
pub(crate) fn parse(data: &[u8]) -> JpegMeta {
    let mut meta = JpegMeta {
        orientation: 1,
        ..JpegMeta::default()
    };
    let mut icc_parts: Vec<(u8, &[u8])> = Vec::new();
    let mut i = 2;
    while i + 4 <= data.len() {
        if data[i] != 0xFF {
            i += 1;
            continue;
        }
        let marker = data[i + 1];
        if marker == 0xFF || marker == 0x01 || (0xD0..=0xD8).contains(&marker) {
            i += if marker == 0xFF { 1 } else { 2 };
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([data[i + 2], data[i + 3]]));
        let body = data.get(i + 4..i + 2 + len.max(2)).unwrap_or(&[]);
        match marker {
            0xE1 if body.starts_with(b"Exif\0\0") => {
                meta.orientation = exif_orientation(&body[6..]).unwrap_or(1);
            }
            0xE2 if body.starts_with(b"ICC_PROFILE\0") && body.len() > 14 => {
                icc_parts.push((body[12], &body[14..]));
            }
            0xEE if body.starts_with(b"Adobe") => meta.adobe = true,
            0xE0 if body.starts_with(b"JFIF\0") => meta.jfif = true,
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) && body.len() >= 6 => {
                let h = u16::from_be_bytes([body[1], body[2]]);
                let w = u16::from_be_bytes([body[3], body[4]]);
                meta.frame = Some((w, h, body[5]));
                let id = |k: usize| body.get(6 + 3 * k).copied();
                meta.rgb_ids =
                    body[5] == 3 && (id(0), id(1), id(2)) == (Some(b'R'), Some(b'G'), Some(b'B'));
            }
            _ => {}
        }
        i += 2 + len.max(2);
    }
    if !icc_parts.is_empty() {
        icc_parts.sort_by_key(|(seq, _)| *seq);
        meta.icc = Some(
            icc_parts
                .iter()
                .flat_map(|(_, b)| b.iter().copied())
                .collect(),
        );
    }
    meta
}

/// The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block.
pub(crate) fn exif_orientation(tiff: &[u8]) -> Option<u8> {
    let little = match tiff.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b = [*tiff.get(at)?, *tiff.get(at + 1)?];
        Some(if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b = [
            *tiff.get(at)?,
            *tiff.get(at + 1)?,
            *tiff.get(at + 2)?,
            *tiff.get(at + 3)?,
        ];
        Some(if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let count = usize::from(u16_at(ifd)?);
    for e in 0..count.min(512) {
        let at = ifd + 2 + e * 12;
        if u16_at(at)? == 0x0112 {
            let v = u16_at(at + 8)?;
            return u8::try_from(v).ok().filter(|o| (1..=8).contains(o));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_orientation_and_icc() {
        let exif: &[u8] = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x06\0\0";
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
        jpeg.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        jpeg.extend_from_slice(exif);
        for (seq, part) in [(2u8, b"cd"), (1u8, b"ab")] {
            let mut body = b"ICC_PROFILE\0".to_vec();
            body.extend_from_slice(&[seq, 2]);
            body.extend_from_slice(part);
            jpeg.extend_from_slice(&[0xFF, 0xE2]);
            jpeg.extend_from_slice(&((body.len() + 2) as u16).to_be_bytes());
            jpeg.extend_from_slice(&body);
        }
        jpeg.extend_from_slice(&[0xFF, 0xDA, 0, 2]);
        let meta = parse(&jpeg);
        assert_eq!(meta.orientation, 6);
        assert_eq!(meta.icc.as_deref(), Some(&b"abcd"[..]));
        assert!(!meta.adobe);
    }
}
