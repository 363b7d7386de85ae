"""What a cloud offers: declared on the Cloud and checked there, offered as the form's choices, listed in the
JSON Schema, and refused by the same validation the API runs, with a message naming the cloud."""
import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation
from jsonschema import Draft202012Validator
from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

from catalogue.forms import offering_parameters_form_class
from catalogue.models import Cloud
from catalogue.module_i18n import translate_module_text
from catalogue.module_schema import validate_values
from catalogue.selectors import module_variables, offering_variables
from portal.demo import ALL_OFFERS, LOCAL_ZONES, load_demo
from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory

pytestmark = pytest.mark.django_db

PASSWORD = "Str0ng-Passw0rd!"
VM = {"name": "web-01", "admin_password": PASSWORD}
NETWORK = {"name": "edu-net", "cidr_block": "10.20.0.0/16"}
EDU_ZONES = "教育云提供的可用区为：cn-north-1a、cn-north-1b，请从中选择。"


@pytest.fixture
def edu():
    return CloudFactory(
        slug="edu", name="教育云",
        offers={"zones": ["cn-north-1a", "cn-north-1b"], "images": ["uos-20", "kylin-v10"], "flavors": ["small", "medium"]},
    )


@pytest.fixture
def vm(edu):
    return OfferingFactory(cloud=edu, service=ServiceFactory(slug="vm"))


def offers_errors(cloud: Cloud) -> list[str]:
    with pytest.raises(ValidationError) as error:
        cloud.full_clean()
    return error.value.message_dict["offers"]


# Declaring what a cloud offers ------------------------------------------------------------------------------


def test_a_cloud_must_declare_its_zones(edu):
    edu.offers = {}
    assert offers_errors(edu) == ['请填写此云的可用区（zones），例如 ["cn-north-1a", "cn-north-1b"]。']


@pytest.mark.parametrize(
    ("offers", "message"),
    [
        (["cn-north-1a"], '请填写一个 JSON 对象，例如 {"zones": ["cn-north-1a", "cn-north-1b"], "images": ["kylin-v10"]}。'),
        ({"zones": ["cn-north-1a"], "regions": ["cn-north-1"]},
         '未知的项 "regions"；可填写的项：zones（可用区）、images（操作系统镜像）、flavors（云主机规格）、db_classes（数据库规格）。'),
        ({"zones": []}, '可用区（zones）须是至少一项的文本列表，例如 ["cn-north-1a", "cn-north-1b"]；不限制时请删去此项。'),
        ({"zones": "cn-north-1a"}, '可用区（zones）须是至少一项的文本列表，例如 ["cn-north-1a", "cn-north-1b"]；不限制时请删去此项。'),
        ({"zones": ["cn-north-1a"], "flavors": [1, 2]},
         '云主机规格（flavors）须是至少一项的文本列表，例如 ["small", "medium"]；不限制时请删去此项。'),
        ({"zones": ["cn-north-1a", " cn-north-1b"]},
         '可用区（zones）中的 " cn-north-1b" 不是有效的名称：不能为空或含空白，最长 64 个字符。'),
        ({"zones": ["cn-north-1a", "cn-north-1a"]}, "可用区（zones）中的 cn-north-1a 重复了。"),
    ],
)
def test_a_malformed_declaration_says_what_to_write(edu, offers, message):
    edu.offers = offers
    assert offers_errors(edu) == [message]


def test_every_problem_is_reported_at_once(edu):
    edu.offers = {"images": [], "sizes": ["s"]}
    assert len(offers_errors(edu)) == 3  # the unknown key, the missing zones, the empty images


def test_a_declared_value_the_module_refuses_is_named_on_the_cloud_and_the_offering(vm, edu):
    edu.offers = {"zones": ["cn-north-1a", "north"], "flavors": ["small", "huge"]}
    module = str(vm.module)
    assert offers_errors(edu) == [
        f"模块 {module} 不接受可用区 north：可用区必须是可用区名称，例如 cn-north-1a。",
        f"模块 {module} 不接受云主机规格 huge：规格必须是 small、medium、large 或 xlarge 之一。",
    ]
    edu.save()
    with pytest.raises(ValidationError) as error:
        vm.full_clean()
    assert f"模块 {module} 不接受云主机规格 huge：规格必须是 small、medium、large 或 xlarge 之一。" in error.value.messages


def test_a_good_declaration_passes(vm, edu):
    edu.full_clean()
    vm.full_clean()


def test_the_demo_offers_are_what_the_local_cloud_accepts():
    """The moto server behind every demo cloud has exactly these zones in cn-north-1 (a zone outside them
    fails at apply), and every demo cloud's declaration passes its own checks against its offerings."""
    assert LOCAL_ZONES == [zone.name for zone in RegionsAndZonesBackend.zones["cn-north-1"]]
    load_demo()
    clouds = list(Cloud.objects.all())
    assert len(clouds) == 18
    for cloud in clouds:
        assert cloud.region == "cn-north-1"
        assert cloud.offers["zones"]
        assert set(cloud.offers["zones"]) <= set(LOCAL_ZONES)
        cloud.full_clean()
    # Every image and flavour the modules know is offered somewhere.
    variables = {v.name: v for v in module_variables(Cloud.objects.get(slug="edu").offerings.get(service__slug="vm").module)}
    assert ALL_OFFERS["images"] == list(variables["os_image"].choices)
    assert ALL_OFFERS["flavors"] == list(variables["flavor"].choices)


# The request form -------------------------------------------------------------------------------------------


def test_the_form_offers_the_clouds_values_as_choices(vm):
    form = offering_parameters_form_class(vm)()
    zone, image, flavor = form.fields["zone"], form.fields["os_image"], form.fields["flavor"]

    assert isinstance(zone, forms.ChoiceField)
    assert [value for value, _label in zone.choices] == ["cn-north-1a", "cn-north-1b"]
    # Narrowed in the module's order; the module's own choices (large, xlarge, centos-7…) are gone.
    assert [value for value, _label in image.choices] == ["kylin-v10", "uos-20"]
    assert [value for value, _label in flavor.choices] == ["small", "medium"]
    html = form.as_div()
    assert '<option value="cn-north-1b">' in html and "cn-north-1z" not in html and "xlarge" not in html.split("help")[0]


def test_a_default_the_cloud_does_not_offer_becomes_its_first_offered_value(vm, edu):
    edu.offers = {"zones": ["cn-north-1b"], "flavors": ["medium", "large"]}
    edu.save()
    form = offering_parameters_form_class(vm)()
    assert form.fields["zone"].initial == "cn-north-1b"  # the module says cn-north-1a
    assert form.fields["flavor"].initial == "medium"  # the module says small

    cleaned, errors = validate_values(offering_variables(vm), VM)
    assert errors == {}
    assert cleaned["zone"] == "cn-north-1b" and cleaned["flavor"] == "medium"


def test_the_form_refuses_a_value_the_cloud_does_not_offer(vm):
    data = {"name": "web-01", "admin_password": PASSWORD, "zone": "cn-north-1z", "flavor": "large",
            "os_image": "kylin-v10", "system_disk_gb": "40", "data_disk_gb": "0", "allowed_ports": "22",
            "allowed_cidrs": "10.0.0.0/8", "tags": "{}"}
    form = offering_parameters_form_class(vm)(data)

    assert not form.is_valid()
    # One message each, naming the cloud and listing what it has, in place of the module's looser rule.
    assert form.errors == {
        "zone": [EDU_ZONES],
        "flavor": ["教育云提供的云主机规格为：small、medium，请从中选择。"],
    }


def test_the_message_is_in_the_readers_language(vm):
    with translation.override("en"):
        _cleaned, errors = validate_values(offering_variables(vm), {**VM, "zone": "cn-north-1z"})
    assert errors == {"zone": ["教育云 offers these availability zones: cn-north-1a, cn-north-1b. Choose one of them."]}


def test_a_value_the_module_itself_refuses_still_gets_the_modules_message(vm):
    """The module's rules still apply beside what the cloud offers: a name is not narrowed by any cloud."""
    _cleaned, errors = validate_values(
        offering_variables(vm), {**VM, "name": "web-01-"}, translate=translate_module_text
    )
    assert errors == {"name": ["名称必须由 3 到 31 个小写字母、数字或连字符组成，以字母开头，以字母或数字结尾。"]}


def test_a_subnet_zone_is_checked_against_the_cloud_too(edu):
    network = OfferingFactory(cloud=edu, service=ServiceFactory(slug="network"))
    subnets = [{"name": "app", "cidr": "10.20.1.0/24", "zone": "cn-north-1a"},
               {"name": "db", "cidr": "10.20.2.0/24", "zone": "cn-north-1z"}]

    _cleaned, errors = validate_values(offering_variables(network), {**NETWORK, "subnets": subnets})

    assert errors == {"subnets": ["教育云提供的可用区为：cn-north-1a、cn-north-1b；每一项的 zone 须从中选择。"]}
    _cleaned, errors = validate_values(offering_variables(network), {**NETWORK, "subnets": subnets[:1]})
    assert errors == {}


def test_a_kind_the_cloud_leaves_out_is_left_to_the_module(vm, edu):
    edu.offers = {"zones": ["cn-north-1a"]}
    edu.save()
    form = offering_parameters_form_class(vm)()
    assert [value for value, _label in form.fields["flavor"].choices] == ["small", "medium", "large", "xlarge"]


# The catalogue API ------------------------------------------------------------------------------------------


def test_the_published_json_schema_lists_the_clouds_values(vm, requester):
    client = Client()
    client.force_login(requester)
    body = client.get(f"/api/v1/offerings/{vm.pk}/").json()
    schema = body["schema"]
    validator = Draft202012Validator(schema)

    Draft202012Validator.check_schema(schema)
    assert validator.is_valid({**VM, "zone": "cn-north-1b", "flavor": "medium", "os_image": "uos-20"})
    for refused in ({"zone": "cn-north-1z"}, {"flavor": "large"}, {"os_image": "centos-7"}):
        assert not validator.is_valid({**VM, **refused}), refused
    cloud = client.get("/api/v1/clouds/").json()["results"][0]
    assert cloud["offers"]["zones"] == ["cn-north-1a", "cn-north-1b"]


# The admin --------------------------------------------------------------------------------------------------


def admin_form(cloud: Cloud, offers: str) -> dict:
    return {
        "slug": cloud.slug, "name": cloud.name, "tier": cloud.tier, "description": "", "owner_agency": cloud.owner_agency_id,
        "endpoint": cloud.endpoint, "region": cloud.region, "allowed_classifications": "[1, 2, 3]", "offers": offers,
        "status": cloud.status, "sort_order": "1", "max_concurrent_runs": "2", "access_key_id": "", "secret_access_key": "",
    }


def test_a_sysadmin_edits_the_offers_in_the_admin_and_is_told_what_is_wrong(vm, edu, sysadmin):
    client = Client()
    client.force_login(sysadmin)
    url = f"/admin/catalogue/cloud/{edu.pk}/change/"
    assert 'name="offers"' in client.get(url).content.decode()

    response = client.post(url, admin_form(edu, '{"zones": ["cn-north-1a"], "flavors": ["huge"]}'))
    assert response.status_code == 200
    assert f"模块 {vm.module} 不接受云主机规格 huge" in response.content.decode()

    response = client.post(url, admin_form(edu, '{"zones": ["cn-north-1b"], "flavors": ["large"]}'))
    assert response.status_code == 302
    edu.refresh_from_db()
    assert edu.offers == {"zones": ["cn-north-1b"], "flavors": ["large"]}
