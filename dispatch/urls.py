from django.urls import path

from dispatch import views

app_name = "dispatch"

urlpatterns = [
    path("partner/", views.board, name="board"),
    path("partner/history/", views.history, name="history"),
    path("dashboard/", views.dashboard, name="dashboard"),
]
