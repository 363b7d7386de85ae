"""Words a person reads (issue 7, point 9): parameters with their form labels and plain values, stage conditions
in words, names in the reader's language, messages that say what happened, one wording for form errors with a
summary that links to each field, a password kept when another field is wrong, and a confirmation before
cancelling or decommissioning."""
import html as html_lib
import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from catalogue.models import Cloud
from portal.choices import Role
from provisioning.choices import RequestKind, RequestStatus, StageCondition
from provisioning.models import PolicyStage, Request
from tests.catalogue.factories import OfferingFactory, ServiceFactory
from tests.portal.factories import UserFactory
from tests.provisioning.clients import html, signed_in
from tests.provisioning.conftest import PASSWORD, VM, finish_run, make_policy
from tests.provisioning.test_pages import action_url, change_url, completed, detail_url, form_data
from tests.provisioning.test_requests import approve_all, awaiting, create, submitted

pytestmark = pytest.mark.django_db

REPR = re.compile(r"\{'|': |\bNone\b|\bTrue\b|\bFalse\b|\[\d|\['")


def english(user):
    client = signed_in(user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def facts(page: str) -> dict[str, str]:
    """Every <dt>label</dt><dd>value</dd> of the page: label → the value's text, tags stripped."""
    pairs = re.findall(r"<dt[^>]*>(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>", page, re.S)
    return {text(label): text(value) for label, value in pairs}


def text(fragment: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def visible(page: str) -> str:
    """The page as a person reads it: no tags, attributes, scripts or styles."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return text(body)


# Parameters: form labels and plain values ------------------------------------------------------------------


NETWORK = {
    "name": "edu-net",
    "cidr_block": "10.20.0.0/16",
    "subnets": [{"name": "web", "cidr": "10.20.1.0/24", "zone": "cn-north-1a"}],
    "ingress_rules": [{"port": 443, "protocol": "tcp", "cidr": "10.0.0.0/8"}],
    "tags": {"owner": "jyt", "env": "prod"},
}


@pytest.fixture
def network_offering(cloud):
    return OfferingFactory(cloud=cloud, service=ServiceFactory(slug="network"), usage_rules={}, unit_prices={})


@pytest.fixture
def bucket_offering(cloud):
    return OfferingFactory(cloud=cloud, service=ServiceFactory(slug="bucket"), usage_rules={}, unit_prices={})


def test_request_page_shows_nested_parameters_as_labelled_tables_and_lines(journey, network_offering):
    request = create(journey["requester"], network_offering, parameters=NETWORK)

    page = html(journey["requester"], detail_url(request))

    shown = facts(page)
    assert shown["名称"] == "edu-net" and shown["网段（CIDR）"] == "10.20.0.0/16"
    # A list of objects is a small table headed by the module's labels, a map is "key: value" lines.
    assert shown["子网"] == "名称 网段（CIDR） 可用区 web 10.20.1.0/24 cn-north-1a"
    assert shown["入站规则"] == "端口 协议 网段（CIDR） 443 tcp 10.0.0.0/8"
    # Map keys come back in the database's order (PostgreSQL's jsonb sorts them).
    assert {"owner : jyt", "env : prod"} <= set(_pairs(shown["标签"]))
    assert '<table class="value-table">' in page
    readable = visible(page)
    for raw in ("cidr_block", "ingress_rules", "{'", "'port'", "[{"):
        assert raw not in readable, raw


def test_booleans_read_yes_and_no_and_lists_are_joined(journey, bucket_offering):
    request = create(
        journey["requester"], bucket_offering,
        parameters={"name": "edu-data", "versioning": True, "force_destroy": False, "quota_gb": 100},
    )

    shown = facts(html(journey["requester"], detail_url(request)))

    assert shown["版本控制"] == "是" and shown["强制删除"] == "否"
    assert "True" not in shown.values() and "False" not in shown.values()

    with_ports = create(journey["requester"], journey["offering"], parameters={**VM, "allowed_ports": [22, 443]})
    assert facts(html(journey["requester"], detail_url(with_ports)))["开放端口"] == "22、443"


def test_instance_pages_show_labels_and_plain_values_and_never_the_secret(journey):
    request = completed(journey)
    instance = request.instance
    for url in (reverse("provisioning:instance_detail", args=[instance.pk]), change_url(instance, "decommission"),
                change_url(instance, "extend")):
        page = html(journey["requester"], url)
        shown = facts(page)
        assert shown["规格"] == "medium" and shown["数据盘（GB）"] == "100", url
        assert "管理员密码" not in shown and PASSWORD not in page, url
        assert "data_disk_gb" not in visible(page) and "system_disk_gb" not in visible(page), url


def test_english_pages_use_the_module_labels_in_english(journey):
    request = completed(journey)
    page = english(journey["requester"]).get(detail_url(request)).content.decode()
    shown = facts(page)
    assert shown["Machine size"] == "medium" and shown["Data disk (GB)"] == "100"
    assert "规格" not in shown and "Data disk gb" not in shown


def test_plan_summary_shows_changes_in_plain_words_not_python_reprs(journey):
    request = submitted(journey["requester"], journey["offering"])
    finish_run(request.plan_run, plan_summary=[{
        "address": "module.main.pcloud_security_group.this", "type": "pcloud_security_group", "name": "this",
        "action": "update",
        "changes": [
            {"attribute": "ingress", "before": [],
             "after": [{"from_port": 22, "to_port": None, "cidr_blocks": ["10.0.0.0/8"], "self": False}]},
            {"attribute": "tags", "before": {"owner": "jyt"}, "after": {"owner": "jyt", "env": "prod"}},
            {"attribute": "arn", "before": "arn:1", "after": "(known after apply)"},
        ],
    }])

    page = html(journey["requester"], detail_url(request))

    summary = page[page.index('data-testid="plan-summary"'):]
    summary = summary[: summary.index("</table>\n")]
    assert REPR.search(text(summary)) is None, text(summary)
    assert "{&#x27;" not in summary and "&#x27;to_port&#x27;" not in summary
    assert {"owner : jyt", "env : prod"} <= set(_pairs(text(summary)))
    assert "（执行后可知）" in summary and "(known after apply)" not in summary
    assert ">变更</span>" in summary  # the action by its name, not "update"


# Stage conditions in words ---------------------------------------------------------------------------------


@pytest.fixture
def conditional_policy(db):
    PolicyStage.objects.all().delete()
    return make_policy("按条件审批", stages=[
        {"name": "单位审批", "name_en": "Agency approval", "approver_role": "agency_approver",
         "condition": StageCondition.CLASSIFICATION_AT_LEAST, "condition_value": "1"},
        {"name": "财务审核", "approver_role": "finance_reviewer", "condition": StageCondition.COST_AT_LEAST,
         "condition_value": "5000"},
        {"name": "退订复核", "approver_role": "cloud_owner", "condition": StageCondition.REQUEST_KIND,
         "condition_value": "decommission"},
    ])


def test_stage_conditions_read_in_words_on_the_request_page_and_in_the_inbox(
    requester, agency_approver, offering, conditional_policy
):
    request = awaiting(requester, offering, data_classification=2)

    page = visible(html(requester, detail_url(request)))
    assert "数据分级不低于“公开”" in page
    assert "月费用不低于 ¥5,000" in page
    assert "申请类型为“退订”" in page
    assert "不低于 1" not in page and "不低于 5000" not in page and "decommission" not in page

    inbox = visible(html(agency_approver, reverse("provisioning:approval_inbox")))
    assert "数据分级不低于“公开”" in inbox

    english_page = visible(english(requester).get(detail_url(request)).content.decode())
    assert "Data classification at least “Public”" in english_page
    assert "Monthly cost at least ¥5,000" in english_page
    assert "Request type is “Decommission”" in english_page


@pytest.mark.parametrize(
    ("condition", "value", "words"),
    [
        (StageCondition.COST_AT_LEAST, "12500.50", "月费用不低于 ¥12,500.50"),
        (StageCondition.COST_AT_LEAST, "5000.00", "月费用不低于 ¥5,000"),
        (StageCondition.COST_AT_LEAST, "abc", "月费用不低于 abc"),
        (StageCondition.CLASSIFICATION_AT_LEAST, "3", "数据分级不低于“敏感”"),
        (StageCondition.REQUEST_KIND, "modify, decommission", "申请类型为“变更”或“退订”"),
        (StageCondition.ALWAYS, "", ""),
    ],
)
def test_condition_text(condition, value, words):
    assert PolicyStage(condition=condition, condition_value=value).condition_text == words


# Names in the reader's language ----------------------------------------------------------------------------


@pytest.fixture
def english_names(journey, agency, cloud, offering, default_policy):
    agency.name_en = "Provincial Department of Education"
    agency.save()
    cloud.name_en = "Education Cloud"
    cloud.save()
    cloud.owner_agency.name_en = "Provincial Data Administration"
    cloud.owner_agency.save()
    offering.service.name_en = "Virtual Machine"
    offering.service.save()
    default_policy.name_en = "Default approval"
    default_policy.save()
    default_policy.stages.filter(order=1).update(name_en="Agency approval")
    default_policy.stages.filter(order=2).update(name_en="Cloud owner approval")
    return journey


def test_english_pages_show_english_names_throughout(english_names):
    journey = english_names
    # A title is the requester's own words (the default one is made in Chinese: noted for the services).
    request = awaiting(journey["requester"], journey["offering"], title="Teaching platform", justification="Teaching")
    done = approve_all(
        awaiting(journey["requester"], journey["offering"], title="Teaching web", justification="Teaching"), journey
    )
    finish_run(done.apply_run)
    instance = Request.objects.get(pk=done.pk).instance
    pages = {
        "catalogue": (journey["requester"], reverse("catalogue:index")),
        "offering": (journey["requester"], reverse("catalogue:offering_detail", args=[journey["offering"].pk])),
        "requests": (journey["requester"], reverse("provisioning:request_list")),
        "request": (journey["requester"], detail_url(request)),
        "inbox": (journey["approver"], reverse("provisioning:approval_inbox")),
        "instances": (journey["requester"], reverse("provisioning:instance_list")),
        "instance": (journey["requester"], reverse("provisioning:instance_detail", args=[instance.pk])),
        "dashboard": (journey["approver"], reverse("dashboard")),
    }
    for where, (user, url) in pages.items():
        page = visible(english(user).get(url).content.decode())
        assert "Education Cloud" in page, where
        # People's names and the switch to Chinese are the only Chinese left.
        people = {person.get_full_name() for person in type(user).objects.all()}
        chinese = [word for word in re.findall(r"[\u4e00-\u9fff]+", page) if word != "简体中文"]
        assert not [word for word in chinese if not any(word in name for name in people)], (where, chinese)
    assert "Virtual Machine" in visible(english(journey["requester"]).get(pages["offering"][1]).content.decode())
    request_page = visible(english(journey["requester"]).get(detail_url(request)).content.decode())
    assert "Agency approval" in request_page and "Cloud owner approval" in request_page
    assert "单位审批" not in request_page and "Provincial Department of Education" in request_page
    inbox = visible(english(journey["approver"]).get(reverse("provisioning:approval_inbox")).content.decode())
    assert "Agency approval" in inbox and "单位审批" not in inbox
    # Chinese pages keep the Chinese names.
    assert "教育云" in visible(html(journey["requester"], detail_url(request)))


def test_a_missing_english_name_falls_back_to_chinese(journey):
    request = awaiting(journey["requester"], journey["offering"])
    page = visible(english(journey["requester"]).get(detail_url(request)).content.decode())
    assert "教育云" in page and "单位审批" in page


def test_request_stages_keep_the_english_name_the_policy_had_at_submit(english_names):
    request = awaiting(english_names["requester"], english_names["offering"])
    PolicyStage.objects.filter(order=1).update(name_en="Renamed later")
    assert list(request.stages.values_list("name_en", flat=True)) == ["Agency approval", "Cloud owner approval"]


def test_the_api_gives_english_names_beside_chinese(english_names):
    from tests.provisioning.clients import Api

    journey = english_names
    request = awaiting(journey["requester"], journey["offering"])
    api = Api(journey["requester"])
    cloud = next(c for c in api.get("/api/v1/clouds/").json()["results"] if c["slug"] == "edu")
    assert (cloud["name"], cloud["name_en"]) == ("教育云", "Education Cloud")
    assert cloud["owner_agency_en"] == "Provincial Data Administration"
    offering = api.get(f"/api/v1/offerings/{journey['offering'].pk}/").json()
    assert offering["cloud_name_en"] == "Education Cloud" and offering["service"]["name_en"] == "Virtual Machine"
    answer = api.get(f"/api/v1/requests/{request.pk}/").json()
    assert answer["agency_en"] == "Provincial Department of Education"
    assert [stage["name_en"] for stage in answer["stages"]] == ["Agency approval", "Cloud owner approval"]


def test_demo_data_names_everything_in_english(db):
    from portal.demo import load_demo
    from portal.models import Agency
    from provisioning.models import ApprovalPolicy

    load_demo()
    for model in (Agency, Cloud, ServiceFactory._meta.model, ApprovalPolicy, PolicyStage):
        assert not model.objects.filter(name_en="").exists(), model.__name__


# Success messages say what happened ------------------------------------------------------------------------


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_approve_and_reject_say_which_request_and_stage(journey, other_requester):
    request = awaiting(journey["requester"], journey["offering"])
    response = signed_in(journey["approver"]).post(action_url(request, "approve"), {"comment": "同意"}, follow=True)
    assert f"已同意 {request.number} 第 1 环节“单位审批”。" in messages_of(response)
    assert "操作成功。" not in response.content.decode()

    response = signed_in(journey["owner"]).post(action_url(request, "reject"), {"comment": "预算不足"}, follow=True)
    assert f"已驳回 {request.number} 第 2 环节“云主管部门审批”。" in messages_of(response)


def test_approving_in_english_names_the_stage_in_english(english_names):
    request = awaiting(english_names["requester"], english_names["offering"])
    response = english(english_names["approver"]).post(action_url(request, "approve"), {"next": "inbox"}, follow=True)
    assert f"Approved {request.number}, stage 1 “Agency approval”." in messages_of(response)


def test_submit_cancel_and_day2_say_what_happened(journey):
    draft = create(journey["requester"], journey["offering"])
    client = signed_in(journey["requester"])
    response = client.post(action_url(draft, "submit"), follow=True)
    assert f"已提交 {draft.number}，正在生成执行计划。" in messages_of(response)
    response = client.post(action_url(draft, "cancel"), {"confirm": "yes"}, follow=True)
    assert f"已撤销 {draft.number}。" in messages_of(response)

    instance = completed(journey).instance
    response = client.post(
        change_url(instance, "decommission"), {"confirm_name": instance.name, "justification": "停用"}, follow=True
    )
    created = Request.objects.get(kind=RequestKind.DECOMMISSION)
    assert f"已提交退订申请 {created.number}。" in messages_of(response)


# Form errors: one wording, a summary that links to each field, the password kept ------------------------------


def test_form_errors_use_one_wording_and_the_summary_links_to_each_field(journey):
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    response = signed_in(journey["requester"]).post(
        url, form_data(**{"p-name": "", "r-justification": "", "r-lease_months": "0"})
    )
    page = response.content.decode()

    assert page.count("此项为必填项。") >= 2  # the module's field and the request's own field, in one wording
    assert "这个字段是必填项。" not in page
    assert "不能小于 1。" in page
    summary = page[page.index('data-testid="error-summary"'):]
    summary = summary[: summary.index("</div>")]
    anchors = re.findall(r'href="#([^"]+)"', summary)
    assert anchors == ["id_p-name", "id_r-justification", "id_r-lease_months"]
    for anchor in anchors:
        assert f'id="{anchor}"' in page  # each link lands on its field
    assert "名称：此项为必填项。" in text(summary)


def test_english_form_errors_use_the_same_wording(journey):
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    page = english(journey["requester"]).post(url, form_data(**{"p-name": "", "r-justification": ""})).content.decode()
    assert page.count("This field is required.") >= 2
    assert "Please correct the following" in page


def test_the_password_is_kept_when_another_field_is_wrong(journey):
    url = reverse("provisioning:request_create", args=[journey["offering"].pk])
    page = signed_in(journey["requester"]).post(url, form_data(**{"r-justification": ""})).content.decode()
    assert f'name="p-admin_password" value="{PASSWORD}"' in page.replace('type="password" ', "")
    assert Request.objects.count() == 0


def test_a_new_password_typed_into_modify_is_kept_but_the_stored_one_never_shows(journey):
    instance = completed(journey).instance
    new = "N3w-Admin-Passw0rd!"
    from tests.provisioning.test_pages import change_data

    page = signed_in(journey["requester"]).post(
        change_url(instance, "modify"), change_data("modify", **{"p-name": "Bad_Name", "p-admin_password": new})
    ).content.decode()
    assert new in page and PASSWORD not in page
    assert 'href="#id_p-name"' in page  # the summary
    kept = signed_in(journey["requester"]).post(
        change_url(instance, "modify"), change_data("modify", **{"p-name": "Bad_Name", "p-admin_password": ""})
    ).content.decode()
    assert PASSWORD not in kept


def test_day2_form_errors_have_the_summary(journey):
    instance = completed(journey).instance
    page = signed_in(journey["requester"]).post(
        change_url(instance, "decommission"), {"confirm_name": "wrong", "justification": ""}
    ).content.decode()
    summary = page[page.index('data-testid="error-summary"'):]
    assert re.findall(r'href="#([^"]+)"', summary[: summary.index("</div>")]) == ["id_confirm_name", "id_justification"]


# Cancel and decommission ask first -------------------------------------------------------------------------


def test_cancel_asks_for_confirmation_and_get_changes_nothing(journey):
    request = awaiting(journey["requester"], journey["offering"])
    client = signed_in(journey["requester"])
    detail = html(journey["requester"], detail_url(request))
    assert f'href="{action_url(request, "cancel")}"' in detail  # a link to the question, not a button that cancels

    page = client.get(action_url(request, "cancel"))
    assert page.status_code == 200 and 'data-testid="cancel-confirmation"' in page.content.decode()
    assert 'name="confirm" value="yes"' in page.content.decode()
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL

    response = client.post(action_url(request, "cancel"))  # no confirmation: back to the question
    assert response.status_code == 302 and response["Location"] == action_url(request, "cancel")
    request.refresh_from_db()
    assert request.status == RequestStatus.AWAITING_APPROVAL

    client.post(action_url(request, "cancel"), {"confirm": "yes"})
    request.refresh_from_db()
    assert request.status == RequestStatus.CANCELLED


def test_the_cancel_question_is_404_for_outsiders_and_refused_for_who_may_not_cancel(journey, other_requester):
    request = awaiting(journey["requester"], journey["offering"])
    assert signed_in(other_requester).get(action_url(request, "cancel")).status_code == 404
    response = signed_in(journey["approver"]).get(action_url(request, "cancel"), follow=True)
    assert response.redirect_chain[-1][0] == detail_url(request)
    assert f"申请 {request.number} 当前不能撤销。" in messages_of(response)


def test_decommission_page_warns_what_will_be_destroyed_before_anything_is_asked(journey):
    instance = completed(journey).instance
    page = html(journey["requester"], change_url(instance, "decommission"))
    warning = text(page[page.index('data-testid="decommission-warning"'):page.index("</section>")])
    assert "数据无法恢复" in warning and "module.main.pcloud_instance.this" in warning
    assert not Request.objects.filter(kind=RequestKind.DECOMMISSION).exists()
    # Without the name typed as confirmation nothing is asked for.
    signed_in(journey["requester"]).post(change_url(instance, "decommission"), {"confirm_name": "", "justification": "x"})
    assert not Request.objects.filter(kind=RequestKind.DECOMMISSION).exists()


def test_approver_sees_the_cost_condition_with_the_amount(requester, agency_approver, offering):
    PolicyStage.objects.all().delete()
    make_policy("财务", stages=[{"name": "单位审批", "approver_role": "agency_approver",
                                 "condition": StageCondition.COST_AT_LEAST, "condition_value": "0"}])
    request = awaiting(requester, offering)
    assert request.monthly_cost >= Decimal(0)
    assert "月费用不低于 ¥0" in visible(html(agency_approver, reverse("provisioning:approval_inbox")))


def test_english_agency_name_in_header(english_names):
    user = UserFactory(agency=english_names["requester"].agency, roles=[Role.REQUESTER])
    assert "Provincial Department of Education" in visible(english(user).get(reverse("dashboard")).content.decode())


def _pairs(words: str) -> list[str]:
    """'a : 1 b : 2' read as its 'key : value' pairs, whatever their order."""
    tokens = words.split()
    return [f"{tokens[i - 1]} : {tokens[i + 1]}" for i, token in enumerate(tokens) if token == ":" and 0 < i < len(tokens) - 1]
