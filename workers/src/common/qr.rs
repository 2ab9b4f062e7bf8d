//! QR images of payment codes and merchant payloads: SVG for apps and pages, and block
//! characters for a terminal.

use qrcode::{render::unicode, EcLevel, QrCode};

fn code(text: &str) -> QrCode {
	// Medium error correction, as payment codes on phone screens use; any text that fits an
	// HTTP request fits a QR code at this level (up to 2,331 bytes).
	QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
		.or_else(|_| QrCode::with_error_correction_level(text.as_bytes(), EcLevel::L))
		.expect("payloads are far below the QR capacity")
}

/// An SVG image of `text` as a QR code.
pub fn svg(text: &str) -> String {
	code(text)
		.render::<qrcode::render::svg::Color>()
		.min_dimensions(200, 200)
		.quiet_zone(true)
		.build()
}

/// `text` as a QR code drawn with half-block characters, for a terminal.
pub fn terminal(text: &str) -> String {
	code(text)
		.render::<unicode::Dense1x2>()
		.dark_color(unicode::Dense1x2::Light)
		.light_color(unicode::Dense1x2::Dark)
		.build()
}

/// Why a picture gave no QR code's text.
#[derive(Debug, thiserror::Error)]
pub enum QrReadError {
	#[error("the picture is not a PNG, JPEG, GIF or WebP image that can be read: {0}")]
	UnreadableImage(String),
	#[error("no QR code could be read in the picture; hold the code flat and fill the frame")]
	NoQrCodeFound,
	#[error("the picture is larger than {MAX_SIDE} × {MAX_SIDE} pixels")]
	TooLarge,
}

impl QrReadError {
	pub fn code(&self) -> &'static str {
		match self {
			QrReadError::UnreadableImage(_) => "UnreadableImage",
			QrReadError::NoQrCodeFound => "NoQrCodeFound",
			QrReadError::TooLarge => "ImageTooLarge",
		}
	}
}

/// The widest and tallest picture read: a phone's photo is within it. A small file can hold a
/// huge image (a PNG of one colour compresses to nothing), so the decoder is held to it and to
/// [`MAX_DECODED`] bytes before it allocates anything.
pub const MAX_SIDE: u32 = 4096;
const MAX_DECODED: u64 = 64 * 1024 * 1024;
/// A code filling a phone's photo is read as well at this size, in a fraction of the time.
const READ_SIDE: u32 = 1600;

/// The text of the first readable QR code in a picture (a photo or a screenshot of a code).
pub fn read(picture: &[u8]) -> Result<String, QrReadError> {
	let unreadable = |e: &dyn std::fmt::Display| QrReadError::UnreadableImage(e.to_string());
	let mut reader = image::ImageReader::new(std::io::Cursor::new(picture))
		.with_guessed_format()
		.map_err(|e| unreadable(&e))?;
	let mut limits = image::Limits::default();
	limits.max_image_width = Some(MAX_SIDE);
	limits.max_image_height = Some(MAX_SIDE);
	limits.max_alloc = Some(MAX_DECODED);
	reader.limits(limits);
	let mut image = reader.decode().map_err(|e| match e {
		image::ImageError::Limits(_) => QrReadError::TooLarge,
		e => unreadable(&e),
	})?;
	if image.width() > READ_SIDE || image.height() > READ_SIDE {
		image = image.resize(READ_SIDE, READ_SIDE, image::imageops::FilterType::Triangle);
	}
	let luma = image.to_luma8();
	let (width, height) = luma.dimensions();
	let mut prepared =
		rqrr::PreparedImage::prepare_from_greyscale(width as usize, height as usize, |x, y| {
			luma.get_pixel(x as u32, y as u32).0[0]
		});
	prepared
		.detect_grids()
		.into_iter()
		.find_map(|grid| grid.decode().ok().map(|(_, text)| text))
		.ok_or(QrReadError::NoQrCodeFound)
}

#[cfg(test)]
mod tests {
	#[test]
	fn images_are_drawn() {
		let svg = super::svg("391234567890123456");
		assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.contains("<path"));
		let text = super::terminal("391234567890123456");
		assert!(text.lines().count() > 10);
	}

	/// A code drawn as an image is read back; a blank picture, bytes that are no picture and a
	/// picture too large to decode are each refused by name.
	#[test]
	fn a_picture_of_a_code_is_read_back() {
		let payload = "00020101021226300014A000000333010101";
		let code = super::code(payload);
		let picture =
			code.render::<image::Luma<u8>>().min_dimensions(300, 300).quiet_zone(true).build();
		let mut png = Vec::new();
		image::DynamicImage::ImageLuma8(picture)
			.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
			.unwrap();
		assert_eq!(super::read(&png).unwrap(), payload);
		let blank = image::GrayImage::from_pixel(200, 200, image::Luma([255]));
		let mut png = Vec::new();
		image::DynamicImage::ImageLuma8(blank)
			.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
			.unwrap();
		assert!(matches!(super::read(&png), Err(super::QrReadError::NoQrCodeFound)));
		assert!(matches!(
			super::read(b"not a picture"),
			Err(super::QrReadError::UnreadableImage(_))
		));
		let huge = image::GrayImage::from_pixel(super::MAX_SIDE + 1, 8, image::Luma([255]));
		let mut png = Vec::new();
		image::DynamicImage::ImageLuma8(huge)
			.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
			.unwrap();
		assert!(matches!(super::read(&png), Err(super::QrReadError::TooLarge)));
	}
}
