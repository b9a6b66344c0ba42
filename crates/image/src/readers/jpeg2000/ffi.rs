//! Every call into OpenJPEG (through `openjpeg-sys`), behind safe owners that free what they hold on
//! every path. The codestream is read through our own `opj_stream_t` callbacks over a
//! [`RandomAccess`] source, so OpenJPEG asks for byte ranges (and skips or seeks past the tiles a
//! decode area does not touch) instead of being handed the whole file.

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::{Arc, Mutex, PoisonError};

use openjpeg_sys as opj;
use tessera_source::RandomAccess;

use crate::ImageError;

/// Bytes OpenJPEG buffers per read of the stream. Headers are parsed from many tiny reads that this
/// buffer serves; reads of tile data larger than it go straight to the source. Small, because without
/// TLM markers OpenJPEG walks past the tiles a decode area does not touch by reading each tile-part
/// header (12 bytes) and skipping its body, and every such header read fills the whole buffer.
const STREAM_BUFFER: usize = 1 << 10;

/// The two containers OpenJPEG reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Container {
    /// A JP2 (or JPX) file: boxes around one codestream.
    Jp2,
    /// A raw codestream (`FF 4F FF 51`).
    J2k,
}

/// What the main header says: the reference grid, the tiling and the resolution levels.
#[derive(Debug, Clone, Copy)]
pub(super) struct Geometry {
    /// Image area on the reference grid: `x0..x1`, `y0..y1`.
    pub x0: u32,
    pub y0: u32,
    pub x1: u32,
    pub y1: u32,
    /// Tile size and the number of tiles across and down.
    pub tile_w: u32,
    pub tile_h: u32,
    pub tiles_across: u32,
    pub tiles_down: u32,
    /// Fewest resolution levels of any component (1 means no reduction is possible).
    pub resolutions: u32,
}

/// One decoded component, borrowed from its [`Decoded`] image.
pub(super) struct Component<'a> {
    /// Sample separation on the reference grid (subsampling).
    pub dx: u32,
    pub dy: u32,
    /// Decoded size, in samples at the decoded resolution.
    pub w: u32,
    pub h: u32,
    /// Position of the first decoded sample, at full resolution in this component's own grid
    /// (divide by `2^factor`, rounding up, for the decoded resolution).
    pub x0: u32,
    pub y0: u32,
    /// Resolution levels discarded: the component is `2^factor` times smaller than stored.
    pub factor: u32,
    /// Bits per sample, and whether samples are signed.
    pub prec: u32,
    pub signed: bool,
    /// Whether the JP2 channel definition marks this component as opacity.
    pub alpha: bool,
    /// `w * h` samples, row by row.
    pub data: &'a [i32],
}

/// How the JP2 header says the colours are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ColourSpace {
    /// sRGB, grey, or not said (a raw codestream).
    Plain,
    /// sYCC: YCbCr with the JPEG/BT.601 full-range equations.
    Sycc,
    /// e-sYCC.
    Eycc,
    /// CMYK.
    Cmyk,
    /// CIE L*a*b* (a `colr` box with enumerated colour space 14).
    Lab,
}

/// The state the stream callbacks work on: the source and where OpenJPEG is in it.
struct StreamState {
    source: Arc<dyn RandomAccess>,
    pos: u64,
    len: u64,
    /// The first read error, reported instead of OpenJPEG's vaguer "stream too short".
    error: Option<std::io::Error>,
}

/// What OpenJPEG said through its error callback (warnings and information are dropped).
#[derive(Default)]
struct Messages {
    error: Mutex<String>,
}

impl Messages {
    fn take(&self) -> String {
        std::mem::take(&mut *self.error.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// An `opj_codec_t` configured for decoding, with its input stream and its message sink.
/// Field order is drop order: the codec goes first, then the stream, then the sinks the C side
/// pointed at.
pub(super) struct Decoder {
    codec: CodecHandle,
    stream: StreamHandle,
    image: ImageHandle,
    messages: Box<Messages>,
}

struct CodecHandle(*mut opj::opj_codec_t);
struct StreamHandle {
    ptr: *mut opj::opj_stream_t,
    /// Owned by the stream (freed by its free callback); kept to read errors back.
    state: *mut StreamState,
}
struct ImageHandle(*mut opj::opj_image_t);

impl Drop for CodecHandle {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from opj_create_decompress and is destroyed exactly once.
            unsafe { opj::opj_destroy_codec(self.0) };
        }
    }
}

impl Drop for StreamHandle {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: the pointer came from opj_stream_create and is destroyed exactly once; this
            // also frees the StreamState through `free_state`.
            unsafe { opj::opj_stream_destroy(self.ptr) };
        }
    }
}

impl Drop for ImageHandle {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from opj_read_header and is destroyed exactly once.
            unsafe { opj::opj_image_destroy(self.0) };
        }
    }
}

/// A decoded image: the components of one `opj_decode`, owned until dropped.
pub(super) struct Decoded {
    image: ImageHandle,
}

fn corrupt(message: impl std::fmt::Display) -> ImageError {
    ImageError::Corrupt(format!("jpeg2000: {message}"))
}

impl Decoder {
    /// Create a codec for `container` over `source`, and read the main header (and JP2 boxes).
    pub(super) fn open(
        source: Arc<dyn RandomAccess>,
        container: Container,
    ) -> Result<Self, ImageError> {
        Self::open_with_threads(source, container, 1)
    }

    /// As [`open`](Self::open), decoding code-blocks on `threads` threads (one: on the caller's).
    pub(super) fn open_with_threads(
        source: Arc<dyn RandomAccess>,
        container: Container,
        threads: u32,
    ) -> Result<Self, ImageError> {
        let format = match container {
            Container::Jp2 => opj::CODEC_FORMAT::OPJ_CODEC_JP2,
            Container::J2k => opj::CODEC_FORMAT::OPJ_CODEC_J2K,
        };
        let len = source.len();
        let messages = Box::<Messages>::default();
        // SAFETY: plain constructor; a null result is checked below.
        let codec = CodecHandle(unsafe { opj::opj_create_decompress(format) });
        if codec.0.is_null() {
            return Err(corrupt("could not create a decoder"));
        }
        let sink = &*messages as *const Messages as *mut c_void;
        // SAFETY: the codec is valid; `sink` points at the boxed Messages, which the Decoder owns and
        // drops after the codec (field order), so it outlives every callback.
        unsafe {
            opj::opj_set_error_handler(codec.0, Some(on_error), sink);
            opj::opj_set_warning_handler(codec.0, Some(on_quiet), ptr::null_mut());
            opj::opj_set_info_handler(codec.0, Some(on_quiet), ptr::null_mut());
        }
        // SAFETY: opj_dparameters_t is a plain C struct of integers and char arrays, for which all
        // zeroes is a valid value; opj_set_default_decoder_parameters then fills in the defaults
        // (flags = 0: palettes and channel definitions are applied).
        let mut params: opj::opj_dparameters_t = unsafe { std::mem::zeroed() };
        // SAFETY: `params` is a valid, writable struct; the codec is valid.
        let ok = unsafe {
            opj::opj_set_default_decoder_parameters(&mut params);
            opj::opj_setup_decoder(codec.0, &mut params)
        };
        if ok == 0 {
            return Err(opj_error(&messages, None, "setting up the decoder"));
        }
        if threads > 1 {
            // SAFETY: the codec is set up and has read no header, as OpenJPEG requires; a build
            // without thread support refuses, and the decode then runs on this thread.
            unsafe { opj::opj_codec_set_threads(codec.0, i32::try_from(threads).unwrap_or(1)) };
        }
        // SAFETY: plain constructor; a null result is checked below.
        let stream_ptr = unsafe { opj::opj_stream_create(STREAM_BUFFER, 1) };
        if stream_ptr.is_null() {
            return Err(corrupt("could not create a stream"));
        }
        let state = Box::into_raw(Box::new(StreamState {
            source,
            pos: 0,
            len,
            error: None,
        }));
        let stream = StreamHandle {
            ptr: stream_ptr,
            state,
        };
        // SAFETY: the stream is valid. It takes ownership of `state` and frees it with `free_state`
        // when destroyed (StreamHandle's drop), so `state` is freed exactly once; the callbacks only
        // ever receive `state` as their user data.
        unsafe {
            opj::opj_stream_set_user_data(stream.ptr, state.cast(), Some(free_state));
            opj::opj_stream_set_user_data_length(stream.ptr, len);
            opj::opj_stream_set_read_function(stream.ptr, Some(read));
            opj::opj_stream_set_skip_function(stream.ptr, Some(skip));
            opj::opj_stream_set_seek_function(stream.ptr, Some(seek));
        }
        let mut decoder = Self {
            codec,
            stream,
            image: ImageHandle(ptr::null_mut()),
            messages,
        };
        let mut image: *mut opj::opj_image_t = ptr::null_mut();
        // SAFETY: codec and stream are valid and configured; on success OpenJPEG stores a new image
        // in `image`, which ImageHandle then owns (it may also store one on failure).
        let ok = unsafe { opj::opj_read_header(decoder.stream.ptr, decoder.codec.0, &mut image) };
        decoder.image = ImageHandle(image);
        if ok == 0 || image.is_null() {
            return Err(decoder.error("reading the header"));
        }
        Ok(decoder)
    }

    /// The image's geometry, tiling and levels, from the header just read.
    pub(super) fn geometry(&self) -> Result<Geometry, ImageError> {
        // SAFETY: the image is non-null (checked in open) and was filled in by opj_read_header.
        let image = unsafe { &*self.image.0 };
        // SAFETY: the codec has read a header, so it can describe the codestream; the result is
        // owned by CstrInfo and destroyed on every path.
        let info = CstrInfo(unsafe { opj::opj_get_cstr_info(self.codec.0) });
        if info.0.is_null() {
            return Err(corrupt("no codestream information"));
        }
        // SAFETY: non-null, and valid until CstrInfo drops at the end of this function.
        let cstr = unsafe { &*info.0 };
        let tccp = cstr.m_default_tile_info.tccp_info;
        let comps = cstr.nbcomps as usize;
        if tccp.is_null() || comps == 0 {
            return Err(corrupt("no coding parameters"));
        }
        // SAFETY: OpenJPEG allocates `nbcomps` tile-component records at `tccp_info`.
        let tccps = unsafe { std::slice::from_raw_parts(tccp, comps) };
        let resolutions = tccps.iter().map(|t| t.numresolutions).min().unwrap_or(1);
        Ok(Geometry {
            x0: image.x0,
            y0: image.y0,
            x1: image.x1,
            y1: image.y1,
            tile_w: cstr.tdx,
            tile_h: cstr.tdy,
            tiles_across: cstr.tw,
            tiles_down: cstr.th,
            resolutions: resolutions.max(1),
        })
    }

    /// The colour encoding and the ICC profile the header declared (OpenJPEG moves the `colr` box's
    /// profile into the image when it reads the header), and the number of components.
    pub(super) fn colour(&self) -> (ColourSpace, Option<Vec<u8>>, u32) {
        // SAFETY: the image is non-null (checked in open) and was filled in by opj_read_header.
        let image = unsafe { &*self.image.0 };
        (
            colour_space(image),
            icc(image).map(<[u8]>::to_vec),
            image.numcomps,
        )
    }

    /// Decode reference-grid area `x0..x1` × `y0..y1` at `reduce` (resolution levels discarded).
    /// The decoder is used up: OpenJPEG decodes once per header read.
    pub(super) fn decode(
        mut self,
        reduce: u32,
        (x0, y0, x1, y1): (u32, u32, u32, u32),
    ) -> Result<Decoded, ImageError> {
        let coord = |v: u32| i32::try_from(v).map_err(|_| corrupt("coordinates above 2^31"));
        let (x0, y0, x1, y1) = (coord(x0)?, coord(y0)?, coord(x1)?, coord(y1)?);
        // SAFETY: the codec has read its header; the factor is checked against the levels by
        // OpenJPEG (failure is reported, not undefined).
        if unsafe { opj::opj_set_decoded_resolution_factor(self.codec.0, reduce) } == 0 {
            return Err(self.error("setting the resolution"));
        }
        // SAFETY: codec and image are valid and the image is the one opj_read_header returned;
        // OpenJPEG checks the area against the image bounds.
        if unsafe { opj::opj_set_decode_area(self.codec.0, self.image.0, x0, y0, x1, y1) } == 0 {
            return Err(self.error("setting the decode area"));
        }
        // SAFETY: codec, stream and image are valid and belong together; OpenJPEG fills the image's
        // component buffers.
        if unsafe { opj::opj_decode(self.codec.0, self.stream.ptr, self.image.0) } == 0 {
            return Err(self.error("decoding"));
        }
        // SAFETY: as for opj_decode; reads what follows the codestream (nothing we need).
        if unsafe { opj::opj_end_decompress(self.codec.0, self.stream.ptr) } == 0 {
            return Err(self.error("finishing the decode"));
        }
        let image = std::mem::replace(&mut self.image, ImageHandle(ptr::null_mut()));
        Ok(Decoded { image })
    }

    /// The error for a failed call: a read error of the source if there was one, else what
    /// OpenJPEG said.
    fn error(&mut self, doing: &str) -> ImageError {
        // SAFETY: `state` stays valid while the stream lives, and the stream is idle here (no
        // OpenJPEG call is running), so nothing else accesses it.
        let io = unsafe { (*self.stream.state).error.take() };
        opj_error(&self.messages, io, doing)
    }
}

fn opj_error(messages: &Messages, io: Option<std::io::Error>, doing: &str) -> ImageError {
    if crate::cancel::cancelled() {
        return ImageError::Cancelled;
    }
    if let Some(e) = io {
        return ImageError::Io(e);
    }
    let said = messages.take();
    let said = said.trim();
    if said.is_empty() {
        corrupt(format!("{doing} failed"))
    } else {
        corrupt(format!("{doing}: {said}"))
    }
}

impl Decoded {
    fn image(&self) -> &opj::opj_image_t {
        // SAFETY: a Decoded is only built from a non-null image that opj_decode filled in.
        unsafe { &*self.image.0 }
    }

    /// The decoded components (after any JP2 palette and channel definitions were applied).
    pub(super) fn components(&self) -> Result<Vec<Component<'_>>, ImageError> {
        let image = self.image();
        if image.comps.is_null() || image.numcomps == 0 {
            return Err(corrupt("no components decoded"));
        }
        // SAFETY: OpenJPEG allocates `numcomps` component records at `comps`.
        let comps = unsafe { std::slice::from_raw_parts(image.comps, image.numcomps as usize) };
        comps
            .iter()
            .map(|c| {
                let n = (c.w as usize)
                    .checked_mul(c.h as usize)
                    .ok_or_else(|| corrupt("component too large"))?;
                if c.data.is_null() || n == 0 {
                    return Err(corrupt("a component was not decoded"));
                }
                Ok(Component {
                    dx: c.dx.max(1),
                    dy: c.dy.max(1),
                    w: c.w,
                    h: c.h,
                    x0: c.x0,
                    y0: c.y0,
                    factor: c.factor,
                    prec: c.prec,
                    signed: c.sgnd != 0,
                    alpha: c.alpha != 0,
                    // SAFETY: OpenJPEG allocates w * h samples for each decoded component; they
                    // live as long as the image, which `self` owns and the borrow is tied to.
                    data: unsafe { std::slice::from_raw_parts(c.data, n) },
                })
            })
            .collect()
    }

    /// The colour encoding the JP2 header declared.
    pub(super) fn colour_space(&self) -> ColourSpace {
        colour_space(self.image())
    }

    /// The ICC profile of the JP2 `colr` box, if any.
    pub(super) fn icc(&self) -> Option<&[u8]> {
        icc(self.image())
    }
}

/// The colour encoding the JP2 header declared, as OpenJPEG put it in `image`.
fn colour_space(image: &opj::opj_image_t) -> ColourSpace {
    if !image.icc_profile_buf.is_null() && image.icc_profile_len == 0 {
        // OpenJPEG stores CIE Lab parameters where a profile would be, with a length of 0.
        return ColourSpace::Lab;
    }
    match image.color_space {
        opj::COLOR_SPACE::OPJ_CLRSPC_SYCC => ColourSpace::Sycc,
        opj::COLOR_SPACE::OPJ_CLRSPC_EYCC => ColourSpace::Eycc,
        opj::COLOR_SPACE::OPJ_CLRSPC_CMYK => ColourSpace::Cmyk,
        _ => ColourSpace::Plain,
    }
}

/// The ICC profile of the JP2 `colr` box in `image`, if any.
fn icc(image: &opj::opj_image_t) -> Option<&[u8]> {
    if image.icc_profile_buf.is_null() || image.icc_profile_len == 0 {
        return None;
    }
    // SAFETY: OpenJPEG allocates icc_profile_len bytes at icc_profile_buf, owned by the image.
    Some(unsafe {
        std::slice::from_raw_parts(image.icc_profile_buf, image.icc_profile_len as usize)
    })
}

/// Owner of an `opj_codestream_info_v2_t`.
struct CstrInfo(*mut opj::opj_codestream_info_v2_t);

impl Drop for CstrInfo {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: from opj_get_cstr_info, destroyed exactly once (it nulls our pointer).
            unsafe { opj::opj_destroy_cstr_info(&mut self.0) };
        }
    }
}

/// Error callback: keep the messages for the ImageError.
unsafe extern "C" fn on_error(msg: *const c_char, data: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if msg.is_null() || data.is_null() {
            return;
        }
        // SAFETY: `data` is the Messages the Decoder registered and still owns; `msg` is a
        // NUL-terminated string OpenJPEG keeps valid for the call.
        let (messages, text) = unsafe { (&*(data as *const Messages), CStr::from_ptr(msg)) };
        let mut error = messages
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if error.len() < 1000 {
            if !error.is_empty() {
                error.push_str("; ");
            }
            error.push_str(text.to_string_lossy().trim());
        }
    }));
}

/// Warning and information callback: dropped.
unsafe extern "C" fn on_quiet(_msg: *const c_char, _data: *mut c_void) {}

/// Read callback: up to `n` bytes at the current position; `(size_t)-1` at the end or on error.
unsafe extern "C" fn read(buffer: *mut c_void, n: usize, data: *mut c_void) -> usize {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `data` is the StreamState the stream owns; OpenJPEG calls its callbacks one at a
        // time, so this is the only reference.
        let state = unsafe { &mut *(data as *mut StreamState) };
        let available = state.len.saturating_sub(state.pos);
        let n = usize::try_from(available).unwrap_or(usize::MAX).min(n);
        // A cancelled decode sees the end of its stream and stops before the next tile.
        if n == 0 || buffer.is_null() || crate::cancel::cancelled() {
            return usize::MAX;
        }
        // SAFETY: OpenJPEG passes a buffer of at least the `n` bytes it asked for (we ask for no more).
        let out = unsafe { std::slice::from_raw_parts_mut(buffer as *mut u8, n) };
        match state.source.read_exact_at(state.pos, out) {
            Ok(()) => {
                state.pos += n as u64;
                n
            }
            Err(e) => {
                state.error.get_or_insert(e);
                usize::MAX
            }
        }
    }))
    .unwrap_or(usize::MAX)
}

/// Skip callback: move forward (or back) `n` bytes and return `n`, as a file stream would; reads past
/// the end then fail. `-1` for a move before the start.
unsafe extern "C" fn skip(n: i64, data: *mut c_void) -> i64 {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `read`.
        let state = unsafe { &mut *(data as *mut StreamState) };
        match state.pos.checked_add_signed(n) {
            Some(pos) => {
                state.pos = pos.min(state.len);
                n
            }
            None => -1,
        }
    }))
    .unwrap_or(-1)
}

/// Seek callback: go to absolute offset `to`; false outside the source.
unsafe extern "C" fn seek(to: i64, data: *mut c_void) -> i32 {
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: as in `read`.
        let state = unsafe { &mut *(data as *mut StreamState) };
        match u64::try_from(to) {
            Ok(pos) if pos <= state.len => {
                state.pos = pos;
                1
            }
            _ => 0,
        }
    }))
    .unwrap_or(0)
}

/// Free callback of the stream's user data.
unsafe extern "C" fn free_state(data: *mut c_void) {
    if !data.is_null() {
        // SAFETY: `data` came from Box::into_raw in Decoder::open and OpenJPEG frees it once.
        drop(unsafe { Box::from_raw(data as *mut StreamState) });
    }
}
