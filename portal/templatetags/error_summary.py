"""{% error_summary form other_form %}: at the top of a form page, what is wrong, each entry a link to its field."""
from django import template
from django.forms import BaseForm

register = template.Library()


@register.inclusion_tag("portal/_error_summary.html")
def error_summary(*forms) -> dict:
    entries = []
    for form in forms:
        if not isinstance(form, BaseForm) or not form.is_bound or not form.errors:  # absent forms are ""
            continue
        for message in form.non_field_errors():
            entries.append({"anchor": "", "label": "", "message": message})
        for field in form:
            for message in field.errors:
                entries.append({"anchor": field.auto_id, "label": field.label, "message": message})
    return {"entries": entries}
