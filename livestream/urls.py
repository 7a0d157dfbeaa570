from django.contrib import admin
from django.urls import include, path

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
    # Media-server hooks: secret-guarded, not part of the public API.
    path("ingest/", include(ingest_urlpatterns)),
]
