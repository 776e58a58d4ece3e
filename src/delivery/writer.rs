//! Writer of delivery files. (Being written.)

use std::path::Path;

use super::{DeliveryError, DeliveryHeader, DeliveryRecord};

/// Writes a delivery file; gzip-compressed when the path ends in `.gz`.
pub struct DeliveryWriter {
    _private: (),
}

impl DeliveryWriter {
    /// Creates the file and writes the header. `header.antal` must equal the records written.
    pub fn create(_path: &Path, _header: &DeliveryHeader) -> Result<DeliveryWriter, DeliveryError> {
        unimplemented!("delivery writer")
    }

    /// Writes one record.
    pub fn write(&mut self, _record: &DeliveryRecord) -> Result<(), DeliveryError> {
        unimplemented!("delivery writer")
    }

    /// Closes the envelope, flushes and syncs the file.
    pub fn finish(self) -> Result<(), DeliveryError> {
        unimplemented!("delivery writer")
    }
}
