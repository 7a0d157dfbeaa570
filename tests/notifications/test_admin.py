from __future__ import annotations

import pytest
from django.urls import reverse

from notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_changelist_search_and_change_page(client, staff, user, make_user):
    client.force_login(staff)
    mine = Notification.objects.create(recipient=user, kind="follow", data={"message": "hi"})
    Notification.objects.create(recipient=make_user("zed"), kind="mention")
    changelist = reverse("admin:notifications_notification_changelist")
    assert client.get(changelist).status_code == 200
    by_kind = client.get(changelist, {"q": "mention"}).content.decode()
    assert "zed" in by_kind and "alice" not in by_kind
    by_user = client.get(changelist, {"q": "alice"}).content.decode()
    assert "alice" in by_user and "zed" not in by_user
    change = client.get(reverse("admin:notifications_notification_change", args=[mine.pk]))
    assert change.status_code == 200
    assert client.get(reverse("admin:notifications_notification_add")).status_code == 403
