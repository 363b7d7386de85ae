from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _sync_roles(sender, **kwargs) -> None:
    from .roles import sync_role_groups

    sync_role_groups()


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("门户")

    def ready(self) -> None:
        from . import signals  # noqa: F401  (login auditing)

        post_migrate.connect(_sync_roles, dispatch_uid="portal.sync_roles")
        from .audit import action_labels_register, detail_choices_register, model_actions
        from .choices import ChannelKind, Role

        action_labels_register({
            **model_actions(self.get_model("Agency"), self.get_model("User"), self.get_model("NotificationChannel")),
            "auth.login": _("登录"),
            "auth.logout": _("退出"),
            "auth.token": _("获取 API 令牌"),
            "auth.token_revoke": _("吊销 API 令牌"),
            "auth.lockout": _("登录锁定"),
            "role.grant": _("授予角色"),
            "role.revoke": _("撤销角色"),
            "user.break_glass_created": _("创建应急账号"),
            "user.agency_set": _("变更所属单位"),
            "user.deactivate": _("停用用户"),
            "audit.purge": _("清理过期审计记录"),
            "access.denied": _("访问被拒绝"),
            "audit.exported": _("导出审计日志"),
            "audit.verified": _("校验审计链"),
        })
        detail_choices_register({"role.role": Role, "notification_channel.kind": ChannelKind})
