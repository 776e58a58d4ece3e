//! Time rules, on an injectable clock ([`crate::clock`]): the maintenance windows (the weekly one and planned
//! outages, DOMAIN.md §6) and the daily load time. THE one place that decides whether the
//! service is closed now — the SOAP listener, `/healthz`, the metrics and `folkreg status`
//! all ask [`Windows`].
//!
//! All rules are in Swedish local time (Europe/Stockholm: CET in winter, CEST in summer);
//! instants are UTC everywhere else.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
use chrono_tz::Europe::Stockholm;

use crate::clock::{parse_instant, stockholm};

/// A schedule setting that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The weekly window is not `Ddd HH:MM-HH:MM`.
    #[error("`{0}` is not a weekly window like `Mon 06:00-06:15`")]
    Weekly(String),
    /// A planned outage's time is not `YYYY-MM-DD [HH:MM]` (local) or RFC 3339.
    #[error("`{0}` is not a local time `YYYY-MM-DD [HH:MM]` or an RFC 3339 time")]
    Time(String),
    /// A window that ends before it starts.
    #[error("the window {from} – {to} ends before it starts")]
    Backwards {
        /// Start as written.
        from: String,
        /// End as written.
        to: String,
    },
    /// A daily time that is not `HH:MM`.
    #[error("`{0}` is not a local time HH:MM")]
    Daily(String),
}

/// The weekly window: a weekday and a local start and end time on that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weekly {
    /// The day.
    pub day: Weekday,
    /// Local start, inclusive.
    pub start: NaiveTime,
    /// Local end, exclusive; after `start`, the same day.
    pub end: NaiveTime,
}

impl Weekly {
    /// Parses `Mon 06:00-06:15`.
    pub fn parse(s: &str) -> Result<Weekly, ScheduleError> {
        let bad = || ScheduleError::Weekly(s.to_owned());
        let (day, times) = s.trim().split_once(' ').ok_or_else(bad)?;
        let day: Weekday = day.parse().map_err(|_| bad())?;
        let (a, b) = times.trim().split_once('-').ok_or_else(bad)?;
        let start = NaiveTime::parse_from_str(a.trim(), "%H:%M").map_err(|_| bad())?;
        let end = NaiveTime::parse_from_str(b.trim(), "%H:%M").map_err(|_| bad())?;
        if end <= start {
            return Err(bad());
        }
        Ok(Weekly { day, start, end })
    }
}

/// One concrete window: UTC instants and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Start, inclusive.
    pub from: DateTime<Utc>,
    /// End, exclusive.
    pub to: DateTime<Utc>,
    /// Shown in the fault text and in `folkreg status`.
    pub reason: String,
}

/// The text of the weekly window's fault.
pub const WEEKLY_REASON: &str = "veckounderhåll / weekly maintenance";

fn parse_time(s: &str) -> Result<DateTime<Utc>, ScheduleError> {
    parse_instant(s).map_err(|_| ScheduleError::Time(s.to_owned()))
}

/// One planned outage as the configuration writes it (`[[maintenance.planned]]`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedOutage {
    /// Start: Swedish local time `YYYY-MM-DD HH:MM`, a date, or RFC 3339 ([`parse_instant`]).
    pub from: String,
    /// End, same forms.
    pub to: String,
    /// Why (shown in the fault text and in status).
    #[serde(default)]
    pub reason: String,
}

/// The maintenance windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    weekly: Weekly,
    planned: Vec<Window>,
}

impl Windows {
    /// The weekly window (`Mon 06:00-06:15`) and the planned outages; the first unusable
    /// setting is the error.
    pub fn parse(weekly: &str, planned: &[PlannedOutage]) -> Result<Windows, ScheduleError> {
        let weekly = Weekly::parse(weekly)?;
        let planned = planned
            .iter()
            .map(|p: &PlannedOutage| {
                let (from, to) = (parse_time(&p.from)?, parse_time(&p.to)?);
                if to <= from {
                    return Err(ScheduleError::Backwards {
                        from: p.from.clone(),
                        to: p.to.clone(),
                    });
                }
                let reason = if p.reason.is_empty() {
                    "planerat underhåll / planned maintenance".to_owned()
                } else {
                    p.reason.clone()
                };
                Ok(Window { from, to, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Windows { weekly, planned })
    }

    /// The weekly window of the week holding the local date `day`.
    fn weekly_on(&self, day: NaiveDate) -> Option<Window> {
        (day.weekday() == self.weekly.day).then(|| Window {
            from: stockholm(day.and_time(self.weekly.start)),
            to: stockholm(day.and_time(self.weekly.end)),
            reason: WEEKLY_REASON.to_owned(),
        })
    }

    /// Every window that overlaps `[from, to)`, in start order.
    fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Window> {
        let first = from.with_timezone(&Stockholm).date_naive() - Duration::days(1);
        let last = to.with_timezone(&Stockholm).date_naive() + Duration::days(1);
        let mut out: Vec<Window> = first
            .iter_days()
            .take_while(|d| *d <= last)
            .filter_map(|d| self.weekly_on(d))
            .chain(self.planned.iter().cloned())
            .filter(|w| w.to > from && w.from < to)
            .collect();
        out.sort_by_key(|w| (w.from, w.to));
        out
    }

    /// The windows open at `t`: the weekly one of its local day (a weekly window lies within
    /// one day) and the planned outages around it.
    fn containing(&self, t: DateTime<Utc>) -> impl Iterator<Item = Window> + '_ {
        let open = move |w: &Window| w.from <= t && t < w.to;
        self.weekly_on(t.with_timezone(&Stockholm).date_naive())
            .filter(open)
            .into_iter()
            .chain(self.planned.iter().filter(move |w| open(w)).cloned())
    }

    /// The window open at `now`, if any, with its end extended over windows that overlap or
    /// touch it (a planned outage running into the weekly window closes until both are over).
    /// On every SOAP request: looks at `now`'s day and the planned outages only.
    pub fn open_at(&self, now: DateTime<Utc>) -> Option<Window> {
        let mut open = self.containing(now).min_by_key(|w| w.from)?;
        open.to = self.containing(now).map(|w| w.to).max().unwrap_or(open.to);
        while let Some(later) = self.containing(open.to).map(|w| w.to).max() {
            open.to = later;
        }
        Some(open)
    }

    /// The next `n` windows that have not ended at `now` (the open one first).
    pub fn upcoming(&self, now: DateTime<Utc>, n: usize) -> Vec<Window> {
        let mut out = Vec::new();
        let mut from = now;
        // Every 60 days hold several weekly windows, so this ends.
        while out.len() < n {
            for w in self.between(from, from + Duration::days(60)) {
                if out.len() < n && !out.contains(&w) {
                    out.push(w);
                }
            }
            from += Duration::days(60);
        }
        out
    }
}

/// Seconds until `end` from `now`, rounded up, at least 1: the `Retry-After` of a window.
pub fn retry_after(now: DateTime<Utc>, end: DateTime<Utc>) -> u64 {
    let ms = (end - now).num_milliseconds().max(0) as u64;
    ms.div_ceil(1000).max(1)
}

/// The daily local time of the load job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Daily(pub NaiveTime);

impl std::fmt::Display for Daily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.format("%H:%M"))
    }
}

impl Daily {
    /// Parses `HH:MM`.
    pub fn parse(s: &str) -> Result<Daily, ScheduleError> {
        NaiveTime::parse_from_str(s.trim(), "%H:%M")
            .map(Daily)
            .map_err(|_| ScheduleError::Daily(s.to_owned()))
    }

    /// The most recent run time at or before `now`.
    pub fn last_at_or_before(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = now.with_timezone(&Stockholm).date_naive();
        let t = stockholm(today.and_time(self.0));
        if t <= now {
            t
        } else {
            stockholm((today - Duration::days(1)).and_time(self.0))
        }
    }

    /// The first run time after `now`.
    pub fn next_after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = now.with_timezone(&Stockholm).date_naive();
        let t = stockholm(today.and_time(self.0));
        if t > now {
            t
        } else {
            stockholm((today + Duration::days(1)).and_time(self.0))
        }
    }
}

#[cfg(test)]
mod tests;
