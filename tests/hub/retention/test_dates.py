"""The law's dates (law Art. 10/2 §1; AR Art. 5 §1-2): reviews at 30, 35, 40 and 45 years, the end at 50, on
the intake's calendar; 29 February falls on 28 February, never later."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hub.retention import dates

INTAKE = datetime(2026, 12, 2, 9, 30, 15, 250000, tzinfo=timezone.utc)


def test_reviews_every_5_years_from_30_and_the_end_at_50():
    assert dates.reviews(INTAKE) == [INTAKE.replace(year=y) for y in (2056, 2061, 2066, 2071)]
    assert dates.end(INTAKE) == INTAKE.replace(year=2076)


def test_the_next_review_stays_on_the_intakes_calendar():
    """A keep decided early (a trigger), on time or late leads to the next review of the calendar; after the
    45-year review only the end remains."""
    assert dates.next_review(INTAKE, INTAKE + timedelta(days=3 * 365)) == INTAKE.replace(year=2056)
    assert dates.next_review(INTAKE, INTAKE.replace(year=2056)) == INTAKE.replace(year=2061)
    assert dates.next_review(INTAKE, INTAKE.replace(year=2057, month=2)) == INTAKE.replace(year=2061)
    assert dates.next_review(INTAKE, INTAKE.replace(year=2071)) is None


def test_29_february_falls_on_28_february():
    leap = datetime(2028, 2, 29, 23, 59, tzinfo=timezone.utc)
    assert dates.reviews(leap)[0] == datetime(2058, 2, 28, 23, 59, tzinfo=timezone.utc)
    assert dates.end(leap) == datetime(2078, 2, 28, 23, 59, tzinfo=timezone.utc)
    assert dates.years_after(leap, 4) == datetime(2032, 2, 29, 23, 59, tzinfo=timezone.utc)
