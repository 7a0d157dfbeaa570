"""Create benchmark users and live streams in OUR Django project; print tokens as JSON.

Run inside the bench environment (see ``benchenv.django_env``), after ``migrate``::

    python bench/django_fixture.py --users 3000 --streams 3

Users are ``bench-00000``... with unusable passwords (tokens need none) and are reused
across runs; streams are created and started fresh each time so every scenario gets an
empty room. Output: ``{"tokens": [...], "stream_ids": [...], "streamer_token": "..."}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--streams", type=int, default=3)
    args = parser.parse_args()

    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livestream.settings")
    import django

    django.setup()

    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from rest_framework_simplejwt.tokens import AccessToken

    from streams.models import Stream

    user_model = get_user_model()
    names = [f"bench-{i:05d}" for i in range(args.users)]
    existing = set(
        user_model.objects.filter(username__startswith="bench-").values_list("username", flat=True)
    )
    unusable = make_password(None)
    user_model.objects.bulk_create(
        [user_model(username=name, password=unusable) for name in names if name not in existing],
        batch_size=500,
    )
    by_name = dict(user_model.objects.filter(username__in=names).values_list("username", "pk"))
    users = {u.pk: u for u in user_model.objects.filter(pk__in=by_name.values())}
    tokens = [str(AccessToken.for_user(users[by_name[name]])) for name in names]

    streamer, _ = user_model.objects.get_or_create(
        username="bench-streamer", defaults={"password": unusable}
    )
    stream_ids = []
    for n in range(args.streams):
        stream = Stream.objects.create(streamer=streamer, title=f"bench {n}")
        stream.start()
        stream_ids.append(str(stream.pk))
    json.dump(
        {
            "tokens": tokens,
            "stream_ids": stream_ids,
            "streamer_token": str(AccessToken.for_user(streamer)),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
