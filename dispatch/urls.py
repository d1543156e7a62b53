from django.urls import path

from dispatch import views

app_name = "dispatch"

urlpatterns = [
    path("partner/", views.board, name="board"),
    path("partner/availability/", views.availability, name="availability"),
    path("partner/orders/<ref:ref>/accept/", views.accept, name="accept"),
    path("partner/orders/<ref:ref>/advance/", views.advance, name="advance"),
    path("partner/history/", views.history, name="history"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
