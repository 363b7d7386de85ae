from django.urls import path

from . import views

app_name = "provisioning"
urlpatterns = [
    path("requests/", views.RequestListView.as_view(), name="request_list"),
    path("requests/new/<int:offering_pk>/", views.RequestCreateView.as_view(), name="request_create"),
    path("requests/<int:pk>/", views.RequestDetailView.as_view(), name="request_detail"),
    path("requests/<int:pk>/<slug:action>/", views.RequestActionView.as_view(), name="request_action"),
    path("runs/<int:pk>/log/", views.RunLogView.as_view(), name="run_log"),
    path("approvals/", views.ApprovalInboxView.as_view(), name="approval_inbox"),
    path("instances/", views.InstanceListView.as_view(), name="instance_list"),
    path("instances/<int:pk>/", views.InstanceDetailView.as_view(), name="instance_detail"),
    path("instances/<int:pk>/<slug:kind>/", views.InstanceChangeView.as_view(), name="instance_change"),
    path("inbox/", views.NotificationListView.as_view(), name="notification_list"),
    path("inbox/<int:pk>/open/", views.NotificationOpenView.as_view(), name="notification_open"),
]
