//! Lossy AVIF output through ravif (rav1e, pure Rust): 8-bit 4:4:4 YCbCr, sRGB, alpha kept.

use ravif::{BitDepth, Encoder, Img, RGB8, RGBA8};

use crate::{ImageError, PixelLayout, Raster};

/// Largest AVIF side written (see [`tessera_iiif::OutputFormat::max_side`]).
const MAX_SIDE: u32 = 16_384;

/// rav1e's fastest preset: a 512 px tile stays a fraction of a second without assembly (the README
/// has the measurements); slower presets save a few percent of bytes for several times the time.
const SPEED: u8 = 10;

/// Encode `raster` as AVIF at `quality` (1–100, ravif's scale), keeping alpha.
pub(crate) fn encode(raster: &Raster, quality: u8) -> Result<Vec<u8>, ImageError> {
    let fail = |message: String| ImageError::Encode {
        format: "avif",
        message,
    };
    let (w, h) = (raster.width, raster.height);
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(fail(format!(
            "{w}x{h} is outside the AVIF limit of {MAX_SIDE}"
        )));
    }
    let pixels = w as usize * h as usize;
    if raster.data.len() < pixels * raster.layout.channels() {
        return Err(fail("raster shorter than its size".into()));
    }
    let encoder = Encoder::new()
        .with_quality(f32::from(quality.clamp(1, 100)))
        .with_alpha_quality(f32::from(quality.clamp(1, 100)))
        .with_speed(SPEED)
        .with_bit_depth(BitDepth::Eight)
        .with_num_threads(Some(1));
    let data = &raster.data;
    crate::cancel::check()?;
    let encoded = match raster.layout {
        PixelLayout::Rgb8 => {
            let rgb: Vec<RGB8> = data
                .chunks_exact(3)
                .take(pixels)
                .map(|p| RGB8::new(p[0], p[1], p[2]))
                .collect();
            encoder.encode_rgb(Img::new(&rgb[..], w as usize, h as usize))
        }
        PixelLayout::Gray8 => {
            let rgb: Vec<RGB8> = data
                .iter()
                .take(pixels)
                .map(|&g| RGB8::new(g, g, g))
                .collect();
            encoder.encode_rgb(Img::new(&rgb[..], w as usize, h as usize))
        }
        PixelLayout::Rgba8 => {
            let rgba: Vec<RGBA8> = data
                .chunks_exact(4)
                .take(pixels)
                .map(|p| RGBA8::new(p[0], p[1], p[2], p[3]))
                .collect();
            encoder.encode_rgba(Img::new(&rgba[..], w as usize, h as usize))
        }
        PixelLayout::GrayAlpha8 => {
            let rgba: Vec<RGBA8> = data
                .chunks_exact(2)
                .take(pixels)
                .map(|p| RGBA8::new(p[0], p[0], p[0], p[1]))
                .collect();
            encoder.encode_rgba(Img::new(&rgba[..], w as usize, h as usize))
        }
    }
    .map_err(|e| fail(e.to_string()))?;
    crate::cancel::check()?;
    Ok(encoded.avif_file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raster(layout: PixelLayout, w: u32, h: u32, fill: &[u8]) -> Raster {
        let data = fill
            .iter()
            .copied()
            .cycle()
            .take(w as usize * h as usize * layout.channels())
            .collect();
        Raster {
            width: w,
            height: h,
            layout,
            data,
            extent: None,
        }
    }

    #[test]
    fn every_layout_becomes_an_avif_file() {
        for (layout, fill) in [
            (PixelLayout::Rgb8, &[200u8, 40, 10][..]),
            (PixelLayout::Rgba8, &[200, 40, 10, 128][..]),
            (PixelLayout::Gray8, &[90][..]),
            (PixelLayout::GrayAlpha8, &[90, 255][..]),
        ] {
            let out = encode(&raster(layout, 40, 24, fill), 70).unwrap();
            // An ISO-BMFF `ftyp` box whose major brand is `avif`.
            assert_eq!(&out[4..12], b"ftypavif", "{layout:?}");
        }
    }

    #[test]
    fn a_short_raster_and_an_oversized_one_are_refused() {
        let mut short = raster(PixelLayout::Rgb8, 8, 8, &[1, 2, 3]);
        short.data.truncate(10);
        assert!(matches!(
            encode(&short, 70),
            Err(ImageError::Encode { format: "avif", .. })
        ));
        let wide = Raster {
            width: MAX_SIDE + 1,
            height: 1,
            layout: PixelLayout::Gray8,
            data: vec![0; MAX_SIDE as usize + 1],
            extent: None,
        };
        assert!(matches!(
            encode(&wide, 70),
            Err(ImageError::Encode { format: "avif", .. })
        ));
    }
}
