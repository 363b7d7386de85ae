from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CatalogueConfig(AppConfig):
    name = "catalogue"
    verbose_name = _("服务目录")

    def ready(self) -> None:
        from portal.audit import action_labels_register, admin_change_labels

        # What the system admin changes in the admin, in words on the audit pages (portal.admin.AuditedAdmin).
        action_labels_register(
            admin_change_labels(self.get_model("Cloud"), self.get_model("Service"), self.get_model("Offering"))
        )
