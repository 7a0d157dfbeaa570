"""``send_notification``: in-process and as a real process."""

from __future__ import annotations

import subprocess
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from notifications.models import Notification
from tests.support import ROOT, child_env, manage_py


@pytest.mark.django_db
def test_sends_a_notification(user, django_capture_on_commit_callbacks, monkeypatch):
    pushed = []
    monkeypatch.setattr(
        "notifications.services.emit_to_room_sync", lambda room, event, data: pushed.append(room)
    )
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "send_notification",
            "--username",
            "alice",
            "--kind",
            "system",
            "--message",
            "Maintenance at 5",
            stdout=out,
        )
    notification = Notification.objects.get()
    assert (notification.recipient, notification.kind) == (user, "system")
    assert notification.data == {"message": "Maintenance at 5"}
    assert f"Sent notification {notification.pk} to alice" in out.getvalue()
    assert pushed == [f"notification:{user.pk}"]


@pytest.mark.django_db
def test_unknown_user_is_a_command_error():
    with pytest.raises(CommandError, match="No user named"):
        call_command("send_notification", "--username", "ghost", "--kind", "k", "--message", "m")


@pytest.mark.django_db(transaction=True)
def test_as_a_process(user):
    result = subprocess.run(
        manage_py("send_notification", "--username", "alice", "--kind", "k", "--message", "hi"),
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert Notification.objects.get().data == {"message": "hi"}
