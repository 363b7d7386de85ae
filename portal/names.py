"""Names a person reads in their own language: a model keeps `name` (Chinese, the source language) and
`name_en`, and pages show `display_name`, which picks by the active language and falls back to Chinese."""
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def english_name_field(max_length: int) -> models.CharField:
    return models.CharField(_("英文名称"), max_length=max_length, blank=True, help_text=_("英文界面显示此名称；留空则显示中文名称。"))


def pick_name(name: str, name_en: str) -> str:
    """`name_en` when the page is in English and one is given, else the Chinese `name`."""
    if name_en and (get_language() or "").startswith("en"):
        return name_en
    return name


def both_names(name: str, name_en: str) -> dict:
    """A name for a stored message (provisioning.models.render_message), shown in whichever language it is read."""
    return {"zh-hans": name, "en": name_en or name}


class EnglishNameMixin:
    """For models with `name` and `name_en`."""

    @property
    def display_name(self) -> str:
        return pick_name(self.name, self.name_en)
