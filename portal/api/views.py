"""Token sign-in for API clients, and the answer to an API URL that does not exist."""
from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from portal.services import audit_record


class TokenObtainSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128, style={"input_type": "password"}, trim_whitespace=False)


class TokenObtainApi(APIView):
    """POST a username and password, receive the token to send as `Authorization: Token <token>`."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=TokenObtainSerializer,
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
    )
    def post(self, request):
        serializer = TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request, **serializer.validated_data)
        if user is None or not user.is_active:
            return Response(
                {"detail": _("用户名或密码不正确。"), "code": "invalid_credentials"},
                status=status.HTTP_400_BAD_REQUEST,
            )
        token, _created = Token.objects.get_or_create(user=user)
        audit_record(actor=user, action="auth.token", obj=user)
        return Response({"token": token.key})


class NotFoundApi(APIView):
    """Any other URL under /api/v1/ answers 404 in the API's JSON, not with the site's HTML page."""

    permission_classes = [AllowAny]
    authentication_classes = []
    schema = None

    def initial(self, request, *args, **kwargs):
        raise NotFound
