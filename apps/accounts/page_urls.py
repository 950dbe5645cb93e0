"""Page routes (included at "/")."""

from django.urls import path

from apps.accounts import pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("signup", pages.signup, name="signup"),
    path("signin", pages.signin, name="signin"),
    path("signout", pages.signout, name="signout"),
    path("favicon.ico", pages.favicon, name="favicon"),
]
