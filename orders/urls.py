from django.urls import path

from orders import views

app_name = "orders"

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("products/<slug:slug>/", views.product_detail, name="product"),
    path("cart/", views.cart, name="cart"),
    path("cart/mini/", views.mini_cart, name="mini-cart"),
    path("cart/add/", views.cart_add, name="cart-add"),
    path("cart/update/", views.cart_update, name="cart-update"),
    path("cart/remove/", views.cart_remove, name="cart-remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/", views.order_list, name="list"),
    path("orders/<ref:ref>/", views.order_detail, name="detail"),
    path("orders/<ref:ref>/cancel/", views.order_cancel, name="cancel"),
]
