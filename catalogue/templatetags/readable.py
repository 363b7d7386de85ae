"""Template side of catalogue.readable: parameters as (label, value) rows, and any value as plain words.

    {% load readable %}
    {% parameter_rows module parameters as rows %}{% include "catalogue/_parameter_rows.html" %}
    {{ change.after|plain }}
"""
from django import template
from django.utils.html import format_html, format_html_join

from catalogue.readable import Readable, parameter_rows, readable

register = template.Library()

register.simple_tag(parameter_rows, name="parameter_rows")


@register.filter
def as_html(value: Readable) -> str:
    """A Readable as HTML: text, "label: value" lines, or a small table."""
    if value.is_table:
        head = format_html_join("", "<th>{}</th>", ((header,) for header in value.headers))
        body = format_html_join(
            "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in value.rows)
        )
        return format_html('<table class="value-table"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)
    if value.lines:
        return format_html_join(
            "", '<div class="value-line"><span class="value-key">{}</span>: {}</div>', value.lines
        )
    return format_html("{}", value.text)


@register.filter
def plain(value) -> str:
    """Any JSON value (a plan's before or after, an output) in plain words."""
    return as_html(readable(value))
