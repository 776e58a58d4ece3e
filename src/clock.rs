//! Time as vocabulary: where "now" comes from ([`Clock`]), how to wait for a moment on that
//! clock ([`Clock::sleep_until`]), Swedish local time ([`stockholm`]) and the one parser of
//! the instants people write ([`parse_instant`]).
//!
//! Every rule that depends on time (maintenance windows, the daily load, permission windows,
//! the audit log's day) takes a `Clock`, so tests set and advance time instead of waiting for
//! it. This module knows no rules; it never imports anything of the crate.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Stockholm;

/// A future returned by [`Clock::sleep_until`].
pub type Sleep<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// The longest a [`SystemClock`] sleep lasts before its caller looks at the time again: the
/// wall clock may jump (suspend, an NTP step, faketime), and a sleep measured on the
/// monotonic clock would not notice.
pub const MAX_SYSTEM_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

/// Where "now" comes from. Tests set it; the service reads the system clock.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;

    /// Waits until this clock shows `at` or later — or returns earlier: callers loop and
    /// look at [`Clock::now`] again, so a clock whose time jumps is followed.
    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep<'_>;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep<'_> {
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        Box::pin(tokio::time::sleep(wait.min(MAX_SYSTEM_SLEEP)))
    }
}

/// A clock that stands still until set or advanced: for tests. A task sleeping on it wakes
/// when the time is moved to (or past) the moment it waits for.
#[derive(Debug, Clone)]
pub struct ManualClock {
    /// The time it shows, and a channel that tells sleepers it moved.
    inner: Arc<ManualInner>,
}

#[derive(Debug)]
struct ManualInner {
    now: Mutex<DateTime<Utc>>,
    moved: tokio::sync::watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock {
            inner: Arc::new(ManualInner {
                now: Mutex::new(at),
                moved: tokio::sync::watch::channel(at).0,
            }),
        }
    }

    /// Sets the time.
    pub fn set(&self, at: DateTime<Utc>) {
        let mut t = self.inner.now.lock().unwrap_or_else(|p| p.into_inner());
        *t = at;
        self.inner.moved.send_replace(at);
    }

    /// Moves the time on.
    pub fn advance(&self, by: Duration) {
        let mut t = self.inner.now.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
        self.inner.moved.send_replace(*t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.inner.now.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sleep_until(&self, at: DateTime<Utc>) -> Sleep<'_> {
        let mut moved = self.inner.moved.subscribe();
        Box::pin(async move {
            // `wait_for` looks at the current value first, so a move made before this
            // future is polled is not missed. A dropped clock ends the wait.
            let _ = moved.wait_for(|now| *now >= at).await;
        })
    }
}

/// A local wall-clock time in Stockholm as an instant. In the hour that repeats in autumn the
/// first occurrence; in the hour skipped in spring the time just after the gap.
pub fn stockholm(local: NaiveDateTime) -> DateTime<Utc> {
    match Stockholm.from_local_datetime(&local).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => stockholm(local + Duration::hours(1)),
    }
}

/// An instant a person wrote that is none of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not RFC 3339 (2026-01-01T00:00:00Z) or a Swedish local time `YYYY-MM-DD [HH:MM]`"
)]
pub struct TimeError(pub String);

/// The one parser of instants written by people (config, register, command line), with one
/// meaning: RFC 3339 with an offset is that instant; `YYYY-MM-DD HH:MM` is Swedish local
/// time; a bare `YYYY-MM-DD` is local midnight in Stockholm.
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, TimeError> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M") {
        return Ok(stockholm(t));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| stockholm(d.and_time(NaiveTime::MIN)))
        .map_err(|_| TimeError(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("rfc3339").to_utc()
    }

    #[test]
    fn one_meaning_for_every_written_form() {
        assert_eq!(
            parse_instant("2026-01-01T01:00:00+01:00"),
            Ok(utc("2026-01-01T00:00:00Z"))
        );
        // Winter: CET, UTC+1.
        assert_eq!(parse_instant("2026-01-01"), Ok(utc("2025-12-31T23:00:00Z")));
        assert_eq!(
            parse_instant("2026-01-01 06:00"),
            Ok(utc("2026-01-01T05:00:00Z"))
        );
        // Summer: CEST, UTC+2.
        assert_eq!(
            parse_instant(" 2026-07-01 06:00 "),
            Ok(utc("2026-07-01T04:00:00Z"))
        );
        for bad in ["2026-01-01T00:00:00", "tomorrow", "2026-13-01", ""] {
            assert!(parse_instant(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spring_gap_and_autumn_repeat() {
        // 2026-03-29 02:30 does not exist in Stockholm: the time just after the gap.
        let gap = NaiveDate::from_ymd_opt(2026, 3, 29)
            .and_then(|d| d.and_hms_opt(2, 30, 0))
            .expect("date");
        assert_eq!(stockholm(gap), utc("2026-03-29T01:30:00Z"));
        // 2026-10-25 02:30 happens twice: the first.
        let twice = NaiveDate::from_ymd_opt(2026, 10, 25)
            .and_then(|d| d.and_hms_opt(2, 30, 0))
            .expect("date");
        assert_eq!(stockholm(twice), utc("2026-10-25T00:30:00Z"));
    }

    #[tokio::test]
    async fn a_manual_sleep_wakes_when_the_time_is_moved_past_it() {
        let clock = ManualClock::new(utc("2026-12-07T04:00:00Z"));
        let at = utc("2026-12-07T04:30:00Z");
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move { clock.sleep_until(at).await })
        };
        tokio::task::yield_now().await;
        clock.advance(Duration::minutes(10));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "woke before its time");
        clock.set(at);
        tokio::time::timeout(std::time::Duration::from_secs(5), sleeper)
            .await
            .expect("woke")
            .expect("joined");
        // A moment already past does not wait.
        clock.sleep_until(at - Duration::hours(1)).await;
    }
}
