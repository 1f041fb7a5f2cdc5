import hashlib
import json

from django.http import JsonResponse
from oauth2_provider import views
from oauth2_provider.models import get_access_token_model


class IntrospectTokenView(views.IntrospectTokenView):
    """DOT's RFC 7662 answer (`active`, `scope`, `exp`, `client_id`, `username`, and `aud` for a
    token bound to a resource) plus `user_id`: the user's primary key, which the app's tables use
    as their owner column."""

    @staticmethod
    def get_token_response(token_value=None):
        response = views.IntrospectTokenView.get_token_response(token_value)
        answer = json.loads(response.content)
        if response.status_code == 200 and answer.get("active") and "username" in answer:
            checksum = hashlib.sha256(token_value.encode("utf-8")).hexdigest()
            token = get_access_token_model().objects.only("user_id").get(token_checksum=checksum)
            return JsonResponse(answer | {"user_id": token.user_id})
        return response
