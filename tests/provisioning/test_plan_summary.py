"""What approvers read: one entry per changed resource, sensitive values masked even when unmarked."""
from provisioning.plan_summary import action_counts, summarize
from provisioning.terraform_client import MASK, Redactor

PLAN = {
    "resource_changes": [
        {
            "address": "module.main.pcloud_database.this",
            "type": "pcloud_database",
            "name": "this",
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {"identifier": "db1", "password": "S3cret-Passw0rd!", "engine": "mysql", "tags": {}},
                "after_unknown": {"address": True, "id": True},
                "after_sensitive": {"password": True},
            },
        },
        {
            "address": "module.main.pcloud_instance.this",
            "type": "pcloud_instance",
            "name": "this",
            "change": {
                "actions": ["update"],
                "before": {"instance_type": "t3.small", "name": "web", "id": "i-1"},
                "after": {"instance_type": "t3.large", "name": "web", "id": "i-1"},
                "after_unknown": {},
            },
        },
        {
            "address": "module.main.pcloud_volume.data",
            "type": "pcloud_volume",
            "name": "data",
            "change": {"actions": ["delete", "create"], "before": {"size": 10}, "after": {"size": 5}, "after_unknown": {}},
        },
        {
            "address": "module.main.pcloud_bucket.old",
            "type": "pcloud_bucket",
            "name": "old",
            "change": {"actions": ["delete"], "before": {"name": "x"}, "after": None},
        },
        {
            "address": "module.main.pcloud_bucket.found",
            "type": "pcloud_bucket",
            "name": "found",
            "change": {
                "actions": ["update"], "importing": {"id": "made-by-hand"},
                "before": {"name": "made-by-hand", "tags": {}}, "after": {"name": "made-by-hand", "tags": {"a": "b"}},
                "after_unknown": {},
            },
        },
        {
            "address": "module.main.pcloud_bucket.taken",
            "type": "pcloud_bucket",
            "name": "taken",
            "change": {"actions": ["no-op"], "importing": {"id": "as-is"}, "before": {"name": "as-is"}, "after": {"name": "as-is"}},
        },
        {
            "address": "module.main.pcloud_network.same",
            "type": "pcloud_network",
            "name": "same",
            "change": {"actions": ["no-op"], "before": {}, "after": {}},
        },
    ]
}


def test_actions_and_counts():
    summary = summarize(PLAN, Redactor())
    assert [(e["address"].split(".")[-2], e["action"]) for e in summary] == [
        ("pcloud_database", "create"),
        ("pcloud_instance", "update"),
        ("pcloud_volume", "replace"),
        ("pcloud_bucket", "delete"),
        ("pcloud_bucket", "import"),
        ("pcloud_bucket", "import"),
    ]
    assert action_counts(summary) == {"create": 1, "update": 1, "replace": 1, "delete": 1, "import": 2}


def test_an_import_shows_what_its_apply_changes_on_the_object():
    imported = [e for e in summarize(PLAN, Redactor()) if e["action"] == "import"]
    assert imported[0]["changes"] == [{"attribute": "tags", "before": {}, "after": {"a": "b"}}]
    assert imported[1]["changes"] == []


def test_marked_sensitive_value_is_masked_and_unknowns_say_so():
    create = summarize(PLAN, Redactor())[0]
    changes = {c["attribute"]: c["after"] for c in create["changes"]}
    assert changes["password"] == MASK
    assert changes["address"] == "(known after apply)"
    assert "S3cret-Passw0rd!" not in str(create)


def test_update_lists_only_what_changes():
    update = summarize(PLAN, Redactor())[1]
    assert update["changes"] == [{"attribute": "instance_type", "before": "t3.small", "after": "t3.large"}]


def test_unmarked_secret_is_still_redacted():
    plan = {
        "resource_changes": [
            {
                "address": "a.b",
                "type": "b",
                "name": "b",
                "change": {"actions": ["create"], "before": None, "after": {"user_data": "pw=TopSecret99"}},
            }
        ]
    }
    summary = summarize(plan, Redactor(["TopSecret99"]))
    assert "TopSecret99" not in str(summary)
    assert summary[0]["changes"][0]["after"] == f"pw={MASK}"


def test_drift_section_for_refresh_only_plans():
    plan = {"resource_drift": [{"address": "x.y", "type": "y", "name": "y", "change": {"actions": ["delete"], "before": {}, "after": None}}]}
    assert summarize(plan, Redactor(), section="resource_drift")[0]["action"] == "delete"
    assert summarize(plan, Redactor()) == []


def test_state_addresses_are_written_as_terraform_writes_them():
    from provisioning.runner import resources_of

    state = {"resources": [
        {"mode": "managed", "module": "module.main", "type": "pcloud_bucket", "name": "logs",
         "instances": [{"index_key": "审计", "attributes": {"id": "b-1"}}, {"index_key": 0, "attributes": {"id": "b-2"}}]},
        {"mode": "data", "type": "pcloud_zone", "name": "z", "instances": [{"attributes": {"id": "z"}}]},
    ]}
    assert [r["address"] for r in resources_of(state)] == [
        'module.main.pcloud_bucket.logs["审计"]', "module.main.pcloud_bucket.logs[0]",
    ]
