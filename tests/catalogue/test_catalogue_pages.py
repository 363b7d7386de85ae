"""The catalogue page (the whole 1+14+N, filters, search) and the offering page with its generated form."""
import pytest
from django.test import Client

from catalogue.choices import CloudStatus, CloudTier
from portal.choices import Role
from tests.catalogue.factories import CloudFactory, OfferingFactory, ServiceFactory
from tests.matrix import Matrix, assert_matrix
from tests.portal.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(db):
    gov = CloudFactory(slug="gov", name="政务云", tier=CloudTier.GOVERNMENT, allowed_classifications=[1, 2, 3, 4])
    edu = CloudFactory(slug="edu", name="教育云", tier=CloudTier.INDUSTRY)
    olympic = CloudFactory(slug="olympic", name="冬奥云", tier=CloudTier.SPECIALTY, allowed_classifications=[1, 2])
    retired = CloudFactory(slug="old", name="旧云", tier=CloudTier.INDUSTRY, status=CloudStatus.RETIRED)
    vm, bucket = ServiceFactory(slug="vm"), ServiceFactory(slug="bucket")
    offerings = {
        "gov-vm": OfferingFactory(cloud=gov, service=vm),
        "edu-vm": OfferingFactory(cloud=edu, service=vm),
        "edu-bucket": OfferingFactory(cloud=edu, service=bucket, usage_rules={"storage_gb": {"from": "quota_gb"}}),
        "olympic-vm": OfferingFactory(cloud=olympic, service=vm),
        "disabled": OfferingFactory(cloud=olympic, service=bucket, enabled=False),
        "retired": OfferingFactory(cloud=retired, service=vm),
    }
    return offerings


def page(user, url):
    client = Client()
    client.force_login(user)
    return client.get(url)


def test_catalogue_shows_the_three_tiers_with_their_clouds(requester, catalogue):
    html = page(requester, "/catalogue/").content.decode()
    for tier in ('data-tier="government"', 'data-tier="industry"', 'data-tier="specialty"'):
        assert tier in html
    for name in ("政务云", "教育云", "冬奥云"):
        assert name in html
    assert "旧云" not in html  # retired clouds are gone for requesters


def test_filter_by_tier_cloud_service_and_search(requester, catalogue):
    html = page(requester, "/catalogue/?tier=specialty").content.decode()
    assert 'data-cloud="olympic"' in html and 'data-cloud="edu"' not in html
    html = page(requester, "/catalogue/?cloud=edu&service=bucket").content.decode()
    assert 'data-cloud="edu"' in html and 'data-cloud="gov"' not in html
    assert f'/catalogue/offerings/{catalogue["edu-bucket"].pk}/' in html
    assert f'/catalogue/offerings/{catalogue["edu-vm"].pk}/' not in html
    html = page(requester, "/catalogue/?q=冬奥").content.decode()
    assert 'data-cloud="olympic"' in html and 'data-cloud="edu"' not in html


def test_unknown_filter_value_is_an_error_not_a_crash(requester, catalogue):
    response = page(requester, "/catalogue/?tier=nonsense")
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()


def test_disabled_offerings_hidden_from_requesters_shown_to_sysadmin(requester, sysadmin, catalogue):
    disabled = f'/catalogue/offerings/{catalogue["disabled"].pk}/'
    assert disabled not in page(requester, "/catalogue/").content.decode()
    assert page(requester, disabled).status_code == 404
    assert disabled in page(sysadmin, "/catalogue/").content.decode()


def test_offering_page_renders_form_price_and_classifications(requester, catalogue):
    offering = catalogue["olympic-vm"]
    html = page(requester, f"/catalogue/offerings/{offering.pk}/").content.decode()
    assert 'name="p-flavor"' in html
    assert 'type="password"' in html  # the module's sensitive admin password
    assert "公开、内部" in html  # 冬奥云 allows public and internal data only
    assert "¥30.00" in html


def test_offering_page_permission_matrix(requester, nobody, catalogue):
    offering = catalogue["edu-vm"]
    assert_matrix(Matrix(url=f"/catalogue/offerings/{offering.pk}/", permitted=requester, no_permission=nobody),
                  marker="教育云")


def test_catalogue_page_permission_matrix(requester, nobody, catalogue):
    assert_matrix(Matrix(url="/catalogue/", permitted=requester, no_permission=nobody, list_view=True), marker="教育云")


def test_unparsable_module_shows_an_error_not_a_500(requester, catalogue):
    offering = catalogue["edu-vm"]
    module = offering.module
    broken = type(module).objects.create(
        name="vm", version="9.9.9-broken", files={"variables.tf": 'variable "x" {\n  type = \n}\n'}, digest="0" * 64
    )
    offering.module = broken
    offering.save()
    response = page(requester, f"/catalogue/offerings/{offering.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="module-error"' in html
    assert "vm" in html and "variables.tf" in html


def test_sysadmin_manages_the_catalogue_in_admin(sysadmin, catalogue):
    client = Client()
    client.force_login(sysadmin)
    assert client.get("/admin/catalogue/cloud/").status_code == 200
    assert client.get(f"/admin/catalogue/offering/{catalogue['edu-vm'].pk}/change/").status_code == 200


def test_requester_has_no_admin(requester):
    client = Client()
    client.force_login(requester)
    assert client.get("/admin/catalogue/cloud/").status_code == 302


def test_role_without_catalogue_permission_sees_no_clouds(catalogue):
    auditor = UserFactory(roles=[Role.AUDIT_ADMIN])
    html = page(auditor, "/catalogue/").content.decode()
    assert "教育云" not in html
