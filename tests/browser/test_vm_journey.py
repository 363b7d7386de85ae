"""A VM requested, approved and created through the pages, in headless Chromium: the requester fills the
form generated from the module, the plan arrives through the htmx run log, the agency approver signs from
the inbox and the cloud owner from the request page, a real Celery worker applies the plan on the local
cloud, and the requester finds the instance with its outputs. Nothing is faked."""
import re

import pytest

from catalogue.models import Cloud
from portal.demo import load_demo
from provisioning.choices import InstanceStatus, RequestStatus
from provisioning.models import Request
from tests.e2e.helpers import cloud_client

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ADMIN_PASSWORD = "Br0wser-Secret-Pw!"
VM_NAME = "edu-web-01"
JUSTIFICATION = "智慧校园教学平台 Web 服务器"
PLAN_TIMEOUT_MS = 90_000
APPLY_TIMEOUT_MS = 120_000


@pytest.fixture
def demo_portal(e2e_settings, local_clouds, celery_worker_process):
    """The demo data in the test database, 教育云 with its own account on the local cloud, a worker running."""
    load_demo()
    edu = Cloud.objects.get(slug="edu")
    local_clouds(edu)
    celery_worker_process()
    return {"cloud": edu}


def run_finished(page, timeout_ms: float) -> str:
    """Wait until the run shown in the run log area (refreshed by htmx) has finished; return its status."""
    from playwright.sync_api import expect

    run = page.locator("[data-run-status]")
    expect(run).to_have_attribute("data-run-status", re.compile(r"^(succeeded|failed|cancelled|needs_reconciliation)$"),
                                  timeout=timeout_ms)
    status = run.get_attribute("data-run-status")
    assert status == "succeeded", f"run ended {status}:\n{run.inner_text()}"
    return status


def test_requester_gets_a_vm_through_two_approvals(portal_browser, demo_portal):
    from playwright.sync_api import expect

    portal = portal_browser

    # The requester fills the form generated from the module's variables.tf.
    requester = portal.sign_in("requester")
    requester.locator("nav.mainnav").get_by_role("link", name="服务目录").click()
    requester.locator("article[data-cloud=edu]").get_by_role("link", name="云主机").click()
    expect(requester.locator("h1")).to_have_text("云主机 · 教育云")
    form = requester.get_by_test_id("request-form")
    form.locator("[name=p-name]").fill(VM_NAME)
    form.locator("[name=p-flavor]").select_option("small")
    form.locator("[name=p-data_disk_gb]").fill("20")
    form.locator("[name=p-admin_password]").fill(ADMIN_PASSWORD)
    form.locator("[name=r-justification]").fill(JUSTIFICATION)
    submit = requester.get_by_test_id("submit-request")
    expect(submit).to_have_text("提交申请")
    submit.click()
    requester.wait_for_url(re.compile(r"/requests/\d+/$"))
    pk = int(re.search(r"/requests/(\d+)/$", requester.url).group(1))
    expect(requester.locator(".messages")).to_contain_text("已提交，正在生成执行计划")

    # The plan arrives while the requester watches: htmx polls the run log until the run is done, then
    # reloads the page, which shows the request's new status with no reload by hand.
    run_finished(requester, PLAN_TIMEOUT_MS)
    expect(requester.get_by_test_id("request-status")).to_have_text("待审批")
    summary = requester.get_by_test_id("plan-summary")
    expect(summary).to_contain_text("pcloud_instance")
    expect(summary.locator(".plan-action.create").first).to_be_visible()
    expect(requester.locator(".stage[data-stage='1'] .badge")).to_have_text("审批中")

    # The agency approver signs the first stage from the inbox.
    approver = portal.sign_in("agency_approver")
    approver.locator("nav.mainnav").get_by_role("link", name=re.compile("待我审批")).click()
    row = approver.locator(f"tr[data-request='{pk}']")
    expect(row).to_contain_text("教育云 · 云主机")
    row.locator("input[name=comment]").fill("同意，请云主管部门审核")
    row.get_by_role("button", name="同意").click()
    expect(approver.locator(".messages")).to_contain_text("已同意 REQ-")
    expect(approver.locator(f"tr[data-request='{pk}']")).to_have_count(0)

    # The cloud owner signs the last stage on the request page, looking at the plan.
    owner = portal.sign_in("cloud_owner")
    owner.goto(f"/requests/{pk}/")
    expect(owner.get_by_test_id("plan-summary")).to_contain_text("pcloud_instance")
    owner.get_by_test_id("approve").click()
    expect(owner.locator(".messages")).to_contain_text("第 2 环节")
    expect(owner.get_by_test_id("request-status")).to_have_text(re.compile("开通中|已完成"))

    # The worker applies the approved plan; the requester sees the request through to the instance.
    requester.reload()
    run_finished(requester, APPLY_TIMEOUT_MS)
    expect(requester.get_by_test_id("request-status")).to_have_text("已完成")
    # Follow the link by its address: the page may be swapping in its last live refresh as the click lands.
    requester.goto(requester.get_by_role("link", name="查看资源").get_attribute("href"))
    expect(requester.get_by_test_id("instance-status")).to_have_text("运行中")
    outputs = requester.get_by_test_id("outputs")
    instance_id = outputs.locator("dt:has(code:text-is('instance_id')) + dd").inner_text().strip()
    private_ip = outputs.locator("dt:has(code:text-is('private_ip')) + dd").inner_text().strip()
    assert re.fullmatch(r"i-[0-9a-f]+", instance_id), instance_id
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", private_ip), private_ip

    # The database and the cloud agree with what the pages said.
    request = Request.objects.select_related("instance", "workspace").get(pk=pk)
    assert request.status == RequestStatus.COMPLETED
    assert request.instance.status == InstanceStatus.ACTIVE
    assert request.instance.outputs["instance_id"] == instance_id
    ec2 = cloud_client(demo_portal["cloud"], "ec2")
    running = [
        instance
        for reservation in ec2.describe_instances(
            Filters=[{"Name": "tag:portal:workspace", "Values": [str(request.workspace_id)]},
                     {"Name": "instance-state-name", "Values": ["running"]}]
        )["Reservations"]
        for instance in reservation["Instances"]
    ]
    assert [instance["InstanceId"] for instance in running] == [instance_id]

    # Every page the three browsers received was Chinese, and none carried the administrator password.
    pages = [body for url, body in portal.answers if "<html" in body]  # live refreshes come as fragments
    assert len(pages) >= 8, [url for url, _body in portal.answers]
    assert all('lang="zh-hans"' in body for body in pages)
    # The recorder saw the request page itself: the justification typed beside the password is there.
    assert any(JUSTIFICATION in body for url, body in portal.answers if url.endswith(f"/requests/{pk}/"))
    leaked = [url for url, body in portal.answers if ADMIN_PASSWORD in body]
    assert leaked == [], f"the admin password reached these pages: {leaked}"
    # The whole journey (htmx's live refreshes, forms, approvals) ran under the content security policy.
    assert not portal.csp_violations, "\n".join(portal.csp_violations)
