from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from livestream.overview import overview
from streams.urls import ingest_urlpatterns

urlpatterns = [
    path("admin/overview/", admin.site.admin_view(overview), name="admin-overview"),
    path("admin/", admin.site.urls),
    path("api/", include("accounts.urls")),
    path("api/", include("streams.urls")),
    path("api/", include("chat.urls")),
    path("api/", include("notifications.urls")),
    path("api/", include("moderation.urls")),
    # The REST API's OpenAPI 3 document and its browsable forms (livestream/openapi.py).
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/schema/swagger-ui/",
        SpectacularSwaggerView.as_view(url_name="schema"),
        name="swagger-ui",
    ),
    path("api/schema/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="redoc"),
    # Media-server hooks: secret-guarded, not part of the public API.
    path("ingest/", include(ingest_urlpatterns)),
    # The viewer and streamer pages (web/).
    path("", include("web.urls")),
]
