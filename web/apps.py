from django.apps import AppConfig


class WebConfig(AppConfig):
    """The viewer and streamer pages: templates and static files over the public APIs."""

    name = "web"
    verbose_name = "Web pages"
