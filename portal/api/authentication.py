"""API tokens that expire: a token is good for API_TOKEN_HOURS after it was issued."""
from django.utils.translation import gettext as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from portal.services import token_expired


class ExpiringTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if token_expired(token):
            raise AuthenticationFailed(_("令牌已过期，请重新获取令牌。"), code="token_expired")
        return user, token
