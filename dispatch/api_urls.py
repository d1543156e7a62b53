from django.urls import path

from dispatch import api

urlpatterns = [
    path("orders/available/", api.AvailableOrderListApi.as_view(), name="api-orders-available"),
    path("orders/<ref:ref>/accept/", api.OrderAcceptApi.as_view(), name="api-order-accept"),
    path("orders/<ref:ref>/status/", api.OrderAdvanceApi.as_view(), name="api-order-status"),
    path("partners/", api.PartnerListApi.as_view(), name="api-partners"),
    path("partners/me/location/", api.PartnerLocationApi.as_view(), name="api-partner-location"),
    path("partners/me/availability/", api.PartnerAvailabilityApi.as_view(), name="api-partner-availability"),
]
