//! Old-style JPEG (TIFF 6.0 section 22, compression 6): the JPEG stream that a strip, a tile or
//! the whole image decodes from, rebuilt as libtiff does. Three shapes occur in files:
//! - JPEGInterchangeFormat points at a complete JPEG stream (SOI … SOS … EOI) of the whole image;
//! - it points at a header only (tables and frame) and the scan is spread over the strips, which
//!   are one entropy-coded stream read in order (the first strip starting with SOS);
//! - there is no interchange stream: the tables are in JPEGQTables, JPEGDCTables and
//!   JPEGACTables, each strip or tile is bare entropy-coded data, and the header is written here.

use tessera_source::RandomAccess;

use super::ifd::{tag, Ifd};
use super::layout::{Layout, Photometric};
use super::{raw_bytes, MAX_CHUNK_BYTES};
use crate::readers::jpeg_meta::segments;
use crate::ImageError;

fn corrupt(what: &str) -> ImageError {
    ImageError::Corrupt(format!("tiff: old-style JPEG: {what}"))
}

/// Where a tables-only file keeps its tables: file offsets, one per component, and the restart
/// interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tables {
    q: Vec<u64>,
    dc: Vec<u64>,
    ac: Vec<u64>,
    restart: u16,
}

impl Tables {
    /// The tables named by the directory, when it has all three table tags; lossless JPEG
    /// (JPEGProc 14) is refused.
    pub fn from_ifd(ifd: &Ifd) -> Result<Option<Self>, ImageError> {
        if ifd.int(tag::OJPEG_PROC).unwrap_or(1) != 1 {
            return Err(ImageError::Unsupported(
                "tiff: old-style lossless JPEG".into(),
            ));
        }
        let offsets = |t: u16| -> Option<Vec<u64>> {
            let v = ifd.ints(t)?;
            (!v.is_empty()).then(|| v.iter().map(|&o| o.max(0) as u64).collect())
        };
        let (Some(q), Some(dc), Some(ac)) = (
            offsets(tag::OJPEG_Q_TABLES),
            offsets(tag::OJPEG_DC_TABLES),
            offsets(tag::OJPEG_AC_TABLES),
        ) else {
            return Ok(None);
        };
        let restart = ifd
            .int(tag::OJPEG_RESTART)
            .and_then(|r| u16::try_from(r).ok())
            .unwrap_or(0);
        Ok(Some(Self { q, dc, ac, restart }))
    }
}

/// The whole image's stream from JPEGInterchangeFormat at (`offset`, `length`): as stored when it
/// holds a scan, else the header followed by every strip in order, then EOI.
pub(crate) fn whole_image(
    source: &dyn RandomAccess,
    layout: &Layout,
    offset: u64,
    length: u64,
) -> Result<Vec<u8>, ImageError> {
    let available = source.len().saturating_sub(offset);
    let length = if length == 0 {
        available
    } else {
        length.min(available)
    };
    if length > MAX_CHUNK_BYTES {
        return Err(ImageError::TooLarge("tiff: JPEG stream too large".into()));
    }
    let head = source.read_range(offset, length as usize)?;
    if has_scan(&head) {
        return Ok(head);
    }
    let mut stream = head.strip_suffix(&[0xFF, 0xD9]).unwrap_or(&head).to_vec();
    let chunks =
        (u64::from(layout.across) * u64::from(layout.down)).min(layout.offsets.len() as u64);
    // Each strip is coded on its own (its DC predictions start again from zero), as if a
    // restart interval ended at every strip: libtiff writes a DRI and RST markers to say so.
    let restart = match restart_interval(&head, layout.chunk_h) {
        Some(interval) if chunks > 1 => {
            segment(&mut stream, 0xDD, &[&interval.to_be_bytes()]);
            true
        }
        _ => false,
    };
    for index in 0..chunks {
        let strip = raw_bytes(source, layout, index)?;
        if stream.len() as u64 + strip.len() as u64 + 2 > MAX_CHUNK_BYTES {
            return Err(ImageError::TooLarge("tiff: JPEG stream too large".into()));
        }
        if restart && index > 0 {
            stream.extend_from_slice(&[0xFF, 0xD0 + ((index - 1) % 8) as u8]);
        }
        stream.extend_from_slice(&strip);
    }
    if !stream.ends_with(&[0xFF, 0xD9]) {
        stream.extend_from_slice(&[0xFF, 0xD9]);
    }
    Ok(stream)
}

/// Whether a JPEG stream reaches a start of scan, walking its markers from SOI.
fn has_scan(stream: &[u8]) -> bool {
    segments(stream).any(|(marker, _, _)| marker == 0xDA)
}

/// The restart interval, in MCUs, that ends at every strip of `rows` rows of the frame in the
/// header `head`; `None` when the header has its own DRI, no frame, or strips that are not a
/// whole number of MCU rows.
fn restart_interval(head: &[u8], rows: u32) -> Option<u16> {
    if segments(head).any(|(marker, _, _)| marker == 0xDD) {
        return None;
    }
    let (_, frame, _) = segments(head).find(|(marker, _, _)| matches!(marker, 0xC0 | 0xC1))?;
    // P, Y, X, Nf, then (id, HV, Tq) per component.
    let width = u32::from(u16::from_be_bytes([*frame.get(3)?, *frame.get(4)?]));
    let components = frame
        .get(6..)?
        .chunks_exact(3)
        .take(usize::from(*frame.get(5)?));
    let (h, v) = components.fold((1, 1), |(h, v), c| {
        (h.max(u32::from(c[1] >> 4)), v.max(u32::from(c[1] & 15)))
    });
    let (mcu_w, mcu_h) = (8 * h, 8 * v);
    if !rows.is_multiple_of(mcu_h) {
        return None;
    }
    u16::try_from(width.div_ceil(mcu_w) * (rows / mcu_h)).ok()
}

/// A standalone JPEG for one `width` x `rows` strip or tile of bare entropy-coded data, with
/// the header written from `tables` (a chunk that already is a JPEG stream is kept as stored).
pub(crate) fn chunk_stream(
    source: &dyn RandomAccess,
    layout: &Layout,
    tables: &Tables,
    data: &[u8],
    width: u32,
    rows: u32,
) -> Result<Vec<u8>, ImageError> {
    if data.starts_with(&[0xFF, 0xD8]) {
        return Ok(data.to_vec());
    }
    let components = layout.colour_samples;
    let (w, h) = (
        u16::try_from(width).map_err(|_| corrupt("chunk wider than 65535"))?,
        u16::try_from(rows).map_err(|_| corrupt("chunk taller than 65535"))?,
    );
    if components != 1 && components != 3 {
        return Err(ImageError::Unsupported(format!(
            "tiff: old-style JPEG with {components} components"
        )));
    }
    let mut out = vec![0xFF, 0xD8];
    let q = table_ids(&tables.q, components)?;
    let dc = table_ids(&tables.dc, components)?;
    let ac = table_ids(&tables.ac, components)?;
    for (id, &offset) in distinct(&tables.q).iter().enumerate() {
        let table = exact(source, offset, 64)?;
        segment(&mut out, 0xDB, &[&[id as u8], &table]);
    }
    for (class, offsets) in [(0u8, &tables.dc), (1, &tables.ac)] {
        for (id, &offset) in distinct(offsets).iter().enumerate() {
            let counts = exact(source, offset, 16)?;
            let n: usize = counts.iter().map(|&c| usize::from(c)).sum();
            if n > 256 {
                return Err(corrupt("Huffman table with more than 256 codes"));
            }
            let values = exact(source, offset + 16, n)?;
            segment(
                &mut out,
                0xC4,
                &[&[class << 4 | id as u8], &counts, &values],
            );
        }
    }
    if tables.restart > 0 {
        segment(&mut out, 0xDD, &[&tables.restart.to_be_bytes()]);
    }
    // Luma carries the subsampling; chroma one sample per unit.
    let luma = match (layout.photometric, components) {
        (Photometric::YCbCr, 3) => {
            let (sh, sv) = layout.ycbcr_subsampling;
            if ![1, 2, 4].contains(&sh) || ![1, 2, 4].contains(&sv) {
                return Err(ImageError::Unsupported(format!(
                    "tiff: old-style JPEG subsampling {sh}x{sv}"
                )));
            }
            (sh << 4 | sv) as u8
        }
        _ => 0x11,
    };
    let mut frame = vec![8];
    frame.extend_from_slice(&h.to_be_bytes());
    frame.extend_from_slice(&w.to_be_bytes());
    frame.push(components as u8);
    let mut scan = vec![components as u8];
    for c in 0..components {
        let sampling = if c == 0 { luma } else { 0x11 };
        frame.extend_from_slice(&[c as u8 + 1, sampling, q[c]]);
        scan.extend_from_slice(&[c as u8 + 1, dc[c] << 4 | ac[c]]);
    }
    scan.extend_from_slice(&[0, 63, 0]);
    segment(&mut out, 0xC0, &[&frame]);
    segment(&mut out, 0xDA, &[&scan]);
    out.extend_from_slice(data);
    if !out.ends_with(&[0xFF, 0xD9]) {
        out.extend_from_slice(&[0xFF, 0xD9]);
    }
    Ok(out)
}

/// Convert Y, Cb, Cr samples in place to RGB with the codes of `reference` (ReferenceBlackWhite:
/// black and white luma, then each chroma's extremes), by the TIFF 6.0 equations with the default
/// luma coefficients, as libtiff's `TIFFYCbCrtoRGB` does.
pub(crate) fn ycbcr_to_rgb(data: &mut [u8], reference: [f64; 6]) {
    let scale = |v: u8, black: f64, white: f64, range: f64| {
        let span = if white != black { white - black } else { 1.0 };
        (f64::from(v) - black) * range / span
    };
    let c = |v: f64| v.round().clamp(0.0, 255.0) as u8;
    for px in data.chunks_exact_mut(3) {
        let y = scale(px[0], reference[0], reference[1], 255.0);
        let cb = scale(px[1], reference[2], reference[3], 127.0);
        let cr = scale(px[2], reference[4], reference[5], 127.0);
        px[0] = c(y + 1.402 * cr);
        px[1] = c(y - 0.344136 * cb - 0.714136 * cr);
        px[2] = c(y + 1.772 * cb);
    }
}

/// The offsets once each, in order of first use (components often share a table).
fn distinct(offsets: &[u64]) -> Vec<u64> {
    let mut seen = Vec::new();
    for &o in offsets {
        if !seen.contains(&o) {
            seen.push(o);
        }
    }
    seen
}

/// The table id (index among the distinct offsets) of each of `components` components.
fn table_ids(offsets: &[u64], components: usize) -> Result<Vec<u8>, ImageError> {
    let ids = distinct(offsets);
    if ids.len() > 4 {
        return Err(corrupt("more than four tables of one kind"));
    }
    (0..components)
        .map(|c| {
            let o = offsets
                .get(c)
                .ok_or_else(|| corrupt("fewer tables than components"))?;
            Ok(ids.iter().position(|i| i == o).unwrap_or(0) as u8)
        })
        .collect()
}

/// Exactly `len` bytes at `offset`, or an error when the file ends first.
fn exact(source: &dyn RandomAccess, offset: u64, len: usize) -> Result<Vec<u8>, ImageError> {
    let bytes = source.read_range(offset, len)?;
    if bytes.len() < len {
        return Err(corrupt("table outside the file"));
    }
    Ok(bytes)
}

/// Append a marker segment made of `parts`.
fn segment(out: &mut Vec<u8>, marker: u8, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum::<usize>() + 2;
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&(len as u16).to_be_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_scan_after_tables() {
        let with_scan = [
            0xFF, 0xD8, 0xFF, 0xDB, 0, 3, 0, 0xFF, 0xFF, 0xDA, 0, 2, 0xFF, 0xD9,
        ];
        assert!(has_scan(&with_scan));
        let header_only = [0xFF, 0xD8, 0xFF, 0xC0, 0, 3, 0, 0xFF, 0xD9];
        assert!(!has_scan(&header_only));
        assert!(!has_scan(&[0xFF, 0xD8, 0xFF, 0xC4, 0xFF]));
        assert!(!has_scan(b"not a jpeg"));
    }

    #[test]
    fn a_restart_interval_ends_at_each_strip() {
        // SOF0 of 392 x 575, luma 2x1: MCUs of 16 x 8, 25 across; strips of 24 rows are 3 MCU rows.
        let head = [
            0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8, 2, 0x3F, 1, 0x88, 3, 1, 0x21, 0, 2, 0x11, 1, 3, 0x11,
            1,
        ];
        assert_eq!(restart_interval(&head, 24), Some(75));
        assert_eq!(restart_interval(&head, 20), None);
        let mut with_dri = head.to_vec();
        with_dri.extend_from_slice(&[0xFF, 0xDD, 0, 4, 0, 10]);
        assert_eq!(restart_interval(&with_dri, 24), None);
    }

    #[test]
    fn reference_black_white_stretches_video_range() {
        // Video range (luma 16–235, chroma 128 ± 112): black, white and a pure red.
        let mut px = vec![16, 128, 128, 235, 128, 128, 81, 90, 240];
        ycbcr_to_rgb(&mut px, [16.0, 235.0, 128.0, 240.0, 128.0, 240.0]);
        assert_eq!(&px[..6], &[0, 0, 0, 255, 255, 255]);
        assert!(px[6] > 250 && px[7] < 5 && px[8] < 5, "{:?}", &px[6..]);
        // The default reference (full range) leaves gray gray.
        let mut gray = vec![100, 128, 128];
        ycbcr_to_rgb(&mut gray, [0.0, 255.0, 128.0, 255.0, 128.0, 255.0]);
        assert_eq!(gray, vec![100, 100, 100]);
    }

    #[test]
    fn shared_tables_get_one_id() {
        assert_eq!(distinct(&[777, 846, 846]), vec![777, 846]);
        assert_eq!(table_ids(&[777, 846, 846], 3).ok(), Some(vec![0, 1, 1]));
        assert!(table_ids(&[777], 3).is_err());
        assert!(table_ids(&[1, 2, 3, 4, 5], 3).is_err());
    }
}
