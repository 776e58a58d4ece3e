//! Search folding (being written).
