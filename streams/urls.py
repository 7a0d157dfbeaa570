from django.urls import path
from rest_framework.routers import SimpleRouter

from streams import ingest_views
from streams.views import StreamViewSet

router = SimpleRouter()
router.register("streams", StreamViewSet, basename="stream")

urlpatterns = router.urls

# The media servers' hooks (livestream/urls.py mounts them at /ingest/, outside /api/).
ingest_urlpatterns = [
    path("nginx-rtmp/", ingest_views.nginx_rtmp, name="ingest-nginx-rtmp"),
    path("srs/", ingest_views.srs, name="ingest-srs"),
    path("mediamtx/", ingest_views.mediamtx, name="ingest-mediamtx"),
]
