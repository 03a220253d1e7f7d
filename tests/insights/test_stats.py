"""The holdout statistics against published and hand-computed values."""

import pytest

from insights.stats import newcombe_difference_interval, too_few_to_tell, wilson_interval


@pytest.mark.parametrize(
    ("_case", "counts", "low", "high"),
    [
        # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 ("score, no CC").
        ("newcombe_example_a", (56, 70, 48, 80), 0.0524, 0.3339),
        ("newcombe_example_b", (9, 10, 3, 10), 0.1705, 0.8090),
        ("newcombe_example_d", (5, 56, 0, 29), -0.0381, 0.1926),
    ],
)
def test_it_matches_newcombes_published_intervals(_case, counts, low, high):
    interval = newcombe_difference_interval(*counts)

    assert (round(interval.low, 4), round(interval.high, 4)) == (low, high)


def test_it_builds_the_interval_from_each_groups_wilson_interval():
    # Holdout 9 of 30 contacted, treated 4 of 40. By hand, z = 1.96:
    #   Wilson 9/30 = (0.1666, 0.4788); Wilson 4/40 = (0.0396, 0.2305); difference 0.3 - 0.1 = 0.2
    #   low  = 0.2 - sqrt((0.3 - 0.1666)^2 + (0.2305 - 0.1)^2) = 0.2 - 0.1866 = 0.0134
    #   high = 0.2 + sqrt((0.4788 - 0.3)^2 + (0.1 - 0.0396)^2) = 0.2 + 0.1887 = 0.3887
    holdout, treated = wilson_interval(9, 30), wilson_interval(4, 40)
    assert (round(holdout.low, 4), round(holdout.high, 4)) == (0.1666, 0.4788)
    assert (round(treated.low, 4), round(treated.high, 4)) == (0.0396, 0.2305)

    interval = newcombe_difference_interval(9, 30, 4, 40)

    assert (round(interval.low, 4), round(interval.high, 4)) == (0.0134, 0.3887)


def test_the_interval_stays_within_minus_one_and_one_at_the_extremes():
    interval = newcombe_difference_interval(30, 30, 0, 30)

    assert -1 <= interval.low <= interval.high <= 1


@pytest.mark.parametrize(
    ("_case", "counts", "too_few"),
    [
        ("enough_orders_and_contacts", (9, 30, 4, 40), False),
        ("holdout_under_30_orders", (9, 29, 4, 40), True),
        ("treated_under_30_orders", (9, 30, 4, 29), True),
        # 3 contacts in 200 orders: each group expects 1.5 contacted orders, under 5.
        ("rare_contacts_expect_under_5", (1, 100, 2, 100), True),
        ("rare_contacts_with_enough_orders", (10, 300, 5, 300), False),
        # Everyone contacted: no not-contacted orders expected.
        ("everyone_contacted", (40, 40, 40, 40), True),
    ],
)
def test_it_says_when_there_are_too_few_orders_to_tell(_case, counts, too_few):
    assert too_few_to_tell(*counts) is too_few


def test_a_proportion_needs_trials():
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
