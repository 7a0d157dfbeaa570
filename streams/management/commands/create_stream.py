from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from streams.services import stream_create


class Command(BaseCommand):
    help = "Create a stream for a user and print its id and stream key."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--title", required=True)
        parser.add_argument("--start", action="store_true", help="Go live at once.")

    def handle(self, *args, username: str, title: str, start: bool, **options) -> None:
        User = get_user_model()
        try:
            streamer = User.objects.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        stream = stream_create(streamer=streamer, title=title)
        if start:
            stream.start()
        self.stdout.write(f"id: {stream.pk}")
        self.stdout.write(f"stream_key: {stream.stream_key}")
        self.stdout.write(f"status: {stream.status}")
