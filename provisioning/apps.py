from django.apps import AppConfig
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = _("资源开通")

    def ready(self) -> None:
        from portal.audit import action_labels_register, detail_choices_register, model_actions
        from portal.denials import denied_objects_register

        from .choices import (
            InstanceStatus,
            RequestKind,
            RequestStatus,
            ReservationStatus,
            RunKind,
            RunStatus,
            StageStatus,
        )
        from .models import ApprovalPolicy, PolicyStage, QuotaLimit

        def status_label(choices, template):
            def label(status: str):
                try:
                    return format_lazy(template, choices(status).label)
                except ValueError:
                    return None
            label.values = choices.values  # the audit page offers each of them as a choice
            return label

        action_labels_register(model_actions(ApprovalPolicy, PolicyStage, QuotaLimit))
        detail_choices_register({
            "request.from": RequestStatus, "run.from": RunStatus, "stage.from": StageStatus,
            "quota.from": ReservationStatus, "instance.from": InstanceStatus, "request.kind": RequestKind,
            "run.kind": RunKind,
        })
        # A denied attempt on these pages and API routes names the object it was after.
        denied_objects_register({
            "provisioning:request_": "provisioning.request", "request-": "provisioning.request",
            "approval-": "provisioning.request", "provisioning:instance_": "provisioning.instance",
            "instance-": "provisioning.instance", "provisioning:run_": "provisioning.run", "run-": "provisioning.run",
            "provisioning:notification_": "provisioning.notification",
        })
        action_labels_register({
            "request.create": _("创建申请"),
            "request.approvals_reset": _("计划已变化，已有审批失效"),
            "request.*": status_label(RequestStatus, _("申请：{}")),
            "run.*": status_label(RunStatus, _("运行：{}")),
            "stage.*": status_label(StageStatus, _("审批环节：{}")),
            "quota.*": status_label(ReservationStatus, _("配额：{}")),
            "instance.*": status_label(InstanceStatus, _("资源：{}")),
            "approval.approve": _("审批同意"),
            "approval.refused": _("审批被拒绝执行"),
            "run.reconciled": _("运维人员处置运行"),
            "cloud.credentials": _("写入云凭据"),
            "instance.created": _("资源已创建"),
            "instance.modified": _("资源已变更"),
            "instance.lease_extended": _("租期已延长"),
            "instance.lease_warned": _("已提醒租期即将到期"),
            "instance.lease_expired": _("租期已到期，已自动发起退订"),
            "instance.drift_accept_asked": _("运维人员接受云上现状"),
            "instance.drift_accepted": _("云上现状已写入状态"),
            "cloud.scanned": _("云上核对扫描"),
            "cloud.scan_failed": _("云上核对扫描失败"),
            "cloud.finding_adopted": _("云上对象已纳管"),
            "inventory.exported": _("导出资源清单"),
            "requests.exported": _("导出申请列表"),
            "showback.exported": _("导出费用分摊"),
            "instance.destroyed": _("资源已销毁"),
            "workspace.lock_released": _("释放失效的状态锁"),
            "approval.link_used": _("通过消息中的链接审批"),
            "notification_channel.created": _("添加通知渠道"),
            "notification_channel.deleted": _("删除通知渠道"),
            "notification_channel.choices_saved": _("保存通知设置"),
            "notification_channel.tested": _("发送测试消息"),
        })
