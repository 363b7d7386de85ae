"""Token sign-in and revocation for API clients, and the answer to an API URL that does not exist."""
from django.contrib.auth import authenticate
from django.db import transaction
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from portal.audit import client_ip
from portal.selectors import lockout_ends_at, minutes_until
from portal.services import token_expires_at, token_obtain, token_revoke


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"}, trim_whitespace=False)


@method_decorator(transaction.atomic, name="post")
class TokenObtainApi(APIView):
    """POST a username and password, receive the token to send as `Authorization: Token <token>`.

    The token is good until `expires_at` (API_TOKEN_HOURS). Failed sign-ins count towards the same lockout as
    the login page's: while the username or the address is locked out, the answer is 429."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=TokenObtainSerializer,
        responses={
            200: inline_serializer(
                "TokenResponse", {"token": serializers.CharField(), "expires_at": serializers.DateTimeField()}
            )
        },
    )
    def post(self, request):
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request, **serializer.validated_data)
        if getattr(request, "axes_locked_out", False):
            ends = lockout_ends_at(username=serializer.validated_data["username"], address=client_ip(request))
            minutes = minutes_until(ends) if ends else 1
            return Response(
                {
                    "detail": _("登录失败次数过多，已暂时锁定，请在 %(minutes)d 分钟后再试。") % {"minutes": minutes},
                    "code": "locked_out",
                    "params": {"minutes": minutes},
                },
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(minutes * 60)},
            )
        if user is None or not user.is_active:
            return Response(
                {"detail": _("用户名或密码不正确。"), "code": "invalid_credentials"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        token = token_obtain(actor=user)
        return Response({"token": token.key, "expires_at": token_expires_at(token)})


class TokenRevokeApi(APIView):
    """Revoke the token of the signed-in user (the one this request is made with, when it is a token); a new
    one comes from auth/token/. Logging out of the pages revokes it too."""

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        token_revoke(actor=request.user, reason="revoke")
        return Response(status=status.HTTP_204_NO_CONTENT)


class NotFoundApi(APIView):
    """Any other URL under /api/v1/ answers 404 in the API's JSON, not with the site's HTML page."""

    permission_classes = [AllowAny]
    authentication_classes = []
    schema = None

    def initial(self, request, *args, **kwargs):
        raise NotFound
