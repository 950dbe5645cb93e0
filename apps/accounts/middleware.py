from apps.core.middleware import AsyncMiddleware


class AuthenticationMiddleware(AsyncMiddleware):
    async def __call__(self, request):
        request.principal = None
        return await self.get_response(request)
