from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from notifications.services import notify


class Command(BaseCommand):
    help = "Notify a user; their connected sockets get it at once."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--kind", required=True)
        parser.add_argument("--message", required=True)

    def handle(self, *args, username: str, kind: str, message: str, **options) -> None:
        User = get_user_model()
        try:
            recipient = User.objects.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        notification = notify(recipient, kind, {"message": message})
        self.stdout.write(f"Sent notification {notification.pk} to {username}.")
