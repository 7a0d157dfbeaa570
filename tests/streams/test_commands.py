"""``end_stream``, ``list_streams`` and ``create_stream``, in-process and as real processes."""

from __future__ import annotations

import subprocess
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from audit.models import ModerationRecord
from streams.models import END_STREAM, Stream
from tests.support import run_manage_py


def run(*args: str, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def run_process(*args: str) -> subprocess.CompletedProcess:
    return run_manage_py(*args)


@pytest.mark.django_db
class TestEndStream:
    def test_ends_a_live_stream_with_a_reason(self, make_stream):
        stream = make_stream()
        out = run("end_stream", str(stream.pk), "--reason", "maintenance")
        assert f"Ended stream {stream.pk}" in out
        stream.refresh_from_db()
        assert (stream.status, stream.end_reason) == ("ended", "maintenance")
        record = ModerationRecord.objects.get()  # the operator's action is audited too
        assert (record.action, record.target_id, record.client_address) == (
            END_STREAM,
            str(stream.pk),
            "local",
        )

    def test_already_ended_is_reported_not_an_error(self, make_stream):
        stream = make_stream()
        stream.end(reason="first")
        out = run("end_stream", str(stream.pk), "--reason", "second")
        assert "had already ended" in out
        stream.refresh_from_db()
        assert stream.end_reason == "first"

    @pytest.mark.parametrize("stream_id", [str(uuid.uuid4()), "not-a-uuid"])
    def test_unknown_or_malformed_id_is_a_command_error(self, stream_id):
        with pytest.raises(CommandError, match="No stream with id"):
            run("end_stream", stream_id)


@pytest.mark.django_db
class TestListStreams:
    def test_table_of_all_streams(self, make_stream, make_user):
        live = make_stream(title="Live one", streamer=make_user("bob"))
        idle = make_stream(title="Idle one", live=False)
        lines = run("list_streams").splitlines()
        assert lines[0].split() == ["ID", "TITLE", "STREAMER", "STATUS", "VIEWERS"]
        assert len(lines) == 3
        assert lines[1].startswith(str(idle.pk)) and lines[2].startswith(str(live.pk))
        assert lines[2].split()[-3:] == ["bob", "live", "0"]

    def test_filter_by_status(self, make_stream):
        make_stream(title="Live one")
        make_stream(title="Idle one", live=False)
        out = run("list_streams", "--status", "idle")
        assert "Idle one" in out and "Live one" not in out

    def test_long_titles_are_cut(self, make_stream):
        make_stream(title="x" * 100)
        assert "x" * 29 + "…" in run("list_streams")

    def test_unknown_status_is_refused(self):
        with pytest.raises(CommandError):
            run("list_streams", "--status", "paused")


@pytest.mark.django_db
class TestCreateStream:
    def test_creates_an_idle_stream(self, user):
        out = run("create_stream", "--username", user.username, "--title", "Show")
        stream = Stream.objects.get()
        assert (stream.streamer, stream.title, stream.status) == (user, "Show", "idle")
        assert f"id: {stream.pk}" in out and f"stream_key: {stream.stream_key}" in out

    def test_start_goes_live(self, user):
        run("create_stream", "--username", user.username, "--title", "Show", "--start")
        assert Stream.objects.get().is_live

    def test_unknown_user_is_a_command_error(self, db):
        with pytest.raises(CommandError, match="No user named"):
            run("create_stream", "--username", "ghost", "--title", "Show")
        assert not Stream.objects.exists()


@pytest.mark.django_db(transaction=True)
class TestAsProcesses:
    def test_end_stream(self, make_stream):
        stream = make_stream()
        result = run_process("end_stream", str(stream.pk), "--reason", "from a terminal")
        assert result.returncode == 0, result.stderr
        assert f"Ended stream {stream.pk}" in result.stdout
        stream.refresh_from_db()
        assert (stream.status, stream.end_reason) == ("ended", "from a terminal")

        again = run_process("end_stream", str(stream.pk))
        assert again.returncode == 0, again.stderr
        assert "had already ended" in again.stdout

    @pytest.mark.parametrize("stream_id", [str(uuid.uuid4()), "not-a-uuid"])
    def test_end_unknown_stream_exits_1(self, stream_id):
        result = run_process("end_stream", stream_id)
        assert result.returncode == 1
        assert "No stream with id" in result.stderr
        assert "Traceback" not in result.stderr

    def test_create_then_list(self, user):
        created = run_process("create_stream", "--username", "alice", "--title", "CLI", "--start")
        assert created.returncode == 0, created.stderr
        stream = Stream.objects.get()
        assert stream.is_live and f"stream_key: {stream.stream_key}" in created.stdout

        listed = run_process("list_streams", "--status", "live")
        assert listed.returncode == 0, listed.stderr
        assert str(stream.pk) in listed.stdout and "CLI" in listed.stdout
