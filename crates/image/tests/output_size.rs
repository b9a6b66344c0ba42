//! The planner refuses sizes an encoder cannot write from the rotated output size it computes
//! (`tessera_iiif::rotated_size`); that must be the size the renderer really makes.

use tessera_iiif::{rotated_size, Dimensions};
use tessera_image::transform::orient;

#[test]
fn the_plan_and_the_renderer_agree_on_rotated_sizes() {
    let sizes = [
        (1, 1),
        (2, 1),
        (100, 50),
        (333, 777),
        (16383, 3),
        (12000, 12000),
        (65535, 2),
    ];
    let mut angles: Vec<f64> = (0..3600).map(|i| f64::from(i) / 10.0).collect();
    angles.extend([0.001, 44.9999, 89.99999, 90.00001, 359.9999]);
    for &(w, h) in &sizes {
        for &deg in &angles {
            let (rw, rh) = orient::rotated_size(w, h, deg);
            assert_eq!(
                rotated_size(Dimensions::new(w, h), deg),
                Dimensions::new(rw, rh),
                "{w}x{h} at {deg}"
            );
        }
    }
}
