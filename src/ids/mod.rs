//! Identity vocabulary: the numbers and ids that name persons, organisations and orders,
//! each parsed once at the edge into a type that cannot hold an invalid value
//! (STYLE practice 7). Nothing here knows the register, the wire or the store.

pub mod bestallning;
pub mod orgnr;
pub mod pnr;

pub use bestallning::{BestallningsId, BestallningsIdError};
pub use orgnr::{OrgNr, OrgNrError};
pub use pnr::{Pnr, PnrError, PnrKind};
