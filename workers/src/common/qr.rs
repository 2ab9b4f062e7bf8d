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
}

impl QrReadError {
	pub fn code(&self) -> &'static str {
		match self {
			QrReadError::UnreadableImage(_) => "UnreadableImage",
			QrReadError::NoQrCodeFound => "NoQrCodeFound",
		}
	}
}

/// The text of the first readable QR code in a picture (a photo or a screenshot of a code).
pub fn read(picture: &[u8]) -> Result<String, QrReadError> {
	let image = image::load_from_memory(picture)
		.map_err(|e| QrReadError::UnreadableImage(e.to_string()))?;
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

	/// A code drawn by `svg`'s renderer, as a browser shows it, is read back.
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
	}
}
