"""The walk behind the permission matrix (tests/portal/test_permission_matrix.py): every routed URL, the admin's
included, as anonymous and as one user of each role, with an object of the requester's own agency where the
URL names one; what each answers."""
import re

from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authtoken.models import Token

from catalogue.models import Cloud, ModuleVersion, Offering, Service
from portal.models import Agency, AuditEvent, NotificationChannel, User
from provisioning.models import ApprovalPolicy, CloudFinding, Instance, Notification, QuotaLimit, Request, Run

# One user of each role in the demo data (portal.demo), and the other agency's requester and approver.
USERS = ["requester", "agency_approver", "requester2", "agency_approver2", "cloud_owner", "security_reviewer",
         "finance_reviewer", "operator", "sysadmin", "secadmin", "auditor"]
ANONYMOUS = "anonymous"


def routes(patterns=None, prefix="", namespace=""):
    """(route, name) of every named URL."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace) if part)
            yield from routes(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield prefix + str(pattern.pattern), f"{namespace}:{pattern.name}" if namespace else pattern.name


def argument_names(route: str) -> list[str]:
    return [a or b for a, b in re.findall(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>", route)]


ADMIN_MODELS = {
    "portal_agency": Agency, "portal_user": User, "auth_group": Group, "portal_auditevent": AuditEvent,
    "portal_notificationchannel": NotificationChannel, "catalogue_cloud": Cloud, "catalogue_service": Service,
    "catalogue_offering": Offering, "catalogue_moduleversion": ModuleVersion,
    "provisioning_approvalpolicy": ApprovalPolicy, "provisioning_quotalimit": QuotaLimit,
}


def own_object(name: str, argument: str, owner: User):
    """The object a URL's argument names: the requester's own (their request, instance, run, notification)."""
    requests = Request.objects.filter(agency=owner.agency).order_by("pk")
    picks = {
        "request": lambda: requests.filter(plan_run__isnull=False).first(),
        "run": lambda: Run.objects.filter(request__agency=owner.agency).order_by("pk").first(),
        "instance": lambda: Instance.objects.filter(agency=owner.agency).order_by("pk").first(),
        "offering": lambda: Offering.objects.get(cloud__slug="edu", service__slug="vm"),
        "notification": lambda: Notification.objects.filter(recipient=owner).order_by("pk").first(),
        "notification_channel": lambda: NotificationChannel.objects.filter(user=owner).order_by("pk").first(),
        "finding": lambda: CloudFinding.objects.order_by("pk").first(),
        "role_user": lambda: owner,
    }
    short = name.split(":")[-1]
    if short.startswith("admin"):
        pass
    for prefix, kind in (("request", "request"), ("run", "run"), ("instance", "instance"), ("offering", "offering"),
                         ("notification_channel", "notification_channel"), ("notification", "notification"),
                         ("finding", "finding"), ("role_", "role_user")):
        if short.startswith(prefix):
            return picks[kind]()
    raise LookupError(name)


def arguments(name: str, route: str, owner: User) -> dict:
    kwargs = {}
    for argument in argument_names(route):
        if argument == "offering_pk":
            kwargs[argument] = own_object("offering", argument, owner).pk
        elif argument in ("pk", "object_id", "id"):
            if name.startswith("admin:"):
                model_key = name.split(":")[1].rsplit("_", 1)[0]
                if name == "admin:auth_user_password_change":
                    model_key = "portal_user"
                model = ADMIN_MODELS.get(model_key)
                if model is None:  # a model only the break-glass account keeps: an object that is not there
                    kwargs[argument] = 0
                    continue
                obj = model.objects.order_by("pk").first()
                if obj is None:
                    raise LookupError(f"{name}: the walk's data holds no {model._meta.label}")
                kwargs[argument] = obj.pk
            else:
                obj = own_object(name, argument, owner)
                kwargs[argument] = obj.pk if obj is not None else 1
        elif argument == "slug":
            kwargs[argument] = "edu" if name.startswith("cloud") else "vm"
        elif argument == "action":
            kwargs[argument] = "approve" if "request" in name else "reapply" if "drift" in name else "disable"
        elif argument == "kind":
            kwargs[argument] = "modify"
        elif argument == "role":
            kwargs[argument] = "requester"
        elif argument == "token":
            kwargs[argument] = "not-a-token"
        elif argument == "app_label":
            kwargs[argument] = "catalogue"
        elif argument == "content_type_id":
            kwargs[argument] = "1"
        else:
            raise LookupError(f"{name}: <{argument}>")
    return kwargs


def address(name: str, route: str, owner: User) -> str:
    if name == "admin:app_list":
        return reverse(name, kwargs={"app_label": "catalogue"})
    if name == "api_not_found":
        return "/api/v1/no-such-thing/"
    return reverse(name, kwargs=arguments(name, route, owner) or None)


def answer(username: str, url: str, api: bool) -> int:
    client = Client()
    headers = {}
    if username != ANONYMOUS:
        user = User.objects.get(username=username)
        if api:
            token, _ = Token.objects.get_or_create(user=user)
            headers["HTTP_AUTHORIZATION"] = f"Token {token.key}"
        else:
            client.force_login(user)
    return client.get(url, **headers).status_code


def walk() -> dict[str, dict[str, int]]:
    """URL name → user → status of a GET."""
    owner = User.objects.get(username="requester")
    found = {}
    for route, name in routes():
        url = address(name, route, owner)
        api = url.startswith("/api/v1/")
        found[name] = {user: answer(user, url, api) for user in [ANONYMOUS, *USERS]}
    return found
