//! Access rules: what an organisation's categories and switches let it see.
//!
//! THE one place that decides visibility. Operations pass every record through
//! [`Access::filter`] before rendering; nothing else narrows or hides terms.
//!
//! This first version serves the full record to every permitted caller; the category term
//! mask, the protected-person rules and the number switches come with the access-rules issue.

use crate::model::Folkbokforingspost;

/// What one caller may see.
#[derive(Debug, Clone, Default)]
pub struct Access {
    _private: (),
}

impl Access {
    /// Access for a caller with every category and switch.
    pub fn full() -> Access {
        Access { _private: () }
    }

    /// Whether the caller may see this record at all; one it may not is answered exactly as
    /// a record that does not exist.
    pub fn may_see(&self, _post: &Folkbokforingspost) -> bool {
        true
    }

    /// The record as the caller may see it, or `None` if it may not see it at all.
    pub fn filter(&self, post: Folkbokforingspost) -> Option<Folkbokforingspost> {
        self.may_see(&post).then_some(post)
    }
}
