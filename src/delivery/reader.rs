//! Streaming reader of delivery files. (Being written.)

use std::path::Path;

use super::{DeliveryError, DeliveryHeader, DeliveryRecord};

/// Reads a delivery file record by record in constant memory; `.xml.gz` (by magic bytes) too.
pub struct DeliveryReader {
    header: DeliveryHeader,
}

impl DeliveryReader {
    /// Opens a file and reads its header.
    pub fn open(_path: &Path) -> Result<DeliveryReader, DeliveryError> {
        unimplemented!("delivery reader")
    }

    /// The header.
    pub fn header(&self) -> &DeliveryHeader {
        &self.header
    }
}

impl Iterator for DeliveryReader {
    type Item = Result<DeliveryRecord, DeliveryError>;
    fn next(&mut self) -> Option<Self::Item> {
        None
    }
}
