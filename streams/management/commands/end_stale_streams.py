from django.core.management.base import BaseCommand

from streams.ingest import ingest_sweep


class Command(BaseCommand):
    help = (
        "End live streams whose encoder left longer ago than the reconnect grace, "
        "or whose media server stopped reporting (for cron, after restarts)."
    )

    def handle(self, *args, **options) -> None:
        ended = ingest_sweep()
        self.stdout.write(f"Ended {ended} stale stream(s).")
