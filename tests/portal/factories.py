import factory

from portal.choices import AgencyLevel
from portal.models import Agency, User
from portal.services import user_role_grant


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    code = factory.Sequence(lambda n: f"agency-{n}")
    name = factory.Sequence(lambda n: f"测试单位{n}")
    level = AgencyLevel.PROVINCE


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"用户{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.gov.cn")
    agency = factory.SubFactory(AgencyFactory)
    password = factory.PostGenerationMethodCall("set_password", "pass-for-tests")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        """roles=[Role.REQUESTER, (Role.CLOUD_OWNER, cloud)]: a role, or a role with its scope object."""
        self.save()
        for entry in extracted or []:
            role, scope = entry if isinstance(entry, tuple) else (entry, None)
            user_role_grant(actor=None, user=self, role=role, scope=scope)
        # Django caches permissions on the user object; checks made after this must see the new groups.
        for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
            self.__dict__.pop(cache, None)
