//! Load job (being written).
