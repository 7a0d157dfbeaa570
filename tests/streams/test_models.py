"""The stream state machine: idle -> live -> ended, and ``stream_ended`` after commit."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from streams.models import Stream, StreamStateError


@pytest.fixture
def idle_stream(make_stream):
    return make_stream(live=False)


@pytest.mark.django_db
class TestStart:
    def test_new_stream_is_idle_with_a_key(self, idle_stream):
        assert idle_stream.status == Stream.Status.IDLE
        assert len(idle_stream.stream_key) >= 40
        assert idle_stream.started_at is None

    def test_start_goes_live(self, idle_stream):
        assert idle_stream.start() is True
        assert idle_stream.status == Stream.Status.LIVE
        assert idle_stream.started_at is not None
        assert Stream.objects.get(pk=idle_stream.pk).status == Stream.Status.LIVE

    def test_start_twice_is_a_no_op(self, idle_stream):
        idle_stream.start()
        started_at = idle_stream.started_at
        assert idle_stream.start() is False
        assert Stream.objects.get(pk=idle_stream.pk).started_at == started_at

    def test_start_after_end_is_refused(self, idle_stream):
        idle_stream.end()
        with pytest.raises(StreamStateError):
            idle_stream.start()
        assert Stream.objects.get(pk=idle_stream.pk).status == Stream.Status.ENDED

    def test_start_uses_the_database_state_not_a_stale_copy(self, idle_stream):
        Stream.objects.get(pk=idle_stream.pk).end()
        with pytest.raises(StreamStateError):
            idle_stream.start()


@pytest.mark.django_db
class TestEnd:
    def test_end_live_stream(self, make_stream):
        stream = make_stream()
        assert stream.end(reason="bye") is True
        stored = Stream.objects.get(pk=stream.pk)
        assert (stored.status, stored.end_reason) == (Stream.Status.ENDED, "bye")
        assert stored.ended_at is not None and stream.ended_at == stored.ended_at

    def test_end_idle_stream(self, idle_stream):
        assert idle_stream.end() is True
        assert idle_stream.status == Stream.Status.ENDED

    def test_end_twice_returns_false_and_keeps_first_reason(self, make_stream):
        stream = make_stream()
        stream.end(reason="first")
        assert stream.end(reason="second") is False
        assert Stream.objects.get(pk=stream.pk).end_reason == "first"

    def test_stale_copy_learns_it_had_ended(self, make_stream):
        stream = make_stream()
        Stream.objects.get(pk=stream.pk).end()
        assert stream.end() is False
        assert stream.status == Stream.Status.ENDED

    def test_long_reason_is_cut(self, make_stream):
        stream = make_stream()
        stream.end(reason="x" * 500)
        assert len(Stream.objects.get(pk=stream.pk).end_reason) == 200

    def test_regenerate_key_changes_the_stored_key(self, make_stream):
        stream = make_stream()
        old = stream.stream_key
        new = stream.regenerate_key()
        assert new != old
        assert Stream.objects.get(pk=stream.pk).stream_key == new


@pytest.mark.django_db(transaction=True)
class TestEndedSignal:
    def test_sent_once_after_commit(self, make_stream, ended_signals):
        stream = make_stream()
        with transaction.atomic():
            stream.end(reason="done")
            assert ended_signals == []
        assert ended_signals == [(str(stream.pk), "done")]

    def test_not_sent_when_the_transaction_rolls_back(self, make_stream, ended_signals):
        stream = make_stream()
        with pytest.raises(RuntimeError), transaction.atomic():
            stream.end()
            raise RuntimeError("abort")
        assert ended_signals == []
        assert Stream.objects.get(pk=stream.pk).status == Stream.Status.LIVE

    def test_not_sent_when_already_ended(self, make_stream, ended_signals):
        stream = make_stream()
        stream.end()
        stream.end()
        Stream.objects.get(pk=stream.pk).end()
        assert len(ended_signals) == 1

    def test_two_concurrent_ends_end_once(self, make_stream, ended_signals):
        stream = make_stream()
        barrier = threading.Barrier(2, timeout=10)
        results: list[bool] = []
        errors: list[BaseException] = []

        def end_in_thread() -> None:
            try:
                copy = Stream.objects.get(pk=stream.pk)
                barrier.wait()
                results.append(copy.end(reason="race"))
            except BaseException as exc:
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=end_in_thread) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not any(thread.is_alive() for thread in threads)
        assert errors == []
        assert sorted(results) == [False, True]
        assert ended_signals == [(str(stream.pk), "race")]
