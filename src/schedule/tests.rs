use super::*;
use crate::clock::{Clock, ManualClock};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn windows(planned: &[(&str, &str, &str)]) -> Windows {
    let planned: Vec<PlannedOutage> = planned
        .iter()
        .map(|(f, t, r)| PlannedOutage {
            from: (*f).into(),
            to: (*t).into(),
            reason: (*r).into(),
        })
        .collect();
    Windows::parse("Mon 06:00-06:15", &planned).expect("valid")
}

/// (instant, open?, Retry-After if open)
fn check(w: &Windows, cases: &[(&str, Option<u64>)]) {
    for (at, want) in cases {
        let now = utc(at);
        let got = w.open_at(now).map(|o| retry_after(now, o.to));
        assert_eq!(got, *want, "at {at}");
    }
}

#[test]
fn weekly_window_in_winter_is_05_00_to_05_15_utc() {
    // Monday 2026-11-23, CET (UTC+1).
    check(
        &windows(&[]),
        &[
            ("2026-11-23T04:59:59Z", None),
            ("2026-11-23T05:00:00Z", Some(900)),
            ("2026-11-23T05:00:00.400Z", Some(900)),
            ("2026-11-23T05:14:59Z", Some(1)),
            ("2026-11-23T05:14:59.900Z", Some(1)),
            ("2026-11-23T05:15:00Z", None),
            // The same local time on a Tuesday is open.
            ("2026-11-24T05:05:00Z", None),
        ],
    );
}

#[test]
fn weekly_window_in_summer_is_04_00_to_04_15_utc() {
    // Monday 2026-06-15, CEST (UTC+2).
    check(
        &windows(&[]),
        &[
            ("2026-06-15T03:59:59Z", None),
            ("2026-06-15T04:00:00Z", Some(900)),
            ("2026-06-15T04:14:59Z", Some(1)),
            ("2026-06-15T04:15:00Z", None),
            ("2026-06-15T05:00:00Z", None),
        ],
    );
}

#[test]
fn the_mondays_after_the_clock_changes() {
    // Summer time from Sunday 2026-03-29: Monday 30 March is CEST.
    check(
        &windows(&[]),
        &[
            ("2026-03-30T03:59:59Z", None),
            ("2026-03-30T04:00:00Z", Some(900)),
            ("2026-03-30T04:15:00Z", None),
            ("2026-03-30T05:00:00Z", None),
        ],
    );
    // Winter time from Sunday 2026-10-25: Monday 26 October is CET.
    check(
        &windows(&[]),
        &[
            ("2026-10-26T04:00:00Z", None),
            ("2026-10-26T04:59:59Z", None),
            ("2026-10-26T05:00:00Z", Some(900)),
            ("2026-10-26T05:14:59Z", Some(1)),
            ("2026-10-26T05:15:00Z", None),
        ],
    );
}

#[test]
fn a_planned_outage_overlapping_the_weekly_window_closes_until_both_end() {
    let w = windows(&[("2026-11-23 05:30", "2026-11-23 06:10", "Byte av lagring")]);
    check(
        &w,
        &[
            ("2026-11-23T04:29:59Z", None),
            // 05:30 local: open until the weekly window ends at 06:15 local = 05:15Z.
            ("2026-11-23T04:30:00Z", Some(2700)),
            ("2026-11-23T05:10:00Z", Some(300)),
            ("2026-11-23T05:15:00Z", None),
        ],
    );
    let open = w.open_at(utc("2026-11-23T04:45:00Z")).expect("open");
    assert_eq!(open.reason, "Byte av lagring");
    // One that starts inside the weekly window and runs past it.
    let w = windows(&[("2026-11-23 06:10", "2026-11-23 07:00", "")]);
    check(
        &w,
        &[
            ("2026-11-23T05:00:00Z", Some(3600)),
            ("2026-11-23T05:59:59Z", Some(1)),
            ("2026-11-23T06:00:00Z", None),
        ],
    );
}

#[test]
fn a_planned_outage_on_a_saturday_in_summer() {
    // "Lördag 16 november 2019 07:00–18:00" style, here in CEST.
    let w = windows(&[("2026-07-04 07:00", "2026-07-04 18:00", "Planerat underhåll")]);
    check(
        &w,
        &[
            ("2026-07-04T04:59:59Z", None),
            ("2026-07-04T05:00:00Z", Some(11 * 3600)),
            ("2026-07-04T15:59:59Z", Some(1)),
            ("2026-07-04T16:00:00Z", None),
        ],
    );
}

#[test]
fn upcoming_lists_the_open_window_first_then_in_order() {
    let w = windows(&[("2026-12-05 07:00", "2026-12-05 18:00", "Planerat")]);
    let list = w.upcoming(utc("2026-11-23T05:05:00Z"), 4);
    let starts: Vec<String> = list.iter().map(|w| w.from.to_rfc3339()).collect();
    assert_eq!(
        starts,
        [
            "2026-11-23T05:00:00+00:00",
            "2026-11-30T05:00:00+00:00",
            "2026-12-05T06:00:00+00:00",
            "2026-12-07T05:00:00+00:00",
        ]
    );
}

#[test]
fn bad_settings_are_refused_with_what_was_written() {
    for bad in [
        "Mon 06:15-06:00",
        "Monday",
        "Xyz 06:00-06:15",
        "Mon 6-7",
        "",
    ] {
        assert!(Weekly::parse(bad).is_err(), "{bad:?}");
    }
    let err = Windows::parse(
        "Mon 06:00-06:15",
        &[PlannedOutage {
            from: "2026-12-05 18:00".into(),
            to: "2026-12-05 07:00".into(),
            reason: String::new(),
        }],
    );
    assert!(matches!(err, Err(ScheduleError::Backwards { .. })));
    let err = Windows::parse(
        "Mon 06:00-06:15",
        &[PlannedOutage {
            from: "5 december".into(),
            to: "2026-12-05 07:00".into(),
            reason: String::new(),
        }],
    );
    assert_eq!(err, Err(ScheduleError::Time("5 december".into())));
}

#[test]
fn daily_runs_at_local_time_across_the_clock_change() {
    let d = Daily::parse("05:30").expect("valid");
    // Winter: 05:30 CET = 04:30Z.
    assert_eq!(
        d.next_after(utc("2026-11-23T04:00:00Z")),
        utc("2026-11-23T04:30:00Z")
    );
    assert_eq!(
        d.last_at_or_before(utc("2026-11-23T04:00:00Z")),
        utc("2026-11-22T04:30:00Z")
    );
    assert_eq!(
        d.last_at_or_before(utc("2026-11-23T04:30:00Z")),
        utc("2026-11-23T04:30:00Z")
    );
    // Summer: 05:30 CEST = 03:30Z.
    assert_eq!(
        d.next_after(utc("2026-06-15T03:30:00Z")),
        utc("2026-06-16T03:30:00Z")
    );
    assert!(Daily::parse("25:00").is_err());
}

#[test]
fn the_manual_clock_moves_only_when_told() {
    let c = ManualClock::new(utc("2026-11-23T05:00:00Z"));
    assert_eq!(c.now(), utc("2026-11-23T05:00:00Z"));
    c.advance(Duration::seconds(90));
    assert_eq!(c.now(), utc("2026-11-23T05:01:30Z"));
}
