from django.apps import AppConfig
from django.conf import settings


class LivestreamConfig(AppConfig):
    name = "livestream"
    verbose_name = "Livestream"

    def ready(self) -> None:
        if settings.EMBEDDED_REDIS_DIR is not None:
            from livestream import embedded_redis

            embedded_redis.ensure_running(settings.EMBEDDED_REDIS_DIR)
