from django.apps import AppConfig


class StreamsConfig(AppConfig):
    name = "streams"
    verbose_name = "Streams"

    def ready(self) -> None:
        from livestream.metrics import register_scrape_collector
        from streams import events, receivers  # noqa: F401  (registers handlers)
        from streams.metrics import LiveStreamsCollector

        register_scrape_collector(LiveStreamsCollector())
