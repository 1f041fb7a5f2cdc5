from django.contrib.auth import views as auth_views
from django.urls import include, path
from oauth2_provider import urls as oauth2_urls

from dot_issuer.views import IntrospectTokenView

urlpatterns = [
    # Django's own sign-in page (templates/registration/login.html).
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    # DOT's introspection answer plus `user_id`; listed before DOT's own at the same path.
    path("o/introspect/", IntrospectTokenView.as_view()),
    # DOT: /o/authorize/, /o/token/, /o/revoke_token/, /o/introspect/ (issuer http://HOST/o).
    path("o/", include(oauth2_urls)),
    # RFC 8414 metadata at the site root, where clients look for issuer http://HOST/o:
    # /.well-known/oauth-authorization-server/o
    path("", include(oauth2_urls.metadata_urlpatterns)),
]
