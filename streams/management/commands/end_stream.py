from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from audit.services import moderation_records
from streams.models import END_STREAM, Stream


class Command(BaseCommand):
    help = "End a stream: its viewers are told and disconnected."

    def add_arguments(self, parser) -> None:
        parser.add_argument("stream_id")
        parser.add_argument("--reason", default="", help="Shown to the viewers.")

    def handle(self, *args, stream_id: str, reason: str, **options) -> None:
        try:
            stream = Stream.objects.get(pk=stream_id)
        except (Stream.DoesNotExist, ValidationError):
            raise CommandError(f"No stream with id {stream_id!r}.") from None
        if stream.end(reason=reason):
            moderation_records(actor=None, action=END_STREAM, targets=[stream], detail=reason)
            self.stdout.write(self.style.SUCCESS(f"Ended stream {stream.pk} ({stream.title})."))
        else:
            self.stdout.write(f"Stream {stream.pk} had already ended.")
