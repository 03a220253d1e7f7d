"""The statistics behind "tickets prevented": pure functions on counts, no database.

The interval for a difference of two proportions is Newcombe's hybrid score interval (method 10 in
R. G. Newcombe, "Interval estimation for the difference between independent proportions: comparison of
eleven methods", Statistics in Medicine 17:873-890, 1998). It is built from each group's Wilson score
interval, so unlike the textbook Wald interval it stays inside [-1, 1] and keeps close to 95% coverage
when contact rates are small (a few per cent) and a holdout group is a tenth of the treated one: exactly
the situation of a playbook's holdout.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import sqrt

from .constants import MIN_EXPECTED_COUNT, MIN_ORDERS_PER_GROUP, Z_95


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def wilson_interval(successes: int, trials: int, *, z: float = Z_95) -> Interval:
    """Wilson's score interval for one proportion successes/trials (without continuity correction)."""
    if trials <= 0:
        raise ValueError("A proportion needs at least one trial.")
    if not 0 <= successes <= trials:
        raise ValueError(f"{successes} successes out of {trials} trials is impossible.")
    p = successes / trials
    z2 = z * z
    centre = p + z2 / (2 * trials)
    half_width = z * sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    denominator = 1 + z2 / trials
    return Interval((centre - half_width) / denominator, (centre + half_width) / denominator)


def newcombe_difference_interval(
    successes_1: int, trials_1: int, successes_2: int, trials_2: int, *, z: float = Z_95
) -> Interval:
    """Newcombe's hybrid score interval for p1 - p2 (p1 = successes_1/trials_1, p2 likewise)."""
    p1, p2 = successes_1 / trials_1, successes_2 / trials_2
    one, two = wilson_interval(successes_1, trials_1, z=z), wilson_interval(successes_2, trials_2, z=z)
    difference = p1 - p2
    return Interval(
        difference - sqrt((p1 - one.low) ** 2 + (two.high - p2) ** 2),
        difference + sqrt((one.high - p1) ** 2 + (p2 - two.low) ** 2),
    )


def too_few_to_tell(successes_1: int, trials_1: int, successes_2: int, trials_2: int) -> bool:
    """Whether two groups are too small to compare their proportions honestly.

    True with fewer than MIN_ORDERS_PER_GROUP in either group, or when any cell of the 2x2 table
    (contacted / not contacted, per group) expects fewer than MIN_EXPECTED_COUNT orders under the
    pooled rate: a rare outcome needs more orders before a difference means anything.
    """
    if min(trials_1, trials_2) < MIN_ORDERS_PER_GROUP:
        return True
    pooled = (successes_1 + successes_2) / (trials_1 + trials_2)
    expected = [n * share for n in (trials_1, trials_2) for share in (pooled, 1 - pooled)]
    return min(expected) < MIN_EXPECTED_COUNT
