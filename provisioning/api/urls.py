from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import ApprovalInboxViewSet, InstanceViewSet, RequestViewSet, RunViewSet, ShowbackApi

router = SimpleRouter()
router.register("requests", RequestViewSet, basename="request")
router.register("approvals", ApprovalInboxViewSet, basename="approval")
router.register("runs", RunViewSet, basename="run")
router.register("instances", InstanceViewSet, basename="instance")
urlpatterns = [path("showback/", ShowbackApi.as_view(), name="api_showback"), *router.urls]
