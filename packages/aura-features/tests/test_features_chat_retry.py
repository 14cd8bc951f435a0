"""The chat retry queue: AMP's schedule, without scanning everything pending."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from aura_features.chat.retry_queue import RetryQueue
from aura_protocol.amp import RetryPolicy


def test_backoff_acknowledgement_and_the_return_of_a_recipient():
    queue = RetryQueue(RetryPolicy(initial_s=1.0, max_s=8.0, jitter=0.0))
    for generation in range(4):
        queue.add(1, generation, f"m{generation}".encode(), now=0.0)
    assert queue.next_due() == 1.0
    assert queue.due(0.5) == ([], [])
    assert queue.due(1.0)[0] == [b"m0", b"m1", b"m2", b"m3"]
    assert queue.next_due() == 3.0  # 1 s, then 2 s
    assert queue.acknowledge(1, 2, (3,), now=1.5) == []  # m0, m1, m3 arrived; m2 was just sent
    assert len(queue) == 1 and (1, 2) in queue
    assert queue.acknowledge(1, 0, (), now=2.6) == [b"m2"]  # reachable again: resend at once
    assert queue.drop_epoch(1) == [(1, 2)]
    assert len(queue) == 0 and queue.next_due() is None


def test_an_attempt_limit_gives_up():
    queue = RetryQueue(RetryPolicy(initial_s=1.0, jitter=0.0, max_attempts=2))
    queue.add(3, 0, b"x", now=0.0)
    assert queue.due(1.0) == ([b"x"], [])
    assert queue.due(10.0) == ([], [(3, 0)])
    assert len(queue) == 0


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("add"), st.integers(1, 3)),
            st.tuples(
                st.just("ack"),
                st.integers(1, 3),
                st.integers(0, 40),
                st.lists(st.integers(0, 40), max_size=3),
            ),
            st.tuples(st.just("wait"), st.floats(0.1, 30.0)),
            st.tuples(st.just("drop"), st.integers(1, 3)),
        ),
        max_size=60,
    )
)
def test_pending_is_exactly_what_was_added_and_not_acknowledged(steps):
    queue = RetryQueue(RetryPolicy(initial_s=1.0, max_s=10.0))
    model: set[tuple[int, int]] = set()
    next_generation = {1: 0, 2: 0, 3: 0}
    now = 0.0
    for step in steps:
        if step[0] == "add":
            epoch = step[1]
            key = (epoch, next_generation[epoch])
            next_generation[epoch] += 1
            queue.add(*key, f"{key[0]}:{key[1]}".encode(), now)
            model.add(key)
        elif step[0] == "ack":
            _kind, epoch, below, also = step
            queue.acknowledge(epoch, below, tuple(sorted({g for g in also if g >= below})), now)
            model -= {k for k in model if k[0] == epoch and (k[1] < below or k[1] in also)}
        elif step[0] == "wait":
            now += step[1]
            sent, failed = queue.due(now)
            assert not failed
            resent = {tuple(int(x) for x in p.decode().split(":")) for p in sent}
            assert resent <= model  # only what is still unacknowledged
        else:
            queue.drop_epoch(step[1])
            model -= {k for k in model if k[0] == step[1]}
        assert {k for k in model if k in queue} == model and len(queue) == len(model)
        assert (queue.next_due() is None) == (not model)


def test_slow_acknowledgements_stretch_the_timeout_instead_of_causing_resends():
    queue = RetryQueue(RetryPolicy(initial_s=1.0, max_s=60.0, jitter=0.0))
    assert queue.timeout_s == 1.0
    now = 0.0
    for generation in range(20):  # a recipient that acknowledges 4 s after each message
        queue.add(1, generation, b"m", now)
        if generation >= 4:
            # with the old fixed 1 s rule each ack would resend the 3 still in flight
            assert queue.acknowledge(1, generation - 3, (), now) == []
        now += 1.0
    assert queue.timeout_s == 12.0  # three times the measured 4 s
    assert len(queue) == 4
    assert queue.next_due() == 16.0 + 12.0  # the oldest in flight waits out the measured delay
    assert queue.due(now) == ([], [])
