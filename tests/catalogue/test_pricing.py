"""Pricing rules: every parameter a rule names counts, a multiplier included, and the live estimate knows which
parameters those are."""
from decimal import Decimal

import pytest

from catalogue.pricing import UsageRuleError, priced_parameters, usage_for
from portal.demo import OFFERING_TERMS

STANDBY = {"from": "multi_az", "map": {"true": 2, "false": 1}}


def test_a_multiplier_reads_a_true_false_parameter():
    rules = {"vcpu": {"from": "cores", "times": STANDBY}, "instances": {"value": 1}}
    assert usage_for(rules, {"cores": 4, "multi_az": False}) == {"vcpu": Decimal(4), "instances": Decimal(1)}
    assert usage_for(rules, {"cores": 4, "multi_az": True}) == {"vcpu": Decimal(8), "instances": Decimal(1)}


def test_a_map_reads_numbers_and_flags_by_their_json_keys():
    assert usage_for({"vcpu": {"from": "size", "map": {"2": 4}}}, {"size": 2}) == {"vcpu": Decimal(4)}
    with pytest.raises(UsageRuleError):
        usage_for({"vcpu": {"from": "cores", "times": STANDBY}}, {"cores": 4})  # multi_az missing: no entry


def test_the_demo_database_counts_its_standby():
    _base, _prices, rules, _capabilities = OFFERING_TERMS["database"]
    single = usage_for(rules, {"instance_class": "db.m5.large", "storage_gb": 100, "multi_az": False})
    multi = usage_for(rules, {"instance_class": "db.m5.large", "storage_gb": 100, "multi_az": True})
    assert {dim: multi[dim] / single[dim] for dim in single} == {
        "vcpu": 2, "memory_gb": 2, "storage_gb": 2, "instances": 1,
    }


def test_priced_parameters_are_every_name_a_rule_reads():
    _base, _prices, rules, _capabilities = OFFERING_TERMS["database"]
    assert priced_parameters(rules) == ["instance_class", "multi_az", "storage_gb"]
    _base, _prices, rules, _capabilities = OFFERING_TERMS["vm"]
    assert priced_parameters(rules) == ["flavor", "system_disk_gb", "data_disk_gb"]
