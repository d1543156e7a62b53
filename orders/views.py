from django.shortcuts import render

from accounts.models import User
from accounts.permissions import role_required


def catalog(request):
    return render(request, "orders/catalog.html", {})


@role_required(User.Role.CUSTOMER)
def cart(request):
    return render(request, "orders/catalog.html", {})


@role_required(User.Role.CUSTOMER)
def order_list(request):
    return render(request, "orders/catalog.html", {})


@role_required(User.Role.CUSTOMER)
def order_detail(request, ref):
    return render(request, "orders/catalog.html", {})
