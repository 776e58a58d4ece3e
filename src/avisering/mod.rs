//! Ändringsavisering (Navet 3.1, 9.6, bilagor 1–2; DOMAIN.md §5): each organisation's
//! orders, and what each applied load means for each order.

pub mod feed;
pub mod order;
pub mod select;
