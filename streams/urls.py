from rest_framework.routers import SimpleRouter

from streams.views import StreamViewSet

router = SimpleRouter()
router.register("streams", StreamViewSet, basename="stream")

urlpatterns = router.urls
