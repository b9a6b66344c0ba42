//! Image file directories of a TIFF or BigTIFF: tags parsed by hand, so that every photometric
//! interpretation, compression and sample format reaches Tessera's own decoding.

use std::collections::HashMap;

use tessera_source::RandomAccess;

use crate::ImageError;

/// Most entries read from one directory.
const MAX_ENTRIES: u64 = 4096;
/// Largest tag value read (offset tables of huge images, ICC profiles, JPEG tables).
const MAX_TAG_BYTES: u64 = 64 << 20;

/// Byte order of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endian {
    /// `II`
    Little,
    /// `MM`
    Big,
}

impl Endian {
    fn u16(self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        }
    }
    fn u32(self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        }
    }
    fn u64(self, b: &[u8]) -> u64 {
        let a = [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]];
        match self {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        }
    }
}

/// One tag's value.
#[derive(Debug, Clone)]
pub(crate) enum Value {
    /// BYTE, SHORT, LONG, LONG8, IFD (and their signed forms, sign-extended into i64).
    Ints(Vec<i64>),
    /// RATIONAL, FLOAT, DOUBLE.
    Floats(Vec<f64>),
    /// UNDEFINED and ASCII: the raw bytes.
    Bytes(Vec<u8>),
}

/// The tags of one directory.
#[derive(Debug)]
pub(crate) struct Ifd {
    /// Byte order, needed for 16- and 32-bit samples.
    pub endian: Endian,
    tags: HashMap<u16, Value>,
}

/// The file header: byte order, classic or BigTIFF, and where the first directory is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    /// Byte order of the file.
    pub endian: Endian,
    /// BigTIFF (64-bit offsets).
    pub big: bool,
    /// Offset of the first directory.
    pub first: u64,
}

impl Header {
    /// Parse the 8- or 16-byte header of `source`.
    pub fn read(source: &dyn RandomAccess) -> Result<Self, ImageError> {
        let head = source.read_range(0, 16)?;
        if head.len() < 8 {
            return Err(corrupt("truncated header"));
        }
        let endian = match &head[..2] {
            b"II" => Endian::Little,
            b"MM" => Endian::Big,
            _ => return Err(corrupt("bad byte order mark")),
        };
        let (big, first) = match endian.u16(&head[2..4]) {
            42 => (false, u64::from(endian.u32(&head[4..8]))),
            43 if head.len() >= 16 => (true, endian.u64(&head[8..16])),
            _ => return Err(corrupt("not a TIFF version")),
        };
        Ok(Self { endian, big, first })
    }
}

fn corrupt(m: &str) -> ImageError {
    ImageError::Corrupt(format!("tiff: {m}"))
}

impl Ifd {
    /// Parse the directory at `offset`; also returns the offset of the next one (0 at the end).
    pub fn read_at(
        source: &dyn RandomAccess,
        header: Header,
        offset: u64,
    ) -> Result<(Self, u64), ImageError> {
        let Header { endian, big, .. } = header;
        let count_len = if big { 8 } else { 2 };
        let entry_len: u64 = if big { 20 } else { 12 };
        let count_bytes = source
            .read_range(offset, count_len)
            .map_err(|_| corrupt("directory offset outside the file"))?;
        if count_bytes.len() < count_len {
            return Err(corrupt("directory offset outside the file"));
        }
        let count = if big {
            endian.u64(&count_bytes)
        } else {
            u64::from(endian.u16(&count_bytes))
        };
        if count == 0 || count > MAX_ENTRIES {
            return Err(corrupt("directory entry count out of range"));
        }
        let next_len = if big { 8 } else { 4 };
        let entries = source.read_range(
            offset + count_len as u64,
            (count * entry_len) as usize + next_len,
        )?;
        if (entries.len() as u64) < count * entry_len {
            return Err(corrupt("truncated directory"));
        }
        let (entries, next_bytes) = entries.split_at((count * entry_len) as usize);
        let next = match (big, next_bytes.len() >= next_len) {
            (_, false) => 0,
            (true, true) => endian.u64(next_bytes),
            (false, true) => u64::from(endian.u32(next_bytes)),
        };
        let mut tags = HashMap::new();
        for e in entries.chunks_exact(entry_len as usize) {
            let tag = endian.u16(&e[0..2]);
            let kind = endian.u16(&e[2..4]);
            let (n, inline) = if big {
                (endian.u64(&e[4..12]), &e[12..20])
            } else {
                (u64::from(endian.u32(&e[4..8])), &e[8..12])
            };
            let Some(size) = type_size(kind) else {
                continue; // unknown type: skip, as readers must
            };
            let total = n
                .checked_mul(size)
                .filter(|&t| t <= MAX_TAG_BYTES)
                .ok_or_else(|| corrupt("tag value too large"))?;
            let bytes = if total <= inline.len() as u64 {
                inline[..total as usize].to_vec()
            } else {
                let at = if big {
                    endian.u64(inline)
                } else {
                    u64::from(endian.u32(inline))
                };
                let b = source.read_range(at, total as usize)?;
                if (b.len() as u64) < total {
                    return Err(corrupt("tag value outside the file"));
                }
                b
            };
            tags.insert(tag, decode_value(endian, kind, size as usize, &bytes));
        }
        Ok((Self { endian, tags }, next))
    }

    /// All integer values of `tag`, or `None` when absent or not integers.
    pub fn ints(&self, tag: u16) -> Option<&[i64]> {
        match self.tags.get(&tag)? {
            Value::Ints(v) => Some(v),
            _ => None,
        }
    }

    /// The first integer value of `tag`.
    pub fn int(&self, tag: u16) -> Option<i64> {
        self.ints(tag)?.first().copied()
    }

    /// The first value of `tag` as a float (integers converted).
    pub fn float(&self, tag: u16) -> Option<f64> {
        match self.tags.get(&tag)? {
            Value::Floats(v) => v.first().copied(),
            Value::Ints(v) => v.first().map(|&i| i as f64),
            Value::Bytes(_) => None,
        }
    }

    /// All values of `tag` as floats (integers converted).
    pub fn floats(&self, tag: u16) -> Option<Vec<f64>> {
        match self.tags.get(&tag)? {
            Value::Floats(v) => Some(v.clone()),
            Value::Ints(v) => Some(v.iter().map(|&i| i as f64).collect()),
            Value::Bytes(_) => None,
        }
    }

    /// Raw bytes of an UNDEFINED or BYTE-typed tag (ICC profile, JPEG tables).
    pub fn bytes(&self, tag: u16) -> Option<Vec<u8>> {
        match self.tags.get(&tag)? {
            Value::Bytes(b) => Some(b.clone()),
            Value::Ints(v) => v.iter().map(|&i| u8::try_from(i).ok()).collect(),
            Value::Floats(_) => None,
        }
    }
}

/// Bytes per value of a TIFF field type.
fn type_size(kind: u16) -> Option<u64> {
    Some(match kind {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => return None,
    })
}

fn decode_value(endian: Endian, kind: u16, size: usize, bytes: &[u8]) -> Value {
    let items = bytes.chunks_exact(size);
    match kind {
        1 => Value::Ints(bytes.iter().map(|&b| i64::from(b)).collect()),
        6 => Value::Ints(bytes.iter().map(|&b| i64::from(b as i8)).collect()),
        2 | 7 => Value::Bytes(bytes.to_vec()),
        3 => Value::Ints(items.map(|b| i64::from(endian.u16(b))).collect()),
        8 => Value::Ints(items.map(|b| i64::from(endian.u16(b) as i16)).collect()),
        4 | 13 => Value::Ints(items.map(|b| i64::from(endian.u32(b))).collect()),
        9 => Value::Ints(items.map(|b| i64::from(endian.u32(b) as i32)).collect()),
        16 | 18 => Value::Ints(items.map(|b| endian.u64(b) as i64).collect()),
        17 => Value::Ints(items.map(|b| endian.u64(b) as i64).collect()),
        5 => Value::Floats(
            items
                .map(|b| f64::from(endian.u32(&b[..4])) / f64::from(endian.u32(&b[4..]).max(1)))
                .collect(),
        ),
        10 => Value::Floats(
            items
                .map(|b| {
                    f64::from(endian.u32(&b[..4]) as i32)
                        / f64::from((endian.u32(&b[4..]) as i32).max(1))
                })
                .collect(),
        ),
        11 => Value::Floats(
            items
                .map(|b| f64::from(f32::from_bits(endian.u32(b))))
                .collect(),
        ),
        12 => Value::Floats(items.map(|b| f64::from_bits(endian.u64(b))).collect()),
        _ => Value::Bytes(bytes.to_vec()),
    }
}

/// Tag numbers used by the reader.
pub(crate) mod tag {
    pub const WIDTH: u16 = 256;
    pub const HEIGHT: u16 = 257;
    pub const BITS: u16 = 258;
    pub const COMPRESSION: u16 = 259;
    pub const PHOTOMETRIC: u16 = 262;
    pub const IMAGE_DESCRIPTION: u16 = 270;
    pub const FILL_ORDER: u16 = 266;
    pub const ORIENTATION: u16 = 274;
    pub const STRIP_OFFSETS: u16 = 273;
    pub const SAMPLES: u16 = 277;
    pub const ROWS_PER_STRIP: u16 = 278;
    pub const STRIP_BYTES: u16 = 279;
    pub const PLANAR: u16 = 284;
    pub const T4_OPTIONS: u16 = 292;
    pub const PREDICTOR: u16 = 317;
    pub const COLOR_MAP: u16 = 320;
    pub const TILE_WIDTH: u16 = 322;
    pub const TILE_HEIGHT: u16 = 323;
    pub const TILE_OFFSETS: u16 = 324;
    pub const TILE_BYTES: u16 = 325;
    pub const INK_SET: u16 = 332;
    pub const EXTRA_SAMPLES: u16 = 338;
    pub const SAMPLE_FORMAT: u16 = 339;
    pub const SMIN: u16 = 340;
    pub const SMAX: u16 = 341;
    pub const JPEG_TABLES: u16 = 347;
    pub const OJPEG_OFFSET: u16 = 513;
    pub const OJPEG_LENGTH: u16 = 514;
    pub const OJPEG_PROC: u16 = 512;
    pub const OJPEG_RESTART: u16 = 515;
    pub const OJPEG_Q_TABLES: u16 = 519;
    pub const OJPEG_DC_TABLES: u16 = 520;
    pub const OJPEG_AC_TABLES: u16 = 521;
    pub const YCBCR_SUBSAMPLING: u16 = 530;
    pub const REFERENCE_BLACK_WHITE: u16 = 532;
    pub const SUB_IFDS: u16 = 330;
    pub const NEW_SUBFILE_TYPE: u16 = 254;
    pub const ICC: u16 = 34675;
}
