"""``/api/notifications/``: each user reads and marks their own notifications only."""

from __future__ import annotations

import pytest

from livestream.timefmt import iso_z
from notifications.models import Notification
from tests.support import api_client_for

pytestmark = pytest.mark.django_db

LIST = "/api/notifications/"


def read_url(notification_or_id) -> str:
    return f"/api/notifications/{getattr(notification_or_id, 'pk', notification_or_id)}/read/"


@pytest.fixture
def as_user(user):
    return api_client_for(user)


@pytest.fixture
def make_notification():
    def make(recipient, kind: str = "follow", **data) -> Notification:
        return Notification.objects.create(recipient=recipient, kind=kind, data=data)

    return make


def test_lists_own_notifications_newest_first(as_user, user, make_user, make_notification):
    older = make_notification(user, "follow", message="one")
    newer = make_notification(user, "mention", message="two")
    make_notification(make_user(), "follow", message="not yours")
    response = as_user.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["next"] is None and body["previous"] is None
    assert body["results"] == [
        {
            "id": str(n.pk),
            "kind": n.kind,
            "data": n.data,
            "createdAt": iso_z(n.created_at),
            "readAt": None,
        }
        for n in (newer, older)
    ]


def test_list_is_paginated(as_user, user, make_notification):
    for n in range(21):
        make_notification(user, message=str(n))
    body = as_user.get(LIST).json()
    assert (body["count"], len(body["results"])) == (21, 20)
    assert len(as_user.get(body["next"]).json()["results"]) == 1


def test_mark_read(as_user, user, make_notification):
    notification = make_notification(user)
    response = as_user.post(read_url(notification))
    assert response.status_code == 200
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert response.json()["readAt"] == iso_z(notification.read_at)
    assert response.json()["id"] == str(notification.pk)
    assert as_user.get(LIST).json()["results"][0]["readAt"] == iso_z(notification.read_at)


def test_marking_read_twice_keeps_the_first_time(as_user, user, make_notification):
    notification = make_notification(user)
    first = as_user.post(read_url(notification)).json()["readAt"]
    second = as_user.post(read_url(notification))
    assert second.status_code == 200
    assert second.json()["readAt"] == first


@pytest.mark.parametrize("target", ["others", "missing", "malformed"])
def test_others_unknown_and_malformed_are_404(as_user, make_user, make_notification, target):
    theirs = make_notification(make_user())
    notification_id = {"others": theirs.pk, "missing": theirs.pk + 1000, "malformed": "abc"}[target]
    assert as_user.post(read_url(notification_id)).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_requires_authentication(api_client, user, make_notification):
    notification = make_notification(user)
    assert api_client.get(LIST).status_code == 401
    assert api_client.post(read_url(notification)).status_code == 401


def test_read_is_post_only(as_user, user, make_notification):
    assert as_user.get(read_url(make_notification(user))).status_code == 405
