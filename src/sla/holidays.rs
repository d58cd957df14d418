//! Swedish public holidays (allmänna helgdagar) and the eves municipalities close on, for any
//! year. Easter by the Gregorian computus (Meeus/Jones/Butcher); the rest are fixed dates or
//! "the first Saturday/Friday in a window" as the law (lag 1989:253) defines them.

use std::fmt;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

/// A holiday or holiday eve. Which of them close a calendar is the calendar's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holiday {
    Nyarsdagen,
    TrettondedagJul,
    Langfredagen,
    Paskafton,
    Paskdagen,
    AnnandagPask,
    ForstaMaj,
    KristiHimmelsfardsdag,
    Pingstdagen,
    Nationaldagen,
    Midsommarafton,
    Midsommardagen,
    AllaHelgonsDag,
    Julafton,
    Juldagen,
    AnnandagJul,
    Nyarsafton,
}

impl Holiday {
    pub const ALL: [Holiday; 17] = [
        Holiday::Nyarsdagen,
        Holiday::TrettondedagJul,
        Holiday::Langfredagen,
        Holiday::Paskafton,
        Holiday::Paskdagen,
        Holiday::AnnandagPask,
        Holiday::ForstaMaj,
        Holiday::KristiHimmelsfardsdag,
        Holiday::Pingstdagen,
        Holiday::Nationaldagen,
        Holiday::Midsommarafton,
        Holiday::Midsommardagen,
        Holiday::AllaHelgonsDag,
        Holiday::Julafton,
        Holiday::Juldagen,
        Holiday::AnnandagJul,
        Holiday::Nyarsafton,
    ];

    /// The key used in configuration, the database and the locale files (`holiday.<key>`).
    pub fn key(self) -> &'static str {
        match self {
            Holiday::Nyarsdagen => "nyarsdagen",
            Holiday::TrettondedagJul => "trettondedag_jul",
            Holiday::Langfredagen => "langfredagen",
            Holiday::Paskafton => "paskafton",
            Holiday::Paskdagen => "paskdagen",
            Holiday::AnnandagPask => "annandag_pask",
            Holiday::ForstaMaj => "forsta_maj",
            Holiday::KristiHimmelsfardsdag => "kristi_himmelsfardsdag",
            Holiday::Pingstdagen => "pingstdagen",
            Holiday::Nationaldagen => "nationaldagen",
            Holiday::Midsommarafton => "midsommarafton",
            Holiday::Midsommardagen => "midsommardagen",
            Holiday::AllaHelgonsDag => "alla_helgons_dag",
            Holiday::Julafton => "julafton",
            Holiday::Juldagen => "juldagen",
            Holiday::AnnandagJul => "annandag_jul",
            Holiday::Nyarsafton => "nyarsafton",
        }
    }

    pub fn parse(key: &str) -> Option<Holiday> {
        Holiday::ALL.into_iter().find(|h| h.key() == key.trim())
    }

    /// The date of this holiday in `year`.
    pub fn date(self, year: i32) -> NaiveDate {
        let ymd = |m, d| NaiveDate::from_ymd_opt(year, m, d).expect("a valid fixed date");
        let easter = easter_sunday(year);
        let from_easter = |days: i64| {
            if days >= 0 {
                easter + Days::new(days as u64)
            } else {
                easter - Days::new((-days) as u64)
            }
        };
        match self {
            Holiday::Nyarsdagen => ymd(1, 1),
            Holiday::TrettondedagJul => ymd(1, 6),
            Holiday::Langfredagen => from_easter(-2),
            Holiday::Paskafton => from_easter(-1),
            Holiday::Paskdagen => easter,
            Holiday::AnnandagPask => from_easter(1),
            Holiday::ForstaMaj => ymd(5, 1),
            Holiday::KristiHimmelsfardsdag => from_easter(39),
            Holiday::Pingstdagen => from_easter(49),
            Holiday::Nationaldagen => ymd(6, 6),
            // The Friday between 19 and 25 June; the Saturday between 20 and 26 June.
            Holiday::Midsommarafton => first_weekday_from(ymd(6, 19), Weekday::Fri),
            Holiday::Midsommardagen => first_weekday_from(ymd(6, 20), Weekday::Sat),
            // The Saturday between 31 October and 6 November.
            Holiday::AllaHelgonsDag => first_weekday_from(ymd(10, 31), Weekday::Sat),
            Holiday::Julafton => ymd(12, 24),
            Holiday::Juldagen => ymd(12, 25),
            Holiday::AnnandagJul => ymd(12, 26),
            Holiday::Nyarsafton => ymd(12, 31),
        }
    }

    /// The holidays that fall on `day` (two can share a date: Kristi himmelsfärdsdag on 1 May,
    /// Pingstdagen on 6 June), from a table of the years 1900–2199 made once; outside them
    /// computed.
    pub fn on(day: NaiveDate) -> impl Iterator<Item = Holiday> {
        use std::collections::HashMap;
        use std::sync::OnceLock;
        static TABLE: OnceLock<HashMap<NaiveDate, u32>> = OnceLock::new();
        let bits = if (1900..2200).contains(&day.year()) {
            let table = TABLE.get_or_init(|| {
                let mut t: HashMap<NaiveDate, u32> = HashMap::new();
                for year in 1900..2200 {
                    for (i, h) in Holiday::ALL.into_iter().enumerate() {
                        *t.entry(h.date(year)).or_default() |= 1 << i;
                    }
                }
                t
            });
            table.get(&day).copied().unwrap_or(0)
        } else {
            Holiday::ALL
                .into_iter()
                .enumerate()
                .filter(|(_, h)| h.date(day.year()) == day)
                .fold(0, |bits, (i, _)| bits | 1 << i)
        };
        Holiday::ALL
            .into_iter()
            .enumerate()
            .filter(move |(i, _)| bits & (1 << i) != 0)
            .map(|(_, h)| h)
    }

    /// Every holiday of `year` with its date, in date order.
    pub fn of_year(year: i32) -> Vec<(NaiveDate, Holiday)> {
        let mut v: Vec<_> = Holiday::ALL
            .into_iter()
            .map(|h| (h.date(year), h))
            .collect();
        v.sort();
        v
    }
}

impl fmt::Display for Holiday {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

fn first_weekday_from(d: NaiveDate, wd: Weekday) -> NaiveDate {
    let ahead = (7 + wd.num_days_from_monday() - d.weekday().num_days_from_monday()) % 7;
    d + Days::new(ahead as u64)
}

/// Easter Sunday in the Gregorian calendar (the anonymous algorithm, Meeus/Jones/Butcher).
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("computus gives a real date")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Easter Sunday 2000–2050 as published in almanacs (month, day).
    const EASTER: [(u32, u32); 51] = [
        (4, 23),
        (4, 15),
        (3, 31),
        (4, 20),
        (4, 11),
        (3, 27),
        (4, 16),
        (4, 8),
        (3, 23),
        (4, 12),
        (4, 4),
        (4, 24),
        (4, 8),
        (3, 31),
        (4, 20),
        (4, 5),
        (3, 27),
        (4, 16),
        (4, 1),
        (4, 21),
        (4, 12),
        (4, 4),
        (4, 17),
        (4, 9),
        (3, 31),
        (4, 20),
        (4, 5),
        (3, 28),
        (4, 16),
        (4, 1),
        (4, 21),
        (4, 13),
        (3, 28),
        (4, 17),
        (4, 9),
        (3, 25),
        (4, 13),
        (4, 5),
        (4, 25),
        (4, 10),
        (4, 1),
        (4, 21),
        (4, 6),
        (3, 29),
        (4, 17),
        (4, 9),
        (3, 25),
        (4, 14),
        (4, 5),
        (4, 18),
        (4, 10),
    ];

    #[test]
    fn easter_matches_the_almanac_2000_to_2050() {
        for (i, (m, d)) in EASTER.iter().enumerate() {
            let year = 2000 + i as i32;
            assert_eq!(
                easter_sunday(year),
                NaiveDate::from_ymd_opt(year, *m, *d).unwrap(),
                "Easter {year}"
            );
        }
    }

    #[test]
    fn movable_holidays_fall_on_their_weekdays_2000_to_2050() {
        for year in 2000..=2050 {
            let wd = |h: Holiday| h.date(year).weekday();
            assert_eq!(wd(Holiday::Langfredagen), Weekday::Fri, "{year}");
            assert_eq!(wd(Holiday::AnnandagPask), Weekday::Mon, "{year}");
            assert_eq!(wd(Holiday::KristiHimmelsfardsdag), Weekday::Thu, "{year}");
            assert_eq!(wd(Holiday::Pingstdagen), Weekday::Sun, "{year}");
            assert_eq!(wd(Holiday::Midsommarafton), Weekday::Fri, "{year}");
            assert_eq!(wd(Holiday::Midsommardagen), Weekday::Sat, "{year}");
            assert_eq!(wd(Holiday::AllaHelgonsDag), Weekday::Sat, "{year}");
            let mids = Holiday::Midsommarafton.date(year);
            assert!(
                (19..=25).contains(&mids.day()) && mids.month() == 6,
                "{year}"
            );
            assert_eq!(Holiday::Midsommardagen.date(year), mids.succ_opt().unwrap());
            let ahd = Holiday::AllaHelgonsDag.date(year);
            assert!(
                (ahd.month() == 10 && ahd.day() == 31) || (ahd.month() == 11 && ahd.day() <= 6),
                "{year}: {ahd}"
            );
        }
    }

    #[test]
    fn known_dates() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(Holiday::Midsommarafton.date(2026), d(2026, 6, 19));
        assert_eq!(Holiday::Midsommarafton.date(2027), d(2027, 6, 25));
        assert_eq!(Holiday::AllaHelgonsDag.date(2026), d(2026, 10, 31));
        assert_eq!(Holiday::AllaHelgonsDag.date(2025), d(2025, 11, 1));
        assert_eq!(Holiday::KristiHimmelsfardsdag.date(2026), d(2026, 5, 14));
        assert_eq!(Holiday::Langfredagen.date(2026), d(2026, 4, 3));
    }

    #[test]
    fn the_holidays_on_a_day_are_those_whose_date_it_is() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        // 2008: Kristi himmelsfärdsdag on 1 May; 2049: Pingstdagen on 6 June.
        let on = |day| Holiday::on(day).collect::<Vec<_>>();
        assert_eq!(
            on(d(2008, 5, 1)),
            [Holiday::ForstaMaj, Holiday::KristiHimmelsfardsdag]
        );
        assert_eq!(
            on(d(2049, 6, 6)),
            [Holiday::Pingstdagen, Holiday::Nationaldagen]
        );
        assert_eq!(on(d(2026, 6, 19)), [Holiday::Midsommarafton]);
        assert!(on(d(2026, 6, 18)).is_empty());
        // Outside the table the same answer is computed.
        assert_eq!(on(d(2300, 12, 25)), [Holiday::Juldagen]);
        for year in [1900, 2026, 2199] {
            for (date, h) in Holiday::of_year(year) {
                assert!(on(date).contains(&h), "{h} {date}");
            }
        }
    }

    #[test]
    fn keys_round_trip() {
        for h in Holiday::ALL {
            assert_eq!(Holiday::parse(h.key()), Some(h));
        }
        assert_eq!(Holiday::parse("lucia"), None);
    }
}
