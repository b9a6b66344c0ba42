//! Quantisation tables: the ones an output quality stands for, and how stored coefficients move
//! onto coarser ones (requantisation), with no pixel decoded.

/// The luminance table of the JPEG standard (ITU T.81, Annex K.1), in natural (row-major) order.
const LUMA: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, //
    12, 12, 14, 19, 26, 58, 60, 55, //
    14, 13, 16, 24, 40, 57, 69, 56, //
    14, 17, 22, 29, 51, 87, 80, 62, //
    18, 22, 37, 56, 68, 109, 103, 77, //
    24, 35, 55, 64, 81, 104, 113, 92, //
    49, 64, 78, 87, 103, 121, 120, 101, //
    72, 92, 95, 98, 112, 100, 103, 99,
];

/// The chrominance table of the JPEG standard (Annex K.2), in natural order.
const CHROMA: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, //
    18, 21, 26, 66, 99, 99, 99, 99, //
    24, 26, 56, 99, 99, 99, 99, 99, //
    47, 66, 99, 99, 99, 99, 99, 99, //
    99, 99, 99, 99, 99, 99, 99, 99, //
    99, 99, 99, 99, 99, 99, 99, 99, //
    99, 99, 99, 99, 99, 99, 99, 99, //
    99, 99, 99, 99, 99, 99, 99, 99,
];

/// The table Tessera's JPEG encoder uses at `quality` (1–100) for luminance (`chroma` false) or
/// chrominance: the standard table scaled as libjpeg scales it, each entry within 1..=255.
pub(crate) fn table_for(quality: u8, chroma: bool) -> [u16; 64] {
    let q = u32::from(quality.clamp(1, 100));
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    let base = if chroma { &CHROMA } else { &LUMA };
    base.map(|v| ((u32::from(v) * scale + 50) / 100).clamp(1, 255) as u16)
}

/// Round half away from zero to a coefficient (the values here are within 16 bits).
fn round(v: f32) -> i16 {
    (v + 0.5f32.copysign(v)) as i32 as i16
}

/// How one stored table maps onto the output's: each entry the coarser of the stored one and the
/// target's, so that nothing is made finer than it was stored (which would only cost bytes).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Requantize {
    /// The output table, natural order.
    pub table: [u16; 64],
    /// Stored step ÷ output step per coefficient; 1 where the entry is kept.
    factor: [f32; 64],
    /// Whether every entry is kept (coefficients are copied as they are).
    identity: bool,
}

impl Requantize {
    /// Keep `stored` where it is at least as coarse as `target`, else take `target`'s entry.
    pub(crate) fn new(stored: &[u16; 64], target: Option<&[u16; 64]>) -> Self {
        let mut table = *stored;
        if let Some(target) = target {
            for (t, &goal) in table.iter_mut().zip(target) {
                *t = (*t).max(goal);
            }
        }
        let mut factor = [1.0f32; 64];
        for ((f, &s), &t) in factor.iter_mut().zip(stored).zip(&table) {
            *f = f32::from(s) / f32::from(t.max(1));
        }
        Self {
            identity: table == *stored,
            table,
            factor,
        }
    }

    /// Whether the stored table is kept as it is.
    pub(crate) fn is_identity(&self) -> bool {
        self.identity
    }

    /// Move one block of stored (quantised, natural-order) coefficients onto the output table,
    /// rounding to the nearest step.
    pub(crate) fn block(&self, from: &[i16; 64], to: &mut [i16; 64]) {
        if self.identity {
            *to = *from;
            return;
        }
        for k in 0..64 {
            to[k] = round(f32::from(from[k]) * self.factor[k]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_50_is_the_standard_table_and_100_is_all_ones() {
        assert_eq!(table_for(50, false), LUMA);
        assert_eq!(table_for(50, true), CHROMA);
        assert!(table_for(100, false).iter().all(|&v| v == 1));
        assert_eq!(table_for(80, false)[0], 6);
        assert!(table_for(1, true).iter().all(|&v| v == 255));
    }

    #[test]
    fn finer_stored_steps_are_coarsened_and_coarser_ones_kept() {
        let mut stored = [4u16; 64];
        stored[1] = 20;
        let target = [8u16; 64];
        let r = Requantize::new(&stored, Some(&target));
        assert_eq!(r.table[0], 8);
        assert_eq!(r.table[1], 20);
        let mut from = [0i16; 64];
        from[0] = 5; // 20 in value: 2.5 steps of 8, rounded away from zero
        from[1] = -3; // kept as it is
        from[2] = -5;
        let mut to = [0i16; 64];
        r.block(&from, &mut to);
        assert_eq!((to[0], to[1], to[2]), (3, -3, -3));
    }

    #[test]
    fn without_a_target_or_when_coarser_the_coefficients_are_copied() {
        let stored = table_for(60, false);
        let keep = Requantize::new(&stored, None);
        let coarser = Requantize::new(&stored, Some(&table_for(90, false)));
        assert_eq!(keep, coarser);
        let from = [7i16; 64];
        let mut to = [0i16; 64];
        keep.block(&from, &mut to);
        assert_eq!(to, from);
    }
}
