"""The one place that answers "may this user do that?" and "which of these may this user see?".

Selectors and services call user_can / objects_for_user; views never write permission queries. A permission
holds either globally (a role group's model permission, e.g. an operator sees every instance) or on one
object through django-guardian (an agency's approvers on that Agency, a request's viewers on that Request).
Grants go to groups; the scoped groups of an agency or cloud are made here too.
"""
from django.contrib.auth.models import AnonymousUser, Group
from django.contrib.contenttypes.models import ContentType
from django.db.models import BigIntegerField, Model, Q, QuerySet
from django.db.models.functions import Cast
from guardian.models import GroupObjectPermission, UserObjectPermission
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from .choices import Role
from .models import Agency
from .roles import AGENCY_SCOPED, CLOUD_SCOPED, scoped_group_name


def user_can(user, perm: str, obj: Model | None = None) -> bool:
    """True when `user` holds `perm` globally, or on `obj` when one is given."""
    if user is None or isinstance(user, AnonymousUser) or not user.is_authenticated or not user.is_active:
        return False
    if user.has_perm(perm):
        return True
    return obj is not None and user.has_perm(perm, obj)


def user_can_request(user) -> bool:
    """True when `user` may ask for resources on their own agency's behalf (what request_create checks)."""
    agency = getattr(user, "agency", None)
    return agency is not None and user_can(user, "portal.request_for_agency", agency)


def objects_for_user(user, perm: str, queryset: QuerySet, *, scope: Q | None = None) -> QuerySet:
    """The rows of `queryset` on which `user` holds `perm` (all of them with the global permission).

    `scope` is the rule that covers most rows (e.g. "of the user's agency"), written on indexed columns; object
    grants are the exceptions beside it. Guardian's own filter casts every row's id to text to meet its
    `object_pk` column, so the database reads the whole table however few rows the user may see; here the
    grants' `object_pk` is cast to an integer instead, and the list stays an index lookup.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.has_perm(perm):  # a role's global permission (and the superuser): everything
        return queryset
    visible = granted(user, perm, queryset.model)
    return queryset.filter(visible | scope if scope is not None else visible)


def granted(user, perm: str, model) -> Q:
    """The rows of `model` on which `user`, or a group of theirs, holds `perm` by object grant."""
    grant = {"permission__codename": perm.split(".", 1)[-1], "content_type": ContentType.objects.get_for_model(model)}
    as_id = Cast("object_pk", BigIntegerField())
    by_user = UserObjectPermission.objects.filter(user=user, **grant).annotate(granted_pk=as_id).values("granted_pk")
    by_group = GroupObjectPermission.objects.filter(group__user=user, **grant).annotate(granted_pk=as_id).values("granted_pk")
    return Q(pk__in=by_user) | Q(pk__in=by_group)


def agencies_where(user, *perms: str) -> QuerySet:
    """The agencies on which the user holds any of `perms` by their scoped groups (a subquery of ids)."""
    granted = get_objects_for_user(
        user, list(perms), klass=Agency, any_perm=True, accept_global_perms=False, with_superuser=False
    )
    return granted.values("pk")


def clouds_where(user, perm: str) -> QuerySet:
    """The clouds on which the user holds `perm` by their scoped groups (a subquery of ids)."""
    from catalogue.models import Cloud

    granted = get_objects_for_user(user, perm, klass=Cloud, accept_global_perms=False, with_superuser=False)
    return granted.values("pk")


def has_role(user, role: str) -> bool:
    return bool(user and user.is_authenticated and user.groups.filter(name=role).exists())


def user_roles(user) -> list[str]:
    if not user or not user.is_authenticated:
        return []
    names = set(user.groups.values_list("name", flat=True))
    return [role for role in Role.values if role in names]


def agency_group(agency, role: str) -> Group:
    """The scoped group of `role` in `agency`, holding the role's object permissions on that agency."""
    group, created = Group.objects.get_or_create(name=scoped_group_name("agency", agency.code, role))
    if created:
        for perm in AGENCY_SCOPED[role]:
            assign_perm(perm, group, agency)
    return group


def cloud_group(cloud, role: str) -> Group:
    """The scoped group of `role` on `cloud`, holding the role's object permissions on that cloud."""
    group, created = Group.objects.get_or_create(name=scoped_group_name("cloud", cloud.slug, role))
    if created:
        for perm in CLOUD_SCOPED[role]:
            assign_perm(perm, group, cloud)
    return group


def grant(perm: str, group: Group, obj: Model) -> None:
    assign_perm(perm, group, obj)


def revoke(perm: str, group: Group, obj: Model) -> None:
    remove_perm(perm, group, obj)
