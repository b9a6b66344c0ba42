//! Transforms to sRGB, cached by profile hash: building one (CMYK especially) takes milliseconds.

use moxcms::{ColorProfile, DataColorSpace, Layout, Transform8BitExecutor, TransformOptions};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, OnceLock};

/// Most transforms kept; the cache is emptied when it is full.
const MAX_CACHED: usize = 64;

type Key = (u64, u8, u8);
type Cache = Mutex<HashMap<Key, Option<Arc<Transform8BitExecutor>>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// A transform from the profile `icc` (which must describe `space`) to sRGB, or `None` when the
/// profile is unusable. Failures are cached too.
pub(crate) fn transform(
    icc: &[u8],
    space: DataColorSpace,
    src: Layout,
    dst: Layout,
) -> Option<Arc<Transform8BitExecutor>> {
    let mut h = DefaultHasher::new();
    icc.hash(&mut h);
    let key = (h.finish(), src as u8, dst as u8);
    if let Ok(map) = cache().lock() {
        if let Some(t) = map.get(&key) {
            return t.clone();
        }
    }
    let built = build(icc, space, src, dst);
    if let Ok(mut map) = cache().lock() {
        if map.len() >= MAX_CACHED {
            map.clear();
        }
        map.insert(key, built.clone());
    }
    built
}

fn build(
    icc: &[u8],
    space: DataColorSpace,
    src: Layout,
    dst: Layout,
) -> Option<Arc<Transform8BitExecutor>> {
    let profile = ColorProfile::new_from_slice(icc).ok()?;
    if profile.color_space != space {
        return None;
    }
    let srgb = ColorProfile::new_srgb();
    // A panic inside the colour engine must not take the request down.
    std::panic::catch_unwind(|| {
        profile
            .create_transform_8bit(src, &srgb, dst, TransformOptions::default())
            .ok()
    })
    .ok()
    .flatten()
}
