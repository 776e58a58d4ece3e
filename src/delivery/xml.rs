//! The one XML rendering of `Folkbokforingspost`. (Being written.)
