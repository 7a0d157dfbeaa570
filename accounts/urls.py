from django.urls import path

from accounts import views

urlpatterns = [
    path("auth/register/", views.RegisterView.as_view(), name="register"),
    path("auth/token/", views.TokenView.as_view(), name="token"),
    path("auth/token/refresh/", views.TokenRefresh.as_view(), name="token-refresh"),
    path("auth/logout/", views.Logout.as_view(), name="logout"),
]
