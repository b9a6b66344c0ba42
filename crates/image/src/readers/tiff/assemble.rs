//! Assembling a region from decoded rows: kept at full resolution, or shrunk by a whole factor as
//! the rows arrive (a box filter), so that a small output of a large region (a 1000-pixel view of a
//! 10,000-pixel strip TIFF) never holds the region's full-resolution pixels.

use tessera_iiif::{Dimensions, Rect};

/// Takes the rows of a region from top to bottom and builds the (possibly shrunk) raster data.
pub(super) struct Assembler {
    width: usize,
    channels: usize,
    shrink: usize,
    /// The region's height.
    height: usize,
    out: Vec<u8>,
    out_w: usize,
    out_h: usize,
    /// Column sums of the input rows gathered for the output row being built (shrink > 1), and
    /// how many rows they hold.
    sums: Vec<u32>,
    summed_rows: usize,
    /// The next output row to be written.
    next_out: usize,
}

impl Assembler {
    /// An assembler for `region` with `channels` samples per pixel, shrinking by the largest whole
    /// factor that keeps the result at least `target` in both dimensions.
    pub(super) fn new(region: Rect, target: Dimensions, channels: usize) -> Self {
        let factor = |full: u32, want: u32| (full / want.max(1)).max(1);
        let shrink = factor(region.w, target.width).min(factor(region.h, target.height)) as usize;
        let (w, h) = (region.w as usize, region.h as usize);
        let (out_w, out_h) = (w.div_ceil(shrink), h.div_ceil(shrink));
        Self {
            width: w,
            channels,
            shrink,
            height: h,
            out: vec![0; out_w * out_h * channels],
            out_w,
            out_h,
            sums: if shrink > 1 {
                vec![0; w * channels]
            } else {
                Vec::new()
            },
            summed_rows: 0,
            next_out: 0,
        }
    }

    /// The part of the assembled raster that covers the region, when a partial last block makes it
    /// less than the whole.
    pub(super) fn extent(&self) -> Option<crate::Extent> {
        let s = self.shrink;
        let partial = s > 1 && !(self.width.is_multiple_of(s) && self.height.is_multiple_of(s));
        partial.then_some(crate::Extent {
            width: self.width as u32,
            height: self.height as u32,
            shrink: s as u32,
        })
    }

    /// The size of the data [`Assembler::finish`] returns.
    pub(super) fn size(&self) -> (u32, u32) {
        (self.out_w as u32, self.out_h as u32)
    }

    /// Whether the region is kept at full resolution (rows can be written in place).
    pub(super) fn is_full_resolution(&self) -> bool {
        self.shrink == 1
    }

    /// At full resolution, the next `rows` rows of the output, to be written in place and counted
    /// as pushed; `None` when shrinking or past the region's height.
    pub(super) fn rows_in_place(&mut self, rows: usize) -> Option<&mut [u8]> {
        if self.shrink != 1 {
            return None;
        }
        let stride = self.width * self.channels;
        let at = self.next_out * stride;
        let out = self.out.get_mut(at..at + rows * stride)?;
        self.next_out += rows;
        Some(out)
    }

    /// Take the next row of the region (`width * channels` samples). Rows beyond the region's
    /// height are ignored.
    pub(super) fn push(&mut self, row: &[u8]) {
        let stride = self.width * self.channels;
        let Some(row) = row.get(..stride) else {
            return;
        };
        if self.next_out >= self.out_h {
            return;
        }
        if self.shrink == 1 {
            let at = self.next_out * stride;
            if let Some(dst) = self.out.get_mut(at..at + stride) {
                dst.copy_from_slice(row);
            }
            self.next_out += 1;
            return;
        }
        // Columns first (a plain vector add), across at the end of the band.
        for (s, &v) in self.sums.iter_mut().zip(row) {
            *s += u32::from(v);
        }
        self.summed_rows += 1;
        if self.summed_rows == self.shrink {
            self.flush();
        }
    }

    /// Write the output row from the sums gathered so far (a short last band averages fewer rows).
    fn flush(&mut self) {
        if self.summed_rows == 0 {
            return;
        }
        let (k, c) = (self.shrink, self.channels);
        let at = self.next_out * self.out_w * c;
        let Some(out_row) = self.out.get_mut(at..at + self.out_w * c) else {
            return;
        };
        for (block, dst) in self.sums.chunks(k * c).zip(out_row.chunks_exact_mut(c)) {
            let n = (block.len() / c * self.summed_rows) as u64;
            for (ch, d) in dst.iter_mut().enumerate() {
                let total: u64 = block
                    .iter()
                    .skip(ch)
                    .step_by(c)
                    .map(|&v| u64::from(v))
                    .sum();
                *d = ((total + n / 2) / n) as u8;
            }
        }
        self.sums.fill(0);
        self.summed_rows = 0;
        self.next_out += 1;
    }

    /// The assembled samples, `size()` pixels.
    pub(super) fn finish(mut self) -> Vec<u8> {
        if self.shrink > 1 {
            self.flush();
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_full_resolution_when_the_target_is_as_large() {
        let mut a = Assembler::new(Rect::new(0, 0, 3, 2), Dimensions::new(3, 2), 1);
        a.push(&[1, 2, 3]);
        a.push(&[4, 5, 6]);
        assert_eq!(a.size(), (3, 2));
        assert_eq!(a.finish(), vec![1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn a_partial_last_block_is_reported_as_the_extent() {
        let a = Assembler::new(Rect::new(0, 0, 5, 3), Dimensions::new(2, 1), 1);
        assert_eq!(
            a.extent(),
            Some(crate::Extent {
                width: 5,
                height: 3,
                shrink: 2
            })
        );
        let whole = Assembler::new(Rect::new(0, 0, 6, 4), Dimensions::new(3, 2), 1);
        assert_eq!(whole.extent(), None);
    }

    #[test]
    fn box_shrinks_with_partial_edge_blocks() {
        // 5x3 gray shrunk by 2: blocks of 2x2, a 1-wide column and a 1-high row at the edges.
        let mut a = Assembler::new(Rect::new(0, 0, 5, 3), Dimensions::new(2, 1), 1);
        a.push(&[0, 2, 10, 20, 7]);
        a.push(&[4, 6, 30, 40, 9]);
        a.push(&[1, 3, 5, 7, 100]);
        assert_eq!(a.size(), (3, 2));
        assert_eq!(a.finish(), vec![3, 25, 8, 2, 6, 100]);
    }

    #[test]
    fn large_factors_do_not_overflow() {
        let mut a = Assembler::new(Rect::new(0, 0, 20_000, 20_000), Dimensions::new(1, 1), 1);
        let row = vec![255u8; 20_000];
        for _ in 0..20_000 {
            a.push(&row);
        }
        assert_eq!(a.finish(), vec![255]);
    }

    #[test]
    fn shrinks_each_channel_separately() {
        let mut a = Assembler::new(Rect::new(0, 0, 2, 2), Dimensions::new(1, 1), 3);
        a.push(&[10, 0, 255, 20, 0, 255]);
        a.push(&[30, 100, 255, 40, 100, 255]);
        assert_eq!(a.finish(), vec![25, 50, 255]);
    }
}
