"""Stages, instances and quota reservations move through their tables like requests and runs: every ordered
pair of statuses is tried against the table through the machine's one door, a stale compare-and-set loses,
and no code outside the doors writes a status."""
import ast
import itertools
from decimal import Decimal
from pathlib import Path

import pytest

import provisioning
from portal.errors import Conflict
from portal.models import AuditEvent
from provisioning.choices import (
    INSTANCE_TRANSITIONS,
    RESERVATION_TRANSITIONS,
    STAGE_TRANSITIONS,
    InstanceStatus,
    ReservationStatus,
    StageStatus,
)
from provisioning.models import Instance, QuotaLimit, QuotaReservation, RequestStage
from provisioning.services.instances import instance_move
from provisioning.services.quotas import reservation_move
from provisioning.services.requests import stage_move
from tests.provisioning.factories import WorkspaceFactory
from tests.provisioning.test_requests import create

pytestmark = pytest.mark.django_db


@pytest.fixture
def stage(journey):
    request = create(journey["requester"], journey["offering"])
    return RequestStage.objects.create(request=request, order=1, name="单位审批", approver_role="agency_approver",
                                       mode="any", condition="always")


@pytest.fixture
def instance(journey):
    request = create(journey["requester"], journey["offering"])
    workspace = WorkspaceFactory(cloud=request.offering.cloud, agency=request.agency)
    return Instance.objects.create(name="web-01", agency=request.agency, offering=request.offering,
                                   workspace=workspace, data_classification=2)


@pytest.fixture
def reservation(journey, agency, cloud):
    request = create(journey["requester"], journey["offering"])
    limit = QuotaLimit.objects.create(agency=agency, cloud=cloud, dimension="vcpu", limit=10)
    return QuotaReservation.objects.create(request=request, limit=limit, amount=Decimal(2))


MACHINES = {
    "stage": (STAGE_TRANSITIONS, StageStatus, stage_move, "stage"),
    "instance": (INSTANCE_TRANSITIONS, InstanceStatus, instance_move, "instance"),
    "reservation": (RESERVATION_TRANSITIONS, ReservationStatus, reservation_move, "quota"),
}
PAIRS = [
    (machine, before, after)
    for machine, (table, choices, _move, _prefix) in MACHINES.items()
    for before, after in itertools.product(choices.values, repeat=2)
]


def test_every_status_has_a_row_in_its_table():
    for table, choices, _move, _prefix in MACHINES.values():
        assert set(table) == set(choices.values)
        assert all(targets <= set(choices.values) for targets in table.values())
        assert choices.terminal() == {status for status, targets in table.items() if not targets}


@pytest.mark.parametrize(("machine", "before", "after"), PAIRS)
def test_every_ordered_pair_of_statuses(request, machine, before, after):
    """A move in the table happens with its audit event, in one transaction; any other move is a Conflict
    that changes nothing and records nothing."""
    table, _choices, move, prefix = MACHINES[machine]
    obj = request.getfixturevalue(machine)
    type(obj).objects.filter(pk=obj.pk).update(status=before)
    obj.refresh_from_db()
    events_before = AuditEvent.objects.filter(action__startswith=f"{prefix}.").count()
    if after in table[before]:
        move(obj, after)
        assert type(obj).objects.get(pk=obj.pk).status == after
        event = AuditEvent.objects.filter(action__startswith=f"{prefix}.").latest("id")
        assert event.details["from"] == before
        assert AuditEvent.objects.filter(action__startswith=f"{prefix}.").count() == events_before + 1
    else:
        with pytest.raises(Conflict):
            move(obj, after)
        assert type(obj).objects.get(pk=obj.pk).status == before
        assert AuditEvent.objects.filter(action__startswith=f"{prefix}.").count() == events_before


@pytest.mark.parametrize("machine", MACHINES)
def test_a_move_from_a_stale_status_loses_the_race(request, machine):
    table, _choices, move, prefix = MACHINES[machine]
    obj = request.getfixturevalue(machine)
    stale = type(obj).objects.get(pk=obj.pk)
    first = sorted(table[obj.status])[0]
    move(obj, first)
    with pytest.raises(Conflict):
        move(stale, first)  # legal from the status it remembers, but somebody moved it first
    assert type(obj).objects.get(pk=obj.pk).status == first


# Only the doors write a status -------------------------------------------------------------------------------

STATUS_MODELS = {"Request", "Run", "RequestStage", "Instance", "QuotaReservation"}
DOOR = Path(provisioning.__file__).parent / "services" / "transitions.py"


def _status_writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        # obj.status = ...
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found += [f"{path.name}:{node.lineno}" for target in targets
                      if isinstance(target, ast.Attribute) and target.attr == "status"]
        # ....update(status=...), ....create(status=...) on a status model's queryset
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "update":
            if any(keyword.arg == "status" for keyword in node.keywords):
                found.append(f"{path.name}:{node.lineno}")
    return found


def test_nothing_outside_the_doors_writes_a_status():
    package = Path(provisioning.__file__).parent
    writes = []
    for path in package.rglob("*.py"):
        if "migrations" in path.parts or path == DOOR:
            continue
        writes += _status_writes(path)
    assert not writes, f"status written outside services/transitions.py: {writes}"


def test_the_status_write_finder_finds_writes(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("stage.status = 'open'\nInstance.objects.filter(pk=1).update(status='active')\n")
    assert _status_writes(sample) == ["sample.py:1", "sample.py:2"]
