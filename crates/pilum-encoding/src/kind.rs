//! What a physical column stores, as the encodings see it.

/// Whether a fixed-width value is an integer, and of which signedness.
/// Integers are eligible for frame-of-reference and run-length encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegerSign {
    /// Two's complement signed integer.
    Signed,
    /// Unsigned integer.
    Unsigned,
}

/// The physical shape of one column's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// One bit per value (booleans, struct validity).
    Bits,
    /// `width` bytes per value. `items` > 1 means the value is a fixed-size
    /// list of `items` elements of `width / items` bytes each, which may carry
    /// per-item validity. `integer` is set for scalar integer-like values.
    Fixed {
        /// Bytes per value.
        width: u32,
        /// Elements per value (1 for scalars).
        items: u32,
        /// Integer interpretation, if any.
        integer: Option<IntegerSign>,
    },
    /// Variable-length byte strings (utf8, binary).
    Variable,
}

impl ValueKind {
    /// The integer sign when the kind is a scalar integer of 1, 2, 4 or 8 bytes.
    pub fn scalar_integer(&self) -> Option<(usize, IntegerSign)> {
        match *self {
            ValueKind::Fixed {
                width,
                items: 1,
                integer: Some(sign),
            } if matches!(width, 1 | 2 | 4 | 8) => Some((width as usize, sign)),
            _ => None,
        }
    }

    /// Whether the kind is a scalar 16-byte signed integer (`Decimal128`),
    /// eligible for the wide frame-of-reference encoding.
    pub fn wide_integer(&self) -> bool {
        matches!(
            *self,
            ValueKind::Fixed {
                width: 16,
                items: 1,
                integer: Some(IntegerSign::Signed),
            }
        )
    }
}
