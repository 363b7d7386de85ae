"""System admins keep the catalogue here. Credentials are write-only: typed in, stored encrypted, never shown."""
from django import forms
from django.contrib import admin
from django.db import models
from django.utils.translation import gettext_lazy as _

from portal.admin import AuditedAdmin, ReadOnlyAdmin

from .models import Cloud, ModuleVersion, Offering, Service


def https_by_default(field: models.Field, **kwargs) -> forms.Field:
    """An endpoint typed without a scheme is taken as https (Django 6's default, chosen now)."""
    if isinstance(field, models.URLField):
        kwargs.setdefault("assume_scheme", "https")
    return field.formfield(**kwargs)


class CloudAdminForm(forms.ModelForm):
    access_key_id = forms.CharField(label=_("Access Key ID"), required=False, help_text=_("留空则保留现有凭据。"))
    secret_access_key = forms.CharField(
        label=_("Secret Access Key"), required=False, widget=forms.PasswordInput(render_value=False)
    )

    class Meta:
        model = Cloud
        fields = [
            "slug", "name", "name_en", "tier", "description", "owner_agency", "endpoint", "region",
            "allowed_classifications", "offers", "status", "sort_order", "max_concurrent_runs",
        ]
        formfield_callback = https_by_default

    def clean(self):
        data = super().clean()
        if bool(data.get("access_key_id")) != bool(data.get("secret_access_key")):
            raise forms.ValidationError(_("Access Key ID 与 Secret Access Key 需同时填写。"))
        return data


@admin.register(Cloud)
class CloudAdmin(AuditedAdmin):
    form = CloudAdminForm
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    list_display = ["name", "name_en", "slug", "tier", "owner_agency", "region", "status", "has_credentials"]
    list_filter = ["tier", "status"]
    search_fields = ["name", "name_en", "slug", "owner_agency__name"]
    readonly_fields = ["account_id"]

    @admin.display(boolean=True, description=_("已配置凭据"))
    def has_credentials(self, cloud: Cloud) -> bool:
        return cloud.has_credentials

    def save_model(self, request, obj, form, change):
        if form.cleaned_data.get("access_key_id"):
            obj.set_credentials(form.cleaned_data["access_key_id"], form.cleaned_data["secret_access_key"])
        super().save_model(request, obj, form, change)


@admin.register(Service)
class ServiceAdmin(AuditedAdmin):
    list_display = ["name", "name_en", "slug", "module_name", "sort_order"]


@admin.register(Offering)
class OfferingAdmin(AuditedAdmin):
    list_display = ["__str__", "service", "cloud", "module", "enabled", "base_monthly_price"]
    list_filter = ["enabled", "service", "cloud__tier"]
    search_fields = ["cloud__name", "service__name"]
    list_select_related = ["service", "cloud", "module"]


@admin.register(ModuleVersion)
class ModuleVersionAdmin(ReadOnlyAdmin):
    """Module versions are published by `manage.py module_publish` and never edited."""

    list_display = ["name", "version", "digest", "published_at"]
    readonly_fields = ["name", "version", "digest", "published_at"]
