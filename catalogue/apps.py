from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogueConfig(AppConfig):
    name = "catalogue"
    verbose_name = _("服务目录")

    def ready(self) -> None:
        from portal.audit import action_labels_register, model_actions
        from portal.denials import denied_objects_register

        from .models import Cloud, ModuleVersion, Offering, Service

        action_labels_register(model_actions(Cloud, Service, Offering, ModuleVersion))
        action_labels_register({"module.publish": _("发布模块版本")})
        denied_objects_register({
            "catalogue:offering_": "catalogue.offering", "offering-": "catalogue.offering", "cloud-": "catalogue.cloud",
            "service-": "catalogue.service",
        })
