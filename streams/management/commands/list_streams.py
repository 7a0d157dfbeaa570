from django.core.management.base import BaseCommand

from streams.models import Stream
from streams.selectors import stream_list, stream_viewer_counts

TITLE_WIDTH = 30


class Command(BaseCommand):
    help = "List streams, newest first, with their viewers now."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--status", choices=Stream.Status.values)

    def handle(self, *args, status: str | None, **options) -> None:
        streams = list(stream_list(status=status))
        counts = stream_viewer_counts(streams=streams)
        row = f"{{:<36}}  {{:<{TITLE_WIDTH}}}  {{:<20}}  {{:<6}}  {{:>7}}"
        self.stdout.write(row.format("ID", "TITLE", "STREAMER", "STATUS", "VIEWERS"))
        for stream in streams:
            title = stream.title
            if len(title) > TITLE_WIDTH:
                title = title[: TITLE_WIDTH - 1] + "…"
            self.stdout.write(
                row.format(
                    str(stream.pk),
                    title,
                    stream.streamer.get_username(),
                    stream.status,
                    counts[str(stream.pk)],
                )
            )
