//! Cutting a rectangle out of a raster.

use tessera_iiif::Rect;

use crate::{ImageError, Raster};

/// The pixels of `rect` (in `raster`'s own coordinates), which must lie inside `raster`.
pub fn crop(raster: &Raster, rect: Rect) -> Result<Raster, ImageError> {
    let inside = u64::from(rect.x) + u64::from(rect.w) <= u64::from(raster.width)
        && u64::from(rect.y) + u64::from(rect.h) <= u64::from(raster.height);
    if !inside || rect.w == 0 || rect.h == 0 {
        return Err(ImageError::Corrupt(format!(
            "crop {}x{}+{}+{} outside a {}x{} raster",
            rect.w, rect.h, rect.x, rect.y, raster.width, raster.height
        )));
    }
    if rect.x == 0 && rect.y == 0 && rect.w == raster.width && rect.h == raster.height {
        return Ok(raster.clone());
    }
    let channels = raster.layout.channels();
    let stride = raster.stride();
    let row_len = rect.w as usize * channels;
    let mut out = Raster::new(rect.w, rect.h, raster.layout)?;
    for (i, dst) in out.data.chunks_exact_mut(row_len).enumerate() {
        let start = (rect.y as usize + i) * stride + rect.x as usize * channels;
        let src = raster
            .data
            .get(start..start + row_len)
            .ok_or_else(|| ImageError::Corrupt("raster shorter than its size".into()))?;
        dst.copy_from_slice(src);
    }
    Ok(out)
}

/// Map `region` (full-resolution coordinates of an image `full_w × full_h`) onto the same image
/// decoded at `scaled_w × scaled_h`: the smallest rectangle of scaled pixels covering it.
pub fn scale_rect(region: Rect, full_w: u32, full_h: u32, scaled_w: u32, scaled_h: u32) -> Rect {
    let map = |v: u32, full: u32, scaled: u32, round_up: bool| -> u32 {
        let num = u64::from(v) * u64::from(scaled);
        let den = u64::from(full.max(1));
        let r = if round_up {
            num.div_ceil(den)
        } else {
            num / den
        };
        u32::try_from(r.min(u64::from(scaled))).unwrap_or(scaled)
    };
    let x0 = map(region.x, full_w, scaled_w, false).min(scaled_w.saturating_sub(1));
    let y0 = map(region.y, full_h, scaled_h, false).min(scaled_h.saturating_sub(1));
    let x1 = map(region.x.saturating_add(region.w), full_w, scaled_w, true).max(x0 + 1);
    let y1 = map(region.y.saturating_add(region.h), full_h, scaled_h, true).max(y0 + 1);
    Rect::new(x0, y0, x1 - x0, y1 - y0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PixelLayout;

    #[test]
    fn crops_rows_and_columns() {
        let data: Vec<u8> = (0..12).collect();
        let r = Raster::from_data(4, 3, PixelLayout::Gray8, data).unwrap();
        let c = crop(&r, Rect::new(1, 1, 2, 2)).unwrap();
        assert_eq!(c.data, vec![5, 6, 9, 10]);
        assert!(crop(&r, Rect::new(3, 0, 2, 1)).is_err());
    }

    #[test]
    fn scales_rects() {
        assert_eq!(
            scale_rect(Rect::new(0, 0, 100, 100), 100, 100, 25, 25),
            Rect::new(0, 0, 25, 25)
        );
        assert_eq!(
            scale_rect(Rect::new(10, 10, 20, 20), 100, 100, 50, 50),
            Rect::new(5, 5, 10, 10)
        );
        assert_eq!(
            scale_rect(Rect::new(99, 99, 1, 1), 100, 100, 13, 13),
            Rect::new(12, 12, 1, 1)
        );
    }
}
