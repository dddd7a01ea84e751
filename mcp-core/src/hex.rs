//! Lower-case hexadecimal, the one spelling the SDK uses for random ids
//! and digests (session ids, stream ids, API key hashes, token file
//! names), so that each crate writes and reads them alike.

/// `bytes` as lower-case hex, two digits per byte.
///
/// ```
/// assert_eq!(mcp_core::hex::encode(&[0x0f, 0xa0]), "0fa0");
/// ```
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    push(&mut out, bytes);
    out
}

/// Appends `bytes` as lower-case hex to `out` (no formatting machinery:
/// it runs on request paths).
///
/// ```
/// let mut key = String::from("a4:");
/// mcp_core::hex::push(&mut key, &[127, 0, 0, 1]);
/// assert_eq!(key, "a4:7f000001");
/// ```
pub fn push(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digit = |nibble: u8| DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0');
    out.reserve(bytes.len() * 2);
    // Spelled into a buffer and appended as one string: pushing each
    // digit as a `char` costs a capacity check and an encoding each.
    let mut buf = [0u8; 64];
    for part in bytes.chunks(buf.len() / 2) {
        for (b, pair) in part.iter().zip(buf.chunks_exact_mut(2)) {
            if let [high, low] = pair {
                *high = digit(b >> 4);
                *low = digit(b & 0xf);
            }
        }
        let spelled = buf.get(..part.len() * 2).unwrap_or_default();
        out.push_str(std::str::from_utf8(spelled).unwrap_or_default());
    }
}

/// The bytes that `text` spells in hex (either case), exactly `N` of them;
/// `None` when `text` is not `2 * N` hex digits.
///
/// ```
/// assert_eq!(mcp_core::hex::decode::<2>("0fA0"), Some([0x0f, 0xa0]));
/// assert_eq!(mcp_core::hex::decode::<2>("0fa"), None);
/// ```
pub fn decode<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let &[high, low] = pair else { return None };
        let high = char::from(high).to_digit(16)?;
        let low = char::from(low).to_digit(16)?;
        *byte = u8::try_from(high << 4 | low).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = encode(&bytes);
        assert_eq!(text.len(), 512);
        let back: [u8; 256] = decode(&text).unwrap();
        assert_eq!(back.as_slice(), bytes.as_slice());
        assert_eq!(decode::<1>("g0"), None);
        assert_eq!(decode::<1>("+1"), None);
    }

    #[test]
    fn spells_every_length_as_formatting_does() {
        for n in 0..100u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37)).collect();
            let formatted: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(encode(&bytes), formatted);
        }
    }
}
