from rest_framework.routers import SimpleRouter

from .views import CloudViewSet, OfferingViewSet, ServiceViewSet

router = SimpleRouter()
router.register("clouds", CloudViewSet, basename="cloud")
router.register("services", ServiceViewSet, basename="service")
router.register("offerings", OfferingViewSet, basename="offering")
urlpatterns = router.urls
