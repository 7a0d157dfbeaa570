from django.apps import AppConfig


class StreamsConfig(AppConfig):
    name = "streams"
    verbose_name = "Streams"

    def ready(self) -> None:
        from streams import events, receivers  # noqa: F401  (registers handlers)
