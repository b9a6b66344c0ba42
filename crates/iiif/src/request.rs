//! A whole image request: the four segments after the identifier.

use crate::{ApiVersion, OutputFormat, Quality, Region, RequestError, Rotation, Size};

/// `{region}/{size}/{rotation}/{quality}.{format}`, parsed and validated for syntax.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRequest {
    /// Which Image API version the URL was addressed to.
    pub version: ApiVersion,
    /// The region.
    pub region: Region,
    /// The size.
    pub size: Size,
    /// Mirroring and rotation.
    pub rotation: Rotation,
    /// The quality.
    pub quality: Quality,
    /// The output format.
    pub format: OutputFormat,
}

impl ImageRequest {
    /// Parse the four (already percent-decoded) segments.
    pub fn parse(
        version: ApiVersion,
        region: &str,
        size: &str,
        rotation: &str,
        quality_format: &str,
    ) -> Result<Self, RequestError> {
        let region = Region::parse(region)?;
        let size = Size::parse(size, version)?;
        let rotation = Rotation::parse(rotation)?;
        let (quality, format) = quality_format.rsplit_once('.').ok_or_else(|| {
            RequestError::syntax(
                "format",
                format!("expected quality.format: {quality_format:?}"),
            )
        })?;
        let quality = quality.parse().map_err(|()| {
            RequestError::syntax(
                "quality",
                format!("expected default, color, gray or bitonal: {quality:?}"),
            )
        })?;
        let format = match format.parse() {
            Ok(f) => f,
            Err(()) if matches!(format, "jp2" | "pdf") => {
                return Err(RequestError::syntax(
                    "format",
                    format!("{format} output is not supported; use jpg, png, webp, gif or tif"),
                ))
            }
            Err(()) => {
                return Err(RequestError::syntax(
                    "format",
                    format!("expected jpg, png, webp, gif or tif: {format:?}"),
                ))
            }
        };
        Ok(ImageRequest {
            version,
            region,
            size,
            rotation,
            quality,
            format,
        })
    }

    /// The request as written (non-canonical), `region/size/rotation/quality.format`.
    pub fn path(&self) -> String {
        format!(
            "{}/{}/{}/{}.{}",
            self.region, self.size, self.rotation, self.quality, self.format
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_request() {
        let r = ImageRequest::parse(ApiVersion::V3, "125,15,120,140", "90,", "!345", "gray.jpg")
            .unwrap();
        assert_eq!(r.quality, Quality::Gray);
        assert_eq!(r.format, OutputFormat::Jpg);
        assert!(r.rotation.mirror);
        assert_eq!(r.path(), "125,15,120,140/90,/!345/gray.jpg");
    }

    #[test]
    fn refuses_bad_quality_and_format() {
        for qf in [
            "default",
            "grey.jpg",
            "Default.jpg",
            "default.JPG",
            "default.xyz",
            "default.jp2",
            "default.pdf",
            ".jpg",
            "default.",
        ] {
            assert!(
                ImageRequest::parse(ApiVersion::V3, "full", "max", "0", qf).is_err(),
                "{qf}"
            );
        }
    }
}
