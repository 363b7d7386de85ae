"""The OpenAPI schema documents the errors too: every operation lists the 4xx answers it can give, in the shape
portal.api.exceptions gives them, so a client (and schemathesis) can rely on the schema for every answer."""
from django.utils.translation import gettext_lazy as _
from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    """An error: a message a person can act on and a code a program can branch on."""

    detail = serializers.CharField(help_text=_("给人看的说明。"))
    code = serializers.CharField(help_text=_("给程序判断用的错误代码，如 not_found、conflict、permission_denied。"))
    field = serializers.CharField(required=False, help_text=_("出错的字段（如有）。"))
    params = serializers.DictField(required=False, help_text=_("与说明相关的数值（如有）。"))


# Invalid fields: {"field": ["message", ...]}, or nested the same way for a map or list field.
FIELD_ERRORS = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": {
        "anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}],
    },
}


class AutoSchema(openapi.AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, response in self._error_responses().items():
            responses.setdefault(code, self._get_response_for_code(response, code, direction=direction))
        return responses

    def _error_responses(self) -> dict[str, OpenApiResponse]:
        error = self.resolve_serializer(ErrorSerializer, "response").ref
        signed_in = bool(self.view.authentication_classes) and not any(
            isinstance(permission, AllowAny) for permission in self.view.get_permissions()
        )
        unsafe = self.method not in ("GET", "HEAD", "OPTIONS")
        has_body = self.method in ("POST", "PUT", "PATCH")
        paged = self._is_list_view() and self._get_paginator() is not None
        # Query parameters of its own (e.g. the showback's month) can be wrong too.
        queried = bool(self.get_override_parameters()) or bool(self._get_filter_parameters())
        responses = {}
        if has_body or paged or queried:
            responses["400"] = OpenApiResponse(
                {"oneOf": [error, FIELD_ERRORS]},
                description=_("请求有误：请求体或查询参数不合要求，或操作被业务规则拒绝。"),
            )
        if signed_in:
            responses["401"] = OpenApiResponse(ErrorSerializer, description=_("未登录：缺少或无效的令牌。"))
        if signed_in and unsafe:
            responses["403"] = OpenApiResponse(ErrorSerializer, description=_("无权执行此操作。"))
        if "{" in self.path or (signed_in and unsafe):
            responses["404"] = OpenApiResponse(
                ErrorSerializer, description=_("对象不存在，或当前用户无权查看。")
            )
        if signed_in and unsafe:
            responses["409"] = OpenApiResponse(ErrorSerializer, description=_("对象当前的状态不允许此操作。"))
        if self.view.throttle_classes:
            responses["429"] = OpenApiResponse(ErrorSerializer, description=_("请求过于频繁，请稍后再试。"))
        return responses
