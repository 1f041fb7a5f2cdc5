"""Test instrumentation, not authentication: appends every Authorization header the API receives
to seen_authorization.txt, so the test can check Plugboard never forwards the client's token."""

from django.conf import settings


class RecordAuthorization:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with open(settings.DATA_DIR / "seen_authorization.txt", "a") as seen:
            seen.write(request.headers.get("Authorization", "-") + "\n")
        return self.get_response(request)
