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

#[cfg(test)]
mod tests {
	#[test]
	fn images_are_drawn() {
		let svg = super::svg("391234567890123456");
		assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.contains("<path"));
		let text = super::terminal("391234567890123456");
		assert!(text.lines().count() > 10);
	}
}
