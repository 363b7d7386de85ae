"""pcloud_database: a managed relational database instance (RDS).

Class, storage (grow only), engine version, password, backups and Multi-AZ change in place and take effect
at once. The cloud never reports the password back, so drift in it goes unseen, and an imported database
plans one password update. Destroying a database takes no final snapshot.
"""

from __future__ import annotations

from typing import Any

from tf.iface import Config, PlanContext, State
from tf.schema import Attribute, Schema
from tf.types import Bool, Number, String
from tf.utils import Diagnostics

from pcloud_provider.resources.base import (
    SCHEMA_VERSION,
    WORKSPACE_TAG,
    CloudResource,
    absent,
    check_whole,
    given,
    tag_dict,
    tag_list,
    tags_attributes,
    unique,
    update_tags,
    wait,
)

# State attribute -> ModifyDBInstance parameter, for everything that changes in place.
MODIFIABLE = {
    "instance_class": "DBInstanceClass",
    "allocated_storage": "AllocatedStorage",
    "engine_version": "EngineVersion",
    "password": "MasterUserPassword",
    "backup_retention": "BackupRetentionPeriod",
    "multi_az": "MultiAZ",
}
MIN_PASSWORD_LENGTH = 8
MAX_STORAGE_GIB = 65536
MAX_BACKUP_RETENTION_DAYS = 35


class Database(CloudResource):
    TYPE = "database"
    IMPORT_DEFAULTS = {"password": None}
    SCHEMA = Schema(
        version=SCHEMA_VERSION,
        description="A managed relational database instance.",
        attributes=[
            Attribute("id", String(), computed=True, description="The identifier."),
            Attribute("identifier", String(), required=True, requires_replace=True),
            Attribute(
                "engine", String(), required=True, requires_replace=True, description="e.g. postgres, mysql."
            ),
            Attribute(
                "engine_version",
                String(),
                optional=True,
                computed=True,
                description="When unset, the cloud's default for the engine.",
            ),
            Attribute("instance_class", String(), required=True, description="e.g. db.t3.micro."),
            Attribute("allocated_storage", Number(), required=True, description="GiB; can only grow."),
            Attribute("username", String(), required=True, requires_replace=True, description="Master user."),
            Attribute("password", String(), required=True, sensitive=True, description="Master password."),
            Attribute(
                "backup_retention", Number(), optional=True, computed=True, default=7, description="Days."
            ),
            Attribute("multi_az", Bool(), optional=True, computed=True, default=False),
            *tags_attributes(),
            Attribute("arn", String(), computed=True),
            Attribute("address", String(), computed=True, description="Endpoint host name."),
            Attribute("port", Number(), computed=True, description="Endpoint port."),
        ],
    )

    @property
    def rds(self) -> Any:
        return self.provider.client("rds")

    def _check(self, diagnostics: Diagnostics, config: Config) -> None:
        password = config.get("password")
        if given(password) and len(password) < MIN_PASSWORD_LENGTH:
            diagnostics.add_error(
                f"The password needs at least {MIN_PASSWORD_LENGTH} characters", path=["password"]
            )
        check_whole(diagnostics, config, "allocated_storage", 1, MAX_STORAGE_GIB)
        check_whole(diagnostics, config, "backup_retention", 0, MAX_BACKUP_RETENTION_DAYS)

    def _plan(self, ctx: PlanContext, current: State | None, planned: State) -> State:
        if (
            current
            and given(planned["allocated_storage"])
            and planned["allocated_storage"] < current["allocated_storage"]
        ):
            ctx.diagnostics.add_error(
                f"Storage cannot shrink from {current['allocated_storage']} to {planned['allocated_storage']} GiB",
                path=["allocated_storage"],
            )
        return planned

    def _create(self, planned: State) -> str:
        params: dict[str, Any] = {}
        if given(planned["engine_version"]):
            params["EngineVersion"] = planned["engine_version"]
        tags = self._wanted_tags(planned)
        if tags:
            params["Tags"] = tag_list(tags)
        with unique(f'Database "{planned["identifier"]}"'):
            self.rds.create_db_instance(
                DBInstanceIdentifier=planned["identifier"],
                Engine=planned["engine"],
                DBInstanceClass=planned["instance_class"],
                AllocatedStorage=planned["allocated_storage"],
                MasterUsername=planned["username"],
                MasterUserPassword=planned["password"],
                BackupRetentionPeriod=planned["backup_retention"],
                MultiAZ=planned["multi_az"],
                **params,
            )
        return planned["identifier"]

    def _await(self, object_id: str, new: bool) -> None:
        wait(self.rds, "db_instance_available", DBInstanceIdentifier=object_id)

    def _identity(self, state: State) -> str | None:
        return f'identifier "{state["identifier"]}"'

    def _find(self, planned: State, workspace: str) -> list[str]:
        found = absent(
            lambda: self.rds.describe_db_instances(DBInstanceIdentifier=planned["identifier"])["DBInstances"]
        )
        if not found or found[0]["DBInstanceStatus"] == "deleting":
            return []
        tags = tag_dict(found[0].get("TagList"))
        return [planned["identifier"]] if tags.get(WORKSPACE_TAG) == workspace else []

    def _read(self, object_id: str, known: State) -> State | None:
        found = absent(lambda: self.rds.describe_db_instances(DBInstanceIdentifier=object_id)["DBInstances"])
        if not found or found[0]["DBInstanceStatus"] == "deleting":
            return None
        database = found[0]
        endpoint = database.get("Endpoint", {})
        return {
            "id": object_id,
            "identifier": database["DBInstanceIdentifier"],
            "engine": database["Engine"],
            "engine_version": database["EngineVersion"],
            "instance_class": database["DBInstanceClass"],
            "allocated_storage": database["AllocatedStorage"],
            "username": database["MasterUsername"],
            "password": known["password"],
            "backup_retention": database["BackupRetentionPeriod"],
            "multi_az": database["MultiAZ"],
            **self._tags_state(tag_dict(database.get("TagList")), known),
            "arn": database["DBInstanceArn"],
            "address": endpoint.get("Address"),
            "port": endpoint.get("Port"),
        }

    def _converge(self, object_id: str, current: State, planned: State) -> None:
        arn = current["arn"]
        update_tags(
            current["tags_all"],
            self._wanted_tags(planned),
            put=lambda tags: self.rds.add_tags_to_resource(ResourceName=arn, Tags=tag_list(tags)),
            remove=lambda keys: self.rds.remove_tags_from_resource(ResourceName=arn, TagKeys=keys),
        )
        changes = {
            parameter: planned[attribute]
            for attribute, parameter in MODIFIABLE.items()
            if given(planned[attribute]) and planned[attribute] != current[attribute]
        }
        if not changes:
            return
        if "EngineVersion" in changes:
            changes["AllowMajorVersionUpgrade"] = True
        self.rds.modify_db_instance(DBInstanceIdentifier=object_id, ApplyImmediately=True, **changes)
        wait(self.rds, "db_instance_available", DBInstanceIdentifier=object_id)

    def _delete(self, current: State) -> None:
        if absent(
            lambda: self.rds.delete_db_instance(DBInstanceIdentifier=current["id"], SkipFinalSnapshot=True)
        ):
            wait(self.rds, "db_instance_deleted", DBInstanceIdentifier=current["id"])
