"""The user's own notification channels and choices, and the approve/reject links of stage-opened messages."""
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views import View

from portal.choices import ChannelKind, EventKind
from portal.errors import DomainError
from portal.models import NotificationChannel

from .forms import ChannelForm, DecisionForm
from .services.approval_link_use import LinkRefused, approval_link_check, approval_link_decide
from .services.channels import (
    DeliveryError,
    channel_choices_save,
    channel_create,
    channel_delete,
    channel_test,
    user_channels,
)


class NotificationChannelsView(LoginRequiredMixin, View):
    """GET: the channels and, for each kind of message, where it goes. POST: save the choices."""

    template_name = "provisioning/notification_channels.html"

    def render(self, request, form=None, status=200):
        channels = user_channels(request.user)
        rows = [
            {"kind": kind, "cells": [(channel, kind.value in channel.events) for channel in channels]}
            for kind in EventKind
        ]
        context = {"channels": channels, "rows": rows, "form": form or ChannelForm(), "email_kind": ChannelKind.EMAIL}
        return TemplateResponse(request, self.template_name, context, status=status)

    def get(self, request):
        return self.render(request)

    def post(self, request):
        valid = {kind.value for kind in EventKind}
        choices: dict[int, set[str]] = {}
        for key in request.POST.getlist("choice"):
            pk, _sep, event = key.partition(":")
            if pk.isdigit() and event in valid:
                choices.setdefault(int(pk), set()).add(event)
        channel_choices_save(actor=request.user, choices=choices)
        messages.success(request, _("已保存通知设置。"))
        return redirect("provisioning:notification_channels")


class NotificationChannelCreateView(NotificationChannelsView):
    def get(self, request):
        return redirect("provisioning:notification_channels")

    def post(self, request):
        form = ChannelForm(request.POST)
        if not form.is_valid():
            return self.render(request, form, status=400)
        try:
            channel = channel_create(actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self.render(request, form, status=400)
        messages.success(
            request, _("已添加通知渠道“%(name)s”。请在下表中勾选它接收的消息，并发送测试消息确认可用。") % {"name": channel.name}
        )
        return redirect("provisioning:notification_channels")


class NotificationChannelActionView(LoginRequiredMixin, View):
    """POST-only: send a test message to, or delete, one of the user's own channels."""

    def post(self, request, pk, action):
        channel = get_object_or_404(NotificationChannel, pk=pk, user=request.user)
        try:
            if action == "test":
                channel_test(actor=request.user, channel=channel)
                messages.success(request, _("测试消息已发送到“%(name)s”。") % {"name": channel.name})
            elif action == "delete":
                channel_delete(actor=request.user, channel=channel)
                messages.success(request, _("已删除通知渠道“%(name)s”。") % {"name": channel.name})
        except DeliveryError as exc:
            messages.error(request, _("测试消息发送失败：%(error)s") % {"error": exc})
        except DomainError as exc:
            messages.error(request, exc.message)
        return redirect("provisioning:notification_channels")


class ApprovalLinkView(LoginRequiredMixin, View):
    """GET shows what the link would decide and changes nothing; the form's POST takes the decision."""

    template_name = "provisioning/approval_link.html"

    def refused(self, request, exc: LinkRefused):
        return TemplateResponse(request, self.template_name, {"refused": exc.message}, status=exc.http_status)

    def get(self, request, token):
        try:
            link, decision = approval_link_check(token, request.user)
        except LinkRefused as exc:
            return self.refused(request, exc)
        return self.confirm(request, link, decision, DecisionForm())

    def confirm(self, request, link, decision, form, status=200):
        context = {"link": link, "stage": link.stage, "req": link.stage.request, "decision": decision, "form": form}
        return TemplateResponse(request, self.template_name, context, status=status)

    def post(self, request, token):
        form = DecisionForm(request.POST)
        try:
            link, decision = approval_link_check(token, request.user)
            if not form.is_valid():
                return self.confirm(request, link, decision, form, status=400)
            req, decision = approval_link_decide(actor=request.user, token=token, comment=form.cleaned_data["comment"])
        except LinkRefused as exc:
            return self.refused(request, exc)
        except DomainError as exc:
            form.add_error("comment" if exc.field == "comment" else None, exc.message)
            return self.confirm(request, link, decision, form, status=400)
        done = _("已同意 %(number)s。") if decision == "approve" else _("已驳回 %(number)s。")
        messages.success(request, done % {"number": req.number})
        return redirect("provisioning:request_detail", pk=req.pk)
