from django.urls import path

from . import views

app_name = "catalogue"
urlpatterns = [
    path("", views.CatalogueView.as_view(), name="index"),
    path("offerings/<int:pk>/", views.OfferingDetailView.as_view(), name="offering_detail"),
]
