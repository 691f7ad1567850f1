//! Secret bytes (plaintexts, data keys) that are wiped from memory on drop and never printed.

use std::fmt;

use zeroize::Zeroizing;

/// Plaintext or a plaintext data key.
///
/// The memory is zeroed when the value is dropped, and `Debug` prints only the length, so a
/// secret cannot reach a log by accident.
#[derive(Clone)]
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps bytes that are secret.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The secret itself. Keep the borrow short, and never log it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<redacted, {} bytes>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = SecretBytes::new(b"hunter2".to_vec());
        let shown = format!("{secret:?}");
        assert_eq!(shown, "SecretBytes(<redacted, 7 bytes>)");
        assert!(!shown.contains("hunter2"));
        assert_eq!(secret.expose(), b"hunter2");
    }
}
