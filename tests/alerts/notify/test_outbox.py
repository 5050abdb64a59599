"""The outbox's rules without a loop: notices as entries and back, digests, the backoff with
full jitter, what an attempt's answer does to an entry."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from alerts.notify.model import Delivery, Notice, NoticeKind
from alerts.notify.outbox import (
    RetryPolicy,
    digest_key,
    digest_of,
    entry_for,
    mergeable,
    notice_of,
    outcome_of,
)
from core.records import DeliveryOutcome, OutboxState, Severity
from tests.alerts.notify.conftest import NOW, fridge_facts, make_notice


def warning(alert_id: int, **changes: object) -> Notice:
    facts = fridge_facts(alert_id=alert_id, severity=Severity.WARNING, device=f"fridge-{alert_id}")
    return replace(make_notice(facts, key=f"n-{alert_id}"), **changes)  # type: ignore[arg-type]


def test_a_notice_survives_the_round_trip_through_its_entry() -> None:
    notice = replace(
        make_notice(),
        told_before=("cook",),
        unacknowledged_since=NOW,
        addresses=("cook@school.example",),
        level=1,
        kind=NoticeKind.ESCALATED,
    )
    entry = entry_for(notice, NOW)
    assert entry.key == notice.key and entry.channel == "kitchen-robot"
    assert entry.critical and entry.alert_ids == (42,) and entry.kind == "escalated"
    assert entry.state is OutboxState.PENDING and entry.attempts == 0
    assert notice_of(entry) == notice  # ack_links keys come back as ints, instants as UTC


def test_digest_carries_every_alert_once_for_everyone_under_a_stable_key() -> None:
    first = warning(1, recipients=("cook",))
    again = warning(1, key="n-1-reminder", kind=NoticeKind.REMINDER, created_at=NOW + timedelta(1))
    second = warning(2, recipients=("manager",), level=1)
    digest = digest_of([second, again, first], NOW)
    assert digest.kind is NoticeKind.DIGEST and digest.channel == "kitchen-robot"
    assert [a.alert_id for a in digest.alerts] == [2, 1]  # newest facts about alert 1 last
    # In the order the notices were made (ties as given), each person once.
    assert digest.recipients == ("manager", "cook", "cook-on-duty") and digest.level == 1
    assert set(digest.ack_links) == {1, 2}
    assert digest.key == digest_key(["n-1", "n-1-reminder", "n-2"])
    assert digest.key == digest_of([first, second, again], NOW).key
    assert digest.key != digest_of([first, second], NOW).key
    with pytest.raises(ValueError, match="at least one"):
        digest_of([], NOW)


def test_only_untried_non_critical_notices_of_one_language_and_address_set_merge() -> None:
    entries = [
        entry_for(warning(1), NOW),
        entry_for(warning(2), NOW),
        entry_for(make_notice(key="critical"), NOW),  # critical: never merged
        replace(entry_for(warning(3), NOW), attempts=1),  # may have arrived: keeps its key
        entry_for(warning(4, lang="en"), NOW),  # alone in English: no digest of one
        entry_for(warning(5, addresses=("a@x.cn",)), NOW),
        entry_for(warning(6, addresses=("b@x.cn",)), NOW),
    ]
    groups = mergeable(entries)
    assert [[e.key for e in g] for g in groups] == [["n-1", "n-2"]]


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 6])
def test_backoff_is_full_jitter_under_an_exponential_ceiling(attempt: int) -> None:
    policy = RetryPolicy(base_s=5, cap_s=60, max_attempts=10)
    ceiling = min(60.0, 5 * 2 ** (attempt - 1))  # 5, 10, 20, 40, 60, 60
    assert policy.ceiling_s(attempt) == ceiling
    rng = random.Random(attempt)
    delays = [policy.delay_s(attempt, rng, None) for _ in range(2000)]
    assert all(0 <= d <= ceiling for d in delays)
    # Full jitter spreads over the whole range, not only near the ceiling.
    assert min(delays) < 0.05 * ceiling and max(delays) > 0.95 * ceiling


def test_retry_after_is_a_floor_and_huge_attempt_numbers_stay_at_the_cap() -> None:
    policy = RetryPolicy(base_s=1, cap_s=10, max_attempts=3)
    rng = random.Random(1)
    assert all(policy.delay_s(1, rng, 120.0) == 120.0 for _ in range(50))
    assert policy.ceiling_s(5000) == 10


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base_s": 0}, "base_s must be > 0"),
        ({"base_s": 10, "cap_s": 5}, "cap_s"),
        ({"max_attempts": 0}, "max_attempts must be >= 1"),
    ],
)
def test_retry_policy_refuses_nonsense(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def attempt(  # type: ignore[type-arg]
    delivery: Delivery,
    attempts_before: int = 0,
    max_attempts: int = 3,
    rate_limited_before: int = 0,
) -> tuple:
    entry = replace(
        entry_for(make_notice(), NOW), attempts=attempts_before, rate_limited=rate_limited_before
    )
    later = NOW + timedelta(seconds=2)
    result = outcome_of(
        entry,
        delivery,
        started=NOW,
        now=later,
        latency_ms=12.3456,
        policy=RetryPolicy(base_s=10, cap_s=100, max_attempts=max_attempts),
        rng=random.Random(7),
    )
    return result.entry, result.log, later


def test_outcome_sent() -> None:
    entry, row, later = attempt(Delivery(ok=True, status=200))
    assert entry.state is OutboxState.SENT and entry.sent_at == later and entry.attempts == 1
    assert row.outcome is DeliveryOutcome.SENT and row.attempt == 1 and row.status == 200
    assert row.at == NOW and row.latency_ms == 12.346 and row.recipients == ("cook-on-duty",)
    assert row.alert_ids == (42,) and row.kind == "fired"


def test_outcome_retry_is_due_within_the_ceiling() -> None:
    entry, row, later = attempt(Delivery(ok=False, reason="HTTP 503", status=503), 1)
    assert entry.state is OutboxState.PENDING and entry.attempts == 2
    assert later <= entry.next_attempt_at <= later + timedelta(seconds=20)  # 10 * 2**1
    assert entry.last_error == "HTTP 503"
    assert row.outcome is DeliveryOutcome.RETRY and row.attempt == 2


def test_outcome_permanent_fails_at_once() -> None:
    entry, row, _ = attempt(Delivery(ok=False, reason="errcode 93000: bad key", permanent=True))
    assert entry.state is OutboxState.FAILED and entry.attempts == 1
    assert entry.last_error == "refused for good: errcode 93000: bad key"
    assert row.outcome is DeliveryOutcome.FAILED


def test_outcome_last_attempt_fails_with_the_count() -> None:
    entry, row, _ = attempt(Delivery(ok=False, reason="HTTP 502"), attempts_before=2)
    assert entry.state is OutboxState.FAILED
    assert entry.last_error == "gave up after 3 attempts: HTTP 502"
    assert row.outcome is DeliveryOutcome.FAILED and row.attempt == 3


def test_outcome_rate_limited_tries_count_against_no_limit() -> None:
    limited = Delivery(ok=False, reason="WeCom error 45009 (rate limited)", retry_after_s=60.0)
    entry, row, _ = attempt(limited, attempts_before=10, rate_limited_before=9)
    assert (entry.state, entry.attempts, entry.rate_limited) == (OutboxState.PENDING, 11, 10)
    assert row.attempt == 11  # the delivery log numbers every try


def test_outcome_a_blip_after_many_rate_limits_is_retried_not_failed() -> None:
    # Ten tries refused by a rate limit, then one 500: the first try that counts (of 3).
    entry, row, later = attempt(
        Delivery(ok=False, reason="HTTP 500", status=500), 10, rate_limited_before=10
    )
    assert (entry.state, entry.attempts, entry.rate_limited) == (OutboxState.PENDING, 11, 10)
    assert later <= entry.next_attempt_at <= later + timedelta(seconds=10)  # base_s * 2**0
    assert row.outcome is DeliveryOutcome.RETRY and row.attempt == 11


def test_outcome_gives_up_after_the_counted_tries_and_names_the_rate_limited() -> None:
    entry, row, _ = attempt(Delivery(ok=False, reason="HTTP 502"), 12, rate_limited_before=10)
    assert entry.state is OutboxState.FAILED
    assert entry.last_error == "gave up after 3 attempts (and 10 refused by a rate limit): HTTP 502"
    assert row.outcome is DeliveryOutcome.FAILED and row.attempt == 13


def test_outcome_a_rate_limit_on_the_last_attempt_is_waited_for() -> None:
    limited = Delivery(ok=False, reason="WeCom error 45009 (rate limited)", retry_after_s=60.0)
    entry, row, later = attempt(limited, attempts_before=2)
    assert entry.state is OutboxState.PENDING and entry.attempts == 3
    assert entry.next_attempt_at >= later + timedelta(seconds=60)
    assert row.outcome is DeliveryOutcome.RETRY
