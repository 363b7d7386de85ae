"""Chinese first, English one click away: the catalogues are complete and current, and pages and module
messages come out in the reader's language."""
import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings
from django.utils import translation
from django.utils.translation import ngettext

from catalogue.management.commands.module_messages import module_texts
from catalogue.module_i18n import translate_module_text
from catalogue.module_schema import parse_variables, validate_values

LOCALE_DIR = Path(settings.LOCALE_PATHS[0])
DJANGO_PO = LOCALE_DIR / "en" / "LC_MESSAGES" / "django.po"
MODULES_PO = LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "modules.po"
MODULES_PO_EN = LOCALE_DIR / "en" / "LC_MESSAGES" / "modules.po"
# What `makemessages -l en --ignore=.venv --ignore=var --ignore=tests --ignore=terraform` leaves out.
# makemessages skips dot-directories itself; the copy leaves out the committed catalogues too.
NOT_SCANNED = {"var", "tests", "terraform", "locale"}


def read_catalogue(path: Path, locale: str):
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def msgids(catalogue) -> set:
    return {(message.context, message.id if isinstance(message.id, str) else tuple(message.id))
            for message in catalogue if message.id}


def test_every_english_msgid_is_translated_and_not_fuzzy():
    catalogue = read_catalogue(DJANGO_PO, "en")
    assert len(catalogue) > 0
    untranslated, fuzzy = [], []
    for message in catalogue:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(form and form.strip() for form in forms):
            untranslated.append(message.id)
        if message.fuzzy:
            fuzzy.append(message.id)
    assert not untranslated, f"untranslated in {DJANGO_PO}: {untranslated}"
    assert not fuzzy, f"fuzzy in {DJANGO_PO}: {fuzzy}"
    assert not catalogue.fuzzy, "the header of the English catalogue is still marked fuzzy"


def test_english_catalogue_is_up_to_date_with_the_sources(tmp_path, monkeypatch):
    # Run the real makemessages over a copy of the project, so the committed catalogue is not touched.
    project = tmp_path / "project"
    shutil.copytree(
        settings.BASE_DIR, project,
        ignore=lambda directory, names: [
            name for name in names
            if (Path(directory) == Path(settings.BASE_DIR) and (name in NOT_SCANNED or name.startswith(".")))
            or name == "__pycache__" or name.endswith((".pyc", ".mo"))
        ],
    )
    copy = project / "locale" / "en" / "LC_MESSAGES" / "django.po"
    copy.parent.mkdir(parents=True)
    shutil.copy(DJANGO_PO, copy)
    monkeypatch.chdir(project)
    with override_settings(LOCALE_PATHS=[project / "locale"]):
        call_command(
            "makemessages", locale=["en"], ignore_patterns=[".venv", "var", "tests", "terraform"], verbosity=0
        )
    committed, fresh = msgids(read_catalogue(DJANGO_PO, "en")), msgids(read_catalogue(copy, "en"))
    assert fresh, "makemessages found no messages at all"
    assert not fresh - committed, f"run makemessages: new msgids {sorted(fresh - committed, key=str)}"
    assert not committed - fresh, f"run makemessages: msgids no longer in the sources {sorted(committed - fresh, key=str)}"


def test_every_module_text_has_a_chinese_translation():
    texts = module_texts(Path(settings.TERRAFORM_MODULES_DIR))
    assert texts, "no module texts found"
    catalogue = read_catalogue(MODULES_PO, "zh_Hans")
    missing = [text for text in sorted(texts) if not (catalogue.get(text) and catalogue.get(text).string.strip())]
    fuzzy = [text for text in sorted(texts) if catalogue.get(text) and catalogue.get(text).fuzzy]
    assert not missing, f"run manage.py module_messages and translate: {missing}"
    assert not fuzzy, f"fuzzy in {MODULES_PO}: {fuzzy}"


def test_every_module_label_is_written_out_in_english():
    labels = module_texts(Path(settings.TERRAFORM_MODULES_DIR), labels_only=True)
    catalogue = read_catalogue(MODULES_PO_EN, "en")
    missing = [label for label in sorted(labels) if not (catalogue.get(label) and catalogue.get(label).string.strip())]
    assert not missing, f"run manage.py module_messages and write these labels out in {MODULES_PO_EN}: {missing}"
    with translation.override("en"):
        assert translate_module_text("Os image") == "Operating system image"
        # Sentences are the module author's English and stay as written.
        assert translate_module_text(ZONE_ERROR) == ZONE_ERROR


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("headers", "lang", "present", "absent"),
    [
        ({}, "zh-hans", "登录", "Sign in"),
        # A browser's language is not the user's choice for the portal: Chinese stays first.
        ({"HTTP_ACCEPT_LANGUAGE": "en"}, "zh-hans", "登录", "Sign in"),
        ({"HTTP_COOKIE": f"{settings.LANGUAGE_COOKIE_NAME}=en"}, "en", "Sign in", "登录"),
        ({"HTTP_COOKIE": f"{settings.LANGUAGE_COOKIE_NAME}=klingon"}, "zh-hans", "登录", "Sign in"),
    ],
    ids=["default-chinese", "accept-language-en-stays-chinese", "language-cookie-en", "unknown-cookie-chinese"],
)
def test_login_page_language(headers, lang, present, absent):
    page = Client(**headers).get("/login/").content.decode()
    assert f'lang="{lang}"' in page
    assert present in page
    assert absent not in page


@pytest.mark.django_db
def test_the_api_follows_accept_language():
    for accept, expected in (("en", "Authentication credentials were not provided."), ("zh-hans", "身份认证信息未提供。")):
        answer = Client(HTTP_ACCEPT_LANGUAGE=accept).get("/api/v1/clouds/")
        assert answer.status_code in (401, 403)
        assert answer.json()["detail"] == expected


def test_english_plurals():
    with translation.override("en"):
        assert ngettext("%(n)s 朵云", "%(n)s 朵云", 1) % {"n": 1} == "1 cloud"
        assert ngettext("%(n)s 朵云", "%(n)s 朵云", 14) % {"n": 14} == "14 clouds"
    with translation.override("zh-hans"):
        assert ngettext("%(n)s 朵云", "%(n)s 朵云", 14) % {"n": 14} == "14 朵云"


ZONE_ERROR = "The zone must be an availability zone name such as cn-north-1a."


def zone_errors() -> list[str]:
    source = (Path(settings.TERRAFORM_MODULES_DIR) / "vm" / "variables.tf").read_text(encoding="utf-8")
    variables = parse_variables(source, module="vm")
    _, errors = validate_values(
        variables, {"name": "web-01", "admin_password": "Abcdefgh123!", "zone": "north"},
        translate=translate_module_text,
    )
    return errors["zone"]


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def test_module_validation_message_is_chinese_by_default():
    with translation.override(settings.LANGUAGE_CODE):
        message = translate_module_text(ZONE_ERROR)
        [error] = zone_errors()
    assert is_chinese(message) and "cn-north-1a" in message
    assert error == message


def test_module_validation_message_is_english_under_en():
    with translation.override("en"):
        message = translate_module_text(ZONE_ERROR)
        [error] = zone_errors()
    assert message == ZONE_ERROR
    assert error == ZONE_ERROR
