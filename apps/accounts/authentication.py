from rest_framework.authentication import BaseAuthentication


class GotongAuthentication(BaseAuthentication):
    def authenticate(self, request):
        return None
