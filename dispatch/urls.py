from django.urls import path

import orders.urls  # noqa: F401 - registers the <ref:ref> converter before the patterns below use it
from dispatch import views
from dispatch.dashboard import dashboard

app_name = "dispatch"

urlpatterns = [
    path("partner/", views.board, name="board"),
    path("partner/availability/", views.availability, name="availability"),
    path("partner/orders/<ref:ref>/accept/", views.accept, name="accept"),
    path("partner/orders/<ref:ref>/advance/", views.advance, name="advance"),
    path("partner/history/", views.history, name="history"),
    path("dashboard/", dashboard, name="dashboard"),
]
