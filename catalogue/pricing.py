"""From request parameters to usage per quota dimension and a monthly cost, by an offering's own rules.

An offering's `usage_rules` say how each dimension is read from the parameters:
    {"value": 1}                              a constant
    {"from": "storage_gb"}                    a parameter's number
    {"from": "flavor", "map": {"small": 1}}   a parameter looked up in a table
    {"sum": ["system_disk_gb", "data_disk_gb"]}
The cost is the base monthly price plus each dimension's usage times its unit price.
"""
from decimal import ROUND_HALF_UP, Decimal

from .choices import QuotaDimension


class UsageRuleError(ValueError):
    pass


def _number(value, *, rule: str) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise UsageRuleError(f"usage rule {rule}: expected a number, got {value!r}")
    try:
        return Decimal(str(value))
    except ArithmeticError as exc:
        raise UsageRuleError(f"usage rule {rule}: expected a number, got {value!r}") from exc


def usage_for(usage_rules: dict, parameters: dict) -> dict[str, Decimal]:
    usage: dict[str, Decimal] = {}
    for dimension, rule in usage_rules.items():
        if dimension not in QuotaDimension.values or dimension == QuotaDimension.MONTHLY_COST:
            raise UsageRuleError(f"usage rule names an unknown dimension: {dimension}")
        if "value" in rule:
            amount = _number(rule["value"], rule=dimension)
        elif "sum" in rule:
            amount = sum((_number(parameters.get(name, 0), rule=dimension) for name in rule["sum"]), Decimal(0))
        elif "from" in rule and "map" in rule:
            key = parameters.get(rule["from"])
            if key not in rule["map"]:
                raise UsageRuleError(f"usage rule {dimension}: no entry for {rule['from']}={key!r}")
            amount = _number(rule["map"][key], rule=dimension)
        elif "from" in rule:
            amount = _number(parameters.get(rule["from"], 0), rule=dimension)
        else:
            raise UsageRuleError(f"usage rule {dimension} has none of value, sum, from")
        usage[dimension] = amount
    return usage


def monthly_cost(*, base: Decimal, unit_prices: dict, usage: dict[str, Decimal]) -> Decimal:
    total = Decimal(base)
    for dimension, amount in usage.items():
        total += Decimal(str(unit_prices.get(dimension, 0))) * amount
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def estimate(offering, parameters: dict) -> tuple[Decimal, dict[str, Decimal]]:
    """The offering's monthly cost for these parameters, and the usage it counts against quotas."""
    usage = usage_for(offering.usage_rules, parameters)
    cost = monthly_cost(base=offering.base_monthly_price, unit_prices=offering.unit_prices, usage=usage)
    return cost, usage
