"""Collect the texts of every module (variable and object attribute labels, descriptions, validation
messages) into the `modules` gettext catalogue of each language, keeping the translations already made. Then
translate the new entries and run compilemessages."""
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po
from django.conf import settings
from django.core.management.base import BaseCommand

from catalogue.module_i18n import DOMAIN
from catalogue.module_schema import attribute_label, object_attribute_names, parse_variables

# Module texts are written in English, so Chinese translates every text. English translates only the labels,
# which are made from variable names ("os_image" → "Os image") and read better written out ("Operating system
# image"); descriptions and validation messages are already the module author's English.
LANGUAGES = ["zh_Hans", "en"]
LABELS_ONLY = {"en"}


def module_texts(modules_dir: Path, *, labels_only: bool = False) -> dict[str, set[str]]:
    """msgid → the places it comes from ("vm/variables.tf:12"); with `labels_only`, just the labels."""
    texts: dict[str, set[str]] = {}
    for variables_file in sorted(modules_dir.glob("*/variables.tf")):
        module = variables_file.parent.name
        for variable in parse_variables(variables_file.read_text(encoding="utf-8"), module=module):
            where = f"{module}/variables.tf:{variable.line or 0}"
            attribute_labels = [attribute_label(name) for name in object_attribute_names(variable.type)]
            sentences = () if labels_only else (variable.description, *(rule.error_message for rule in variable.rules))
            for text in (variable.label, *attribute_labels, *sentences):
                if text:
                    texts.setdefault(text, set()).add(where)
    return texts


class Command(BaseCommand):
    help = "Update locale/<lang>/LC_MESSAGES/modules.po from terraform/modules/*/variables.tf."

    def handle(self, *args, **options):
        modules_dir = Path(settings.TERRAFORM_MODULES_DIR)
        for language in LANGUAGES:
            texts = module_texts(modules_dir, labels_only=language in LABELS_ONLY)
            path = Path(settings.LOCALE_PATHS[0]) / language / "LC_MESSAGES" / f"{DOMAIN}.po"
            old = Catalog(locale=language)
            if path.exists():
                with path.open("rb") as handle:
                    old = read_po(handle, locale=language)
            catalog = Catalog(locale=language, project="cloud-portal modules", domain=DOMAIN)
            for text in sorted(texts):
                previous = old.get(text)
                catalog.add(
                    text,
                    string=previous.string if previous else "",
                    locations=[(file, int(line)) for file, line in (where.rsplit(":", 1) for where in sorted(texts[text]))],
                )
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as handle:
                write_po(handle, catalog, width=110, omit_header=False)
            untranslated = sum(1 for message in catalog if message.id and not message.string)
            self.stdout.write(f"{path}: {len(catalog)} texts, {untranslated} untranslated")
