"""From request parameters to usage per quota dimension and a monthly cost, by an offering's own rules.

An offering's `usage_rules` say how each dimension is read from the parameters:
    {"value": 1}                              a constant
    {"from": "storage_gb"}                    a parameter's number
    {"from": "flavor", "map": {"small": 1}}   a parameter looked up in a table
    {"sum": ["system_disk_gb", "data_disk_gb"]}
Any of them may add "times", itself such a rule, for a parameter that multiplies the usage: a standby replica
in a second zone doubles a database's vCPU, memory and storage with
    {"from": "instance_class", "map": {...}, "times": {"from": "multi_az", "map": {"true": 2, "false": 1}}}
(a map's keys are JSON strings: a true/false parameter is looked up as "true"/"false").
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


def _map_key(value):
    """A parameter's value as a key of a JSON map, whose keys are strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if value is None or isinstance(value, str) else str(value)


def _amount(rule: dict, parameters: dict, *, dimension: str) -> Decimal:
    if "value" in rule:
        amount = _number(rule["value"], rule=dimension)
    elif "sum" in rule:
        amount = sum((_number(parameters.get(name, 0), rule=dimension) for name in rule["sum"]), Decimal(0))
    elif "from" in rule and "map" in rule:
        key = _map_key(parameters.get(rule["from"]))
        if key not in rule["map"]:
            raise UsageRuleError(f"usage rule {dimension}: no entry for {rule['from']}={key!r}")
        amount = _number(rule["map"][key], rule=dimension)
    elif "from" in rule:
        amount = _number(parameters.get(rule["from"], 0), rule=dimension)
    else:
        raise UsageRuleError(f"usage rule {dimension} has none of value, sum, from")
    if "times" in rule:
        amount *= _amount(rule["times"], parameters, dimension=dimension)
    return amount


def usage_for(usage_rules: dict, parameters: dict) -> dict[str, Decimal]:
    usage: dict[str, Decimal] = {}
    for dimension, rule in usage_rules.items():
        if dimension not in QuotaDimension.values or dimension == QuotaDimension.MONTHLY_COST:
            raise UsageRuleError(f"usage rule names an unknown dimension: {dimension}")
        usage[dimension] = _amount(rule, parameters, dimension=dimension)
    return usage


def priced_parameters(usage_rules: dict) -> list[str]:
    """The parameters the usage (and so the cost) is read from, in the order the rules name them."""
    names: list[str] = []

    def visit(rule: dict) -> None:
        for name in [*rule.get("sum", ()), *([rule["from"]] if "from" in rule else [])]:
            if name not in names:
                names.append(name)
        if isinstance(rule.get("times"), dict):
            visit(rule["times"])

    for rule in usage_rules.values():
        if isinstance(rule, dict):
            visit(rule)
    return names


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
