"""The law's retention dates, counted from an item's intake to the instant: the first review after 30 years, then
one every 5 years, and the end after 50 years (law Art. 10/2 §1; AR Art. 5 §1-2)."""

from __future__ import annotations

from datetime import datetime

FIRST_REVIEW_YEARS = 30  # AR Art. 5 §1, law Art. 10/2 §1 al. 2: the need to keep is examined after 30 years
REVIEW_EVERY_YEARS = 5  # AR Art. 5 §2 al. 2, law Art. 10/2 §1 al. 2: and again every 5 years
END_YEARS = 50  # law Art. 10/2 §1 al. 1 and §2: never kept beyond 50 years from the day of intake


def years_after(moment: datetime, years: int) -> datetime:
    """The same instant *years* calendar years on; 29 February falls on 28 February (never after the law's date)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def end(intake: datetime) -> datetime:
    """When the item is erased at the latest."""
    return years_after(intake, END_YEARS)


def reviews(intake: datetime) -> list[datetime]:
    """Every ordinary review: 30, 35, 40 and 45 years on (at 50 the end comes, with no review)."""
    return [years_after(intake, n) for n in range(FIRST_REVIEW_YEARS, END_YEARS, REVIEW_EVERY_YEARS)]


def next_review(intake: datetime, after: datetime) -> datetime | None:
    """The first ordinary review strictly after *after*, or None when only the end remains.

    Reviews stay on the intake's calendar: a review decided late, or brought forward by an early-review trigger,
    does not move the ones after it (a keep before 30 years leaves the 30-year review in place)."""
    return next((moment for moment in reviews(intake) if moment > after), None)
