//! Ändringsavisering (Navet 3.1, 9.6, bilagor 1–2; DOMAIN.md §5): each organisation's
//! orders, and what each applied load means for each order.

pub mod feed;
pub mod order;
pub mod select;

/// Produces the deliveries the loads applied so far call for, logging (never failing the
/// load) if that cannot be done now: the journal keeps the changes, and the next call
/// produces them.
pub fn produce_logged(
    store: &crate::store::Store,
    register: &crate::register::Register,
    now: chrono::DateTime<chrono::Utc>,
    keep_days: u32,
) {
    let keep = chrono::Duration::days(i64::from(keep_days));
    let produced = feed::Feed::open(store).and_then(|f| f.produce(store, register, now, keep));
    if let Err(e) = produced {
        tracing::error!(error = %e, "avisering deliveries not produced now; they will be on the next run");
    }
}
