//! Tessera's own reading of a JPEG 2000 main header (SIZ, COD, COC), done before OpenJPEG sees the
//! file: OpenJPEG allocates per-tile and per-component records while it reads the header, so what
//! a header declares must be checked first ([`super::budget`]).

use tessera_source::RandomAccess;

use crate::ImageError;

/// Most JP2 boxes walked while looking for the codestream.
const MAX_BOXES: usize = 1024;
/// Most markers walked in a main header before its first tile-part.
const MAX_MARKERS: usize = 16_384;
/// Most tile-parts walked for their headers' COD/COC markers.
const MAX_TILE_PARTS: usize = 1 << 17;
/// Most distinct tile coding styles kept.
const MAX_TILE_CODINGS: usize = 256;
/// Most components a SIZ marker can declare (ISO/IEC 15444-1 A.5.1).
const MAX_SIZ_COMPONENTS: usize = 16_384;

/// One component as SIZ and COD/COC describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ComponentCoding {
    /// Sample separation on the reference grid.
    pub dx: u32,
    pub dy: u32,
    /// Quality layers (from COD; COC keeps the COD's).
    pub layers: u32,
    /// Resolution levels (decomposition levels + 1).
    pub resolutions: u32,
    /// Code-block width and height exponents (4 to 1024 samples).
    pub cblk_w: u32,
    pub cblk_h: u32,
    /// Precinct width and height exponents per resolution, lowest resolution first.
    pub precinct: [(u32, u32); 33],
}

/// What the main header declares: the reference grid, the tiling, the components and their coding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct MainHeader {
    /// Image area on the reference grid: `x0..x1`, `y0..y1`.
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
    /// Tile size and the tiling origin.
    pub tile_w: u32,
    pub tile_h: u32,
    pub tile_x0: u32,
    pub tile_y0: u32,
    /// One entry per component.
    pub components: Vec<ComponentCoding>,
    /// The distinct codings that tile-part headers (COD/COC) give their tiles instead, one entry
    /// per component each.
    pub tile_codings: Vec<Vec<ComponentCoding>>,
}

impl MainHeader {
    /// Tiles across and down (0 for a grid that does not cover the image).
    pub(super) fn tile_grid(&self) -> (u64, u64) {
        let across =
            u64::from(self.x1.saturating_sub(self.tile_x0)).div_ceil(u64::from(self.tile_w));
        let down = u64::from(self.y1.saturating_sub(self.tile_y0)).div_ceil(u64::from(self.tile_h));
        (across, down)
    }

    /// The largest tile's size inside the image area, on the reference grid.
    pub(super) fn largest_tile(&self) -> (u64, u64) {
        let w = self.tile_w.min(self.x1 - self.x0);
        let h = self.tile_h.min(self.y1 - self.y0);
        (u64::from(w), u64::from(h))
    }
}

fn corrupt(message: impl std::fmt::Display) -> ImageError {
    ImageError::Corrupt(format!("jpeg2000: {message}"))
}

fn be16(b: &[u8], at: usize) -> Result<u32, ImageError> {
    b.get(at..at + 2)
        .map(|s| u32::from(u16::from_be_bytes([s[0], s[1]])))
        .ok_or_else(|| corrupt("marker segment too short"))
}

fn be32(b: &[u8], at: usize) -> Result<u32, ImageError> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or_else(|| corrupt("marker segment too short"))
}

fn byte(b: &[u8], at: usize) -> Result<u32, ImageError> {
    b.get(at)
        .map(|&v| u32::from(v))
        .ok_or_else(|| corrupt("marker segment too short"))
}

/// `n` bytes at `at`; a range past the end of the source is a broken file, not an I/O error.
fn read(source: &dyn RandomAccess, at: u64, n: usize) -> Result<Vec<u8>, ImageError> {
    if at.saturating_add(n as u64) > source.len() {
        return Err(corrupt("the main header is truncated"));
    }
    Ok(source.read_range(at, n)?)
}

/// Where the codestream starts: 0 for a raw codestream, the contents of the first `jp2c` box of a
/// JP2/JPX file.
pub(super) fn codestream_offset(source: &dyn RandomAccess, raw: bool) -> Result<u64, ImageError> {
    if raw {
        return Ok(0);
    }
    let len = source.len();
    let mut at = 0u64;
    for _ in 0..MAX_BOXES {
        if at.saturating_add(8) > len {
            break;
        }
        let head = read(source, at, 8)?;
        let lbox = u64::from(be32(&head, 0)?);
        let kind = head.get(4..8).unwrap_or_default();
        let (header, size) = match lbox {
            0 => (8, len - at),
            1 => {
                let ext = read(source, at + 8, 8)?;
                let hi = u64::from(be32(&ext, 0)?);
                let lo = u64::from(be32(&ext, 4)?);
                (16, hi << 32 | lo)
            }
            n => (8, n),
        };
        if kind == b"jp2c" {
            return Ok(at + header);
        }
        if size < header {
            return Err(corrupt(format!("box of {size} bytes")));
        }
        at = at.saturating_add(size);
    }
    Err(corrupt("no codestream box (jp2c)"))
}

/// Read the main header of the codestream at `start`: SIZ, and COD/COC for every component.
pub(super) fn read_main_header(
    source: &dyn RandomAccess,
    start: u64,
) -> Result<MainHeader, ImageError> {
    let soc = read(source, start, 4)?;
    if soc.get(..4) != Some(&[0xFF, 0x4F, 0xFF, 0x51][..]) {
        return Err(corrupt("the codestream does not start with SOC and SIZ"));
    }
    let mut at = start + 2;
    let mut header: Option<MainHeader> = None;
    let mut default: Option<ComponentCoding> = None;
    let mut specific: Vec<Option<ComponentCoding>> = Vec::new();
    for _ in 0..MAX_MARKERS {
        let mark = read(source, at, 4)?;
        let marker = be16(&mark, 0)?;
        if marker == 0xFF90 || marker == 0xFFD9 {
            // SOT (the first tile-part) or EOC ends the main header.
            let mut header = header.ok_or_else(|| corrupt("no SIZ marker"))?;
            let default = default.ok_or_else(|| corrupt("no COD marker in the main header"))?;
            for (i, c) in header.components.iter_mut().enumerate() {
                let coding = specific.get(i).copied().flatten().unwrap_or(default);
                *c = ComponentCoding {
                    dx: c.dx,
                    dy: c.dy,
                    layers: default.layers,
                    ..coding
                };
            }
            if marker == 0xFF90 {
                header.tile_codings = tile_codings(source, at, &header)?;
            }
            return Ok(header);
        }
        if marker >> 8 != 0xFF {
            return Err(corrupt(format!("no marker at byte {at}")));
        }
        let length = be16(&mark, 2)?;
        if length < 2 {
            return Err(corrupt(format!("marker {marker:04X} of length {length}")));
        }
        let body_at = at + 4;
        let body_len = (length - 2) as usize;
        match marker {
            0xFF51 => {
                let body = read(source, body_at, body_len)?;
                let siz = parse_siz(&body)?;
                specific = vec![None; siz.components.len()];
                header = Some(siz);
            }
            0xFF52 => {
                let body = read(source, body_at, body_len)?;
                let scod = byte(&body, 0)?;
                let mut coding = parse_coding(&body, 5, scod & 1 != 0)?;
                coding.layers = be16(&body, 2)?;
                default = Some(coding);
            }
            0xFF53 => {
                let body = read(source, body_at, body_len)?;
                let many = specific.len() > 256;
                let (index, next) = if many {
                    (be16(&body, 0)?, 2)
                } else {
                    (byte(&body, 0)?, 1)
                };
                let scoc = byte(&body, next)?;
                let coding = parse_coding(&body, next + 1, scoc & 1 != 0)?;
                let slot = specific
                    .get_mut(index as usize)
                    .ok_or_else(|| corrupt(format!("COC for component {index}")))?;
                *slot = Some(coding);
            }
            _ => {}
        }
        at = body_at + u64::from(length - 2);
    }
    Err(corrupt("main header has too many markers"))
}

/// Walk the tile-parts from the first SOT at `at` and collect the codings their headers' COD and
/// COC markers set (OpenJPEG sets up a tile's records by them). Stops at EOC, at a tile-part
/// running to the end (`Psot` 0) or at the end of the file.
fn tile_codings(
    source: &dyn RandomAccess,
    mut at: u64,
    main: &MainHeader,
) -> Result<Vec<Vec<ComponentCoding>>, ImageError> {
    let mut codings: Vec<Vec<ComponentCoding>> = Vec::new();
    for _ in 0..MAX_TILE_PARTS {
        if at.saturating_add(12) > source.len() {
            return Ok(codings);
        }
        let sot = read(source, at, 12)?;
        if be16(&sot, 0)? != 0xFF90 {
            return Ok(codings);
        }
        let psot = u64::from(be32(&sot, 6)?);
        let mut coding = main.components.clone();
        let mut changed = false;
        let mut m = at + 12;
        for _ in 0..MAX_MARKERS {
            let mark = read(source, m, 4)?;
            let marker = be16(&mark, 0)?;
            if marker == 0xFF93 {
                break;
            }
            let length = be16(&mark, 2)?;
            if marker >> 8 != 0xFF || length < 2 {
                return Err(corrupt(format!(
                    "no marker at byte {m} of a tile-part header"
                )));
            }
            let body_len = (length - 2) as usize;
            match marker {
                0xFF52 => {
                    let body = read(source, m + 4, body_len)?;
                    let mut c = parse_coding(&body, 5, byte(&body, 0)? & 1 != 0)?;
                    c.layers = be16(&body, 2)?;
                    for slot in coding.iter_mut() {
                        *slot = ComponentCoding {
                            dx: slot.dx,
                            dy: slot.dy,
                            ..c
                        };
                    }
                    changed = true;
                }
                0xFF53 => {
                    let body = read(source, m + 4, body_len)?;
                    let (index, next) = if coding.len() > 256 {
                        (be16(&body, 0)?, 2)
                    } else {
                        (byte(&body, 0)?, 1)
                    };
                    let c = parse_coding(&body, next + 1, byte(&body, next)? & 1 != 0)?;
                    let slot = coding
                        .get_mut(index as usize)
                        .ok_or_else(|| corrupt(format!("COC for component {index}")))?;
                    *slot = ComponentCoding {
                        dx: slot.dx,
                        dy: slot.dy,
                        layers: slot.layers,
                        ..c
                    };
                    changed = true;
                }
                _ => {}
            }
            m += 4 + u64::from(length - 2);
        }
        if changed && !codings.contains(&coding) {
            if codings.len() == MAX_TILE_CODINGS {
                return Err(corrupt("more than 256 coding styles in tile-part headers"));
            }
            codings.push(coding);
        }
        if psot == 0 {
            return Ok(codings);
        }
        if psot < 14 {
            return Err(corrupt(format!("a tile-part of {psot} bytes")));
        }
        at += psot;
    }
    Err(corrupt("more tile-parts than Tessera walks"))
}

/// SIZ: the grid, the tiling and each component's subsampling.
fn parse_siz(b: &[u8]) -> Result<MainHeader, ImageError> {
    let count = be16(b, 34)? as usize;
    if count == 0 || count > MAX_SIZ_COMPONENTS {
        return Err(corrupt(format!("SIZ declares {count} components")));
    }
    let mut components = Vec::with_capacity(count);
    for i in 0..count {
        let dx = byte(b, 36 + 3 * i + 1)?;
        let dy = byte(b, 36 + 3 * i + 2)?;
        if dx == 0 || dy == 0 {
            return Err(corrupt("a component with a sample separation of 0"));
        }
        components.push(ComponentCoding {
            dx,
            dy,
            layers: 1,
            resolutions: 1,
            cblk_w: 6,
            cblk_h: 6,
            precinct: [(15, 15); 33],
        });
    }
    let header = MainHeader {
        x1: be32(b, 2)?,
        y1: be32(b, 6)?,
        x0: be32(b, 10)?,
        y0: be32(b, 14)?,
        tile_w: be32(b, 18)?,
        tile_h: be32(b, 22)?,
        tile_x0: be32(b, 26)?,
        tile_y0: be32(b, 30)?,
        components,
        tile_codings: Vec::new(),
    };
    let h = &header;
    if h.x1 <= h.x0 || h.y1 <= h.y0 {
        return Err(corrupt(format!(
            "image area {}..{} x {}..{} is empty",
            h.x0, h.x1, h.y0, h.y1
        )));
    }
    if h.tile_w == 0 || h.tile_h == 0 || h.tile_x0 > h.x0 || h.tile_y0 > h.y0 {
        return Err(corrupt(format!(
            "tiles of {}x{} from {},{}",
            h.tile_w, h.tile_h, h.tile_x0, h.tile_y0
        )));
    }
    Ok(header)
}

/// SPcod / SPcoc from `at`: levels, code-block size and (when `precincts`) precinct sizes.
fn parse_coding(b: &[u8], at: usize, precincts: bool) -> Result<ComponentCoding, ImageError> {
    let levels = byte(b, at)?;
    if levels > 32 {
        return Err(corrupt(format!("{levels} decomposition levels")));
    }
    let (xcb, ycb) = (byte(b, at + 1)? + 2, byte(b, at + 2)? + 2);
    if xcb > 10 || ycb > 10 || xcb + ycb > 12 {
        return Err(corrupt(format!("code-blocks of 2^{xcb} x 2^{ycb}")));
    }
    let mut precinct = [(15, 15); 33];
    if precincts {
        for (r, slot) in precinct.iter_mut().enumerate().take(levels as usize + 1) {
            let v = byte(b, at + 5 + r)?;
            *slot = (v & 0xF, v >> 4);
        }
    }
    Ok(ComponentCoding {
        dx: 1,
        dy: 1,
        layers: 1,
        resolutions: levels + 1,
        cblk_w: xcb,
        cblk_h: ycb,
        precinct,
    })
}
