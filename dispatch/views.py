from django.shortcuts import render

from accounts.models import User
from accounts.permissions import role_required


@role_required(User.Role.PARTNER)
def board(request):
    return render(request, "dispatch/board.html", {})


@role_required(User.Role.PARTNER)
def history(request):
    return render(request, "dispatch/board.html", {})


@role_required(User.Role.ADMIN)
def dashboard(request):
    return render(request, "dispatch/dashboard.html", {})
