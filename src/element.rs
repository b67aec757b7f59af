//! Fixed-size unsigned integers as the chunk formats store them: little-endian.
//!
//! Signed and floating-point data travel as the unsigned type of the same size: the codecs only
//! move bytes, so reinterpreting them loses nothing.

/// A value type a codec can read and write.
pub trait Element: bytemuck::Pod + Default + Send + Sync + 'static {
    /// Size of one value in bytes.
    const SIZE: usize;

    /// The value with its bytes in the opposite order.
    fn swap_bytes(self) -> Self;

    /// Reads a value from exactly `SIZE` little-endian bytes.
    fn from_le_slice(bytes: &[u8]) -> Self;

    /// Writes the value to exactly `SIZE` bytes, little-endian.
    fn write_le(self, out: &mut [u8]);
}

macro_rules! impl_element {
    ($($t:ty),*) => {$(
        impl Element for $t {
            const SIZE: usize = std::mem::size_of::<$t>();

            fn swap_bytes(self) -> Self {
                <$t>::swap_bytes(self)
            }

            fn from_le_slice(bytes: &[u8]) -> Self {
                let mut le = [0u8; std::mem::size_of::<$t>()];
                le.copy_from_slice(bytes);
                <$t>::from_le_bytes(le)
            }

            fn write_le(self, out: &mut [u8]) {
                out.copy_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}

impl_element!(u8, u16, u32, u64);

/// Whether values stored in memory as given are already little-endian.
pub(crate) fn stored_little_endian(byteswapped: bool) -> bool {
    cfg!(target_endian = "little") != byteswapped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_little_endian_bytes() {
        let mut bytes = [0u8; 8];
        0x0102_0304_0506_0708u64.write_le(&mut bytes);
        assert_eq!(bytes, [8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(u64::from_le_slice(&bytes), 0x0102_0304_0506_0708);
        assert_eq!(0x0102u16.swap_bytes(), 0x0201);
    }
}
