from django.urls import path

from . import channel_views, views

app_name = "provisioning"
urlpatterns = [
    path("requests/", views.RequestListView.as_view(), name="request_list"),
    path("requests/new/<int:offering_pk>/", views.RequestCreateView.as_view(), name="request_create"),
    path("requests/new/<int:offering_pk>/estimate/", views.RequestEstimateView.as_view(), name="request_estimate"),
    path("requests/<int:pk>/", views.RequestDetailView.as_view(), name="request_detail"),
    # Before the actions' pattern, whose <slug:action> would take "live" too.
    path("requests/<int:pk>/live/", views.RequestLiveView.as_view(), name="request_live"),
    path("requests/<int:pk>/<slug:action>/", views.RequestActionView.as_view(), name="request_action"),
    path("runs/<int:pk>/log/", views.RunLogView.as_view(), name="run_log"),
    path("approvals/", views.ApprovalInboxView.as_view(), name="approval_inbox"),
    path("instances/", views.InstanceListView.as_view(), name="instance_list"),
    path("instances/decommission/", views.InstanceBulkDecommissionView.as_view(), name="instance_bulk_decommission"),
    path("instances/<int:pk>/", views.InstanceDetailView.as_view(), name="instance_detail"),
    path("instances/<int:pk>/live/", views.InstanceLiveView.as_view(), name="instance_live"),
    # Before the day-2 pattern, whose <slug:kind> would take "drift-check" too.
    path("instances/<int:pk>/drift-check/", views.InstanceDriftCheckView.as_view(), name="instance_drift_check"),
    path("instances/<int:pk>/drift/<slug:action>/", views.InstanceDriftActionView.as_view(), name="instance_drift_action"),
    path("instances/<int:pk>/<slug:kind>/", views.InstanceChangeView.as_view(), name="instance_change"),
    path("capacity/", views.CapacityView.as_view(), name="capacity"),
    path("overview/", views.OverviewView.as_view(), name="overview"),
    path("showback/", views.ShowbackView.as_view(), name="showback"),
    path("operations/", views.OperationsView.as_view(), name="operations"),
    path("operations/runs/<int:pk>/reconcile/", views.RunReconcileView.as_view(), name="run_reconcile"),
    path("operations/runs/<int:pk>/recheck/", views.RunRecheckView.as_view(), name="run_recheck"),
    path("operations/findings/<int:pk>/adopt/", views.FindingAdoptView.as_view(), name="finding_adopt"),
    path("inbox/", views.NotificationListView.as_view(), name="notification_list"),
    path("inbox/read-all/", views.NotificationMarkAllReadView.as_view(), name="notification_mark_all_read"),
    path("inbox/<int:pk>/open/", views.NotificationOpenView.as_view(), name="notification_open"),
    path("inbox/channels/", channel_views.NotificationChannelsView.as_view(), name="notification_channels"),
    path("inbox/channels/new/", channel_views.NotificationChannelCreateView.as_view(), name="notification_channel_create"),
    path(
        "inbox/channels/<int:pk>/<slug:action>/", channel_views.NotificationChannelActionView.as_view(),
        name="notification_channel_action",
    ),
    path("approve-link/<str:token>/", channel_views.ApprovalLinkView.as_view(), name="approval_link"),
]
