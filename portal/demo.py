"""Demo data for development: a province's agencies, the 1+14+N clouds, their offerings and one user per role.

Loaded by `manage.py demo_data` (which `make dev` runs). Loading twice changes nothing: every row is looked up
by its natural key first and only created or corrected when it differs. Never loaded in production.
"""
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db import transaction

from catalogue.choices import Capability, CloudTier
from catalogue.models import Cloud, ModuleVersion, Offering, Service
from catalogue.services import module_publish

from .choices import AgencyLevel, Role
from .models import Agency, User
from .roles import CLOUD_SCOPED
from .services import role_groups

DEMO_PASSWORD = "demo"

# (code, name, English name, level, parent code)
AGENCIES = [
    ("sjj", "省政务服务和数据管理局", "Provincial Government Services and Data Administration", AgencyLevel.PROVINCE, None),
    ("fgw", "省发展和改革委员会", "Provincial Development and Reform Commission", AgencyLevel.PROVINCE, None),
    ("jyt", "省教育厅", "Provincial Department of Education", AgencyLevel.PROVINCE, None),
    ("rst", "省人力资源和社会保障厅", "Provincial Department of Human Resources and Social Security", AgencyLevel.PROVINCE, None),
    ("gxt", "省工业和信息化厅", "Provincial Department of Industry and Information Technology", AgencyLevel.PROVINCE, None),
    ("swt", "省商务厅", "Provincial Department of Commerce", AgencyLevel.PROVINCE, None),
    ("czt", "省财政厅", "Provincial Department of Finance", AgencyLevel.PROVINCE, None),
    ("wjw", "省卫生健康委员会", "Provincial Health Commission", AgencyLevel.PROVINCE, None),
    ("jtt", "省交通运输厅", "Provincial Department of Transport", AgencyLevel.PROVINCE, None),
    ("nynct", "省农业农村厅", "Provincial Department of Agriculture and Rural Affairs", AgencyLevel.PROVINCE, None),
    ("whlyt", "省文化和旅游厅", "Provincial Department of Culture and Tourism", AgencyLevel.PROVINCE, None),
    ("sthjt", "省生态环境厅", "Provincial Department of Ecology and Environment", AgencyLevel.PROVINCE, None),
    ("yjt", "省应急管理厅", "Provincial Department of Emergency Management", AgencyLevel.PROVINCE, None),
    ("scjgj", "省市场监督管理局", "Provincial Administration for Market Regulation", AgencyLevel.PROVINCE, None),
    ("zrzyt", "省自然资源厅", "Provincial Department of Natural Resources", AgencyLevel.PROVINCE, None),
    ("zjt", "省住房和城乡建设厅", "Provincial Department of Housing and Urban-Rural Development", AgencyLevel.PROVINCE, None),
    ("slt", "省水利厅", "Provincial Department of Water Resources", AgencyLevel.PROVINCE, None),
    ("sft", "省司法厅", "Provincial Department of Justice", AgencyLevel.PROVINCE, None),
    ("tyj", "省体育局", "Provincial Sports Bureau", AgencyLevel.PROVINCE, None),
    ("tangshan", "唐山市人民政府", "Tangshan Municipal People's Government", AgencyLevel.CITY, None),
    ("tangshan-jyj", "唐山市教育局", "Tangshan Municipal Education Bureau", AgencyLevel.CITY, "tangshan"),
    ("qianan", "迁安市人民政府", "Qian'an Municipal People's Government", AgencyLevel.COUNTY, "tangshan"),
    ("zhangjiakou", "张家口市人民政府", "Zhangjiakou Municipal People's Government", AgencyLevel.CITY, None),
    ("chongli", "张家口市崇礼区人民政府", "Chongli District People's Government, Zhangjiakou", AgencyLevel.COUNTY, "zhangjiakou"),
]

ALL_LEVELS = [1, 2, 3, 4]
NO_IMPORTANT = [1, 2, 3]

# (slug, name, English name, tier, owner agency code, allowed data classifications, description)
CLOUDS = [
    ("gov", "政务云", "Government Cloud", CloudTier.GOVERNMENT, "sjj", ALL_LEVELS, "全省统一的政务云平台，承载各级政务部门的业务系统。"),
    ("industry", "工业云", "Industrial Cloud", CloudTier.INDUSTRY, "gxt", NO_IMPORTANT, "面向工业互联网与制造业数字化的行业云。"),
    ("hrss", "人社云", "Human Resources and Social Security Cloud", CloudTier.INDUSTRY, "rst", ALL_LEVELS, "承载社保、就业、人事人才等人社业务。"),
    ("commerce", "商务云", "Commerce Cloud", CloudTier.INDUSTRY, "swt", NO_IMPORTANT, "面向商贸流通、对外贸易与电子商务。"),
    ("edu", "教育云", "Education Cloud", CloudTier.INDUSTRY, "jyt", NO_IMPORTANT, "承载教育管理、智慧校园与在线教学业务。"),
    ("health", "健康云", "Health Cloud", CloudTier.INDUSTRY, "wjw", ALL_LEVELS, "承载全民健康信息平台与医疗卫生业务。"),
    ("transport", "交通云", "Transport Cloud", CloudTier.INDUSTRY, "jtt", NO_IMPORTANT, "承载交通运输监管与出行服务业务。"),
    ("agri", "农业云", "Agriculture Cloud", CloudTier.INDUSTRY, "nynct", [1, 2], "面向智慧农业与农村综合服务。"),
    ("culture", "文旅云", "Culture and Tourism Cloud", CloudTier.INDUSTRY, "whlyt", [1, 2], "面向文化和旅游公共服务。"),
    ("eco", "生态环境云", "Ecology and Environment Cloud", CloudTier.INDUSTRY, "sthjt", NO_IMPORTANT, "承载生态环境监测与执法业务。"),
    ("emergency", "应急云", "Emergency Management Cloud", CloudTier.INDUSTRY, "yjt", ALL_LEVELS, "承载应急指挥、安全生产监管业务。"),
    ("market", "市场监管云", "Market Regulation Cloud", CloudTier.INDUSTRY, "scjgj", NO_IMPORTANT, "承载市场主体登记与监管业务。"),
    ("land", "自然资源云", "Natural Resources Cloud", CloudTier.INDUSTRY, "zrzyt", NO_IMPORTANT, "承载国土空间规划与自然资源管理业务。"),
    ("housing", "住建云", "Housing and Construction Cloud", CloudTier.INDUSTRY, "zjt", NO_IMPORTANT, "承载住房保障与城乡建设管理业务。"),
    ("water", "水利云", "Water Resources Cloud", CloudTier.INDUSTRY, "slt", NO_IMPORTANT, "承载水资源管理与防汛抗旱业务。"),
    ("olympic", "冬奥云", "Winter Olympics Cloud", CloudTier.SPECIALTY, "zhangjiakou", [1, 2], "服务冬奥遗产利用与冰雪产业的专属云。"),
    ("justice", "司法云", "Justice Cloud", CloudTier.SPECIALTY, "sft", ALL_LEVELS, "承载司法行政、公共法律服务业务的专属云。"),
    ("credit", "信用云", "Social Credit Cloud", CloudTier.SPECIALTY, "fgw", NO_IMPORTANT, "承载社会信用体系建设的专属云。"),
]

# What each cloud offers (catalogue.offers), matching what the local cloud really accepts: the moto server
# knows two availability zones in cn-north-1, and the vm module maps each image and flavour to an AMI and an
# instance type it has (tests/catalogue/test_offers.py holds these lists to both).
LOCAL_ZONES = ["cn-north-1a", "cn-north-1b"]
ALL_OFFERS = {
    "zones": LOCAL_ZONES,
    "images": ["kylin-v10", "uos-20", "centos-7", "ubuntu-22.04"],
    "flavors": ["small", "medium", "large", "xlarge"],
    "db_classes": ["db.t3.small", "db.t3.medium", "db.m5.large", "db.m5.xlarge"],
}
SMALL_CLOUD_OFFERS = {
    **ALL_OFFERS,
    "flavors": ["small", "medium", "large"],
    "db_classes": ["db.t3.small", "db.t3.medium"],
}
# By cloud slug; the others offer everything. The government cloud runs domestic operating systems only (信创).
CLOUD_OFFERS = {
    "gov": {**ALL_OFFERS, "images": ["kylin-v10", "uos-20"]},
    "agri": SMALL_CLOUD_OFFERS,
    "culture": SMALL_CLOUD_OFFERS,
    "olympic": {**SMALL_CLOUD_OFFERS, "zones": ["cn-north-1b"]},
}

# (slug, name, English name, module, description)
SERVICES = [
    ("vm", "云主机", "Virtual Machine", "vm", "弹性计算实例，可选规格、操作系统与数据盘。"),
    ("bucket", "对象存储", "Object Storage", "bucket", "对象存储桶，支持版本控制、加密与公网访问阻断。"),
    ("database", "云数据库", "Cloud Database", "database", "托管的 MySQL、PostgreSQL 或 MariaDB 数据库实例。"),
    ("network", "专有网络", "Private Network", "network", "隔离的虚拟网络，含子网与入站规则。"),
]

FLAVOR_VCPU = {"small": 1, "medium": 2, "large": 4, "xlarge": 8}
FLAVOR_MEMORY = {"small": 2, "medium": 4, "large": 16, "xlarge": 32}
DB_VCPU = {"db.t3.small": 2, "db.t3.medium": 2, "db.m5.large": 2, "db.m5.xlarge": 4}
DB_MEMORY = {"db.t3.small": 2, "db.t3.medium": 4, "db.m5.large": 8, "db.m5.xlarge": 16}
# A multi-AZ database keeps a standby as large as the primary in a second zone: twice the vCPU, memory, storage.
DB_STANDBY = {"from": "multi_az", "map": {"true": 2, "false": 1}}

# Per service: base monthly price, unit prices, usage rules, capabilities. Prices scale by tier below.
OFFERING_TERMS = {
    "vm": (
        Decimal("30"),
        {"vcpu": "45.00", "memory_gb": "20.00", "storage_gb": "0.50"},
        {
            "vcpu": {"from": "flavor", "map": FLAVOR_VCPU},
            "memory_gb": {"from": "flavor", "map": FLAVOR_MEMORY},
            "storage_gb": {"sum": ["system_disk_gb", "data_disk_gb"]},
            "instances": {"value": 1},
        },
        [Capability.SNAPSHOT, Capability.BACKUP],
    ),
    "bucket": (
        Decimal("5"),
        {"storage_gb": "0.12"},
        {"storage_gb": {"from": "quota_gb"}, "buckets": {"value": 1}},
        [Capability.VERSIONING, Capability.ENCRYPTION],
    ),
    "database": (
        Decimal("120"),
        {"vcpu": "60.00", "memory_gb": "25.00", "storage_gb": "0.80"},
        {
            "vcpu": {"from": "instance_class", "map": DB_VCPU, "times": DB_STANDBY},
            "memory_gb": {"from": "instance_class", "map": DB_MEMORY, "times": DB_STANDBY},
            "storage_gb": {"from": "storage_gb", "times": DB_STANDBY},
            "instances": {"value": 1},
        },
        [Capability.BACKUP, Capability.ENCRYPTION, Capability.HIGH_AVAILABILITY],
    ),
    "network": (Decimal("10"), {}, {}, []),
}
TIER_PRICE_FACTOR = {CloudTier.GOVERNMENT: Decimal("1.00"), CloudTier.INDUSTRY: Decimal("0.90"), CloudTier.SPECIALTY: Decimal("1.20")}

# (username, full name, agency code, role, scope)
USERS = [
    ("requester", "张明", "jyt", Role.REQUESTER, None),
    ("agency_approver", "李华", "jyt", Role.AGENCY_APPROVER, None),
    ("cloud_owner", "王强", "sjj", Role.CLOUD_OWNER, "all-clouds"),
    ("security_reviewer", "赵敏", "sjj", Role.SECURITY_REVIEWER, None),
    ("finance_reviewer", "钱芳", "czt", Role.FINANCE_REVIEWER, None),
    ("operator", "孙磊", "sjj", Role.OPERATOR, None),
    ("sysadmin", "周杰", "sjj", Role.SYSTEM_ADMIN, None),
    ("secadmin", "吴静", "sjj", Role.SECURITY_ADMIN, None),
    ("auditor", "郑洁", "sjj", Role.AUDIT_ADMIN, None),
    ("requester2", "陈晨", "tangshan", Role.REQUESTER, None),
    ("agency_approver2", "刘洋", "tangshan", Role.AGENCY_APPROVER, None),
]


def _scaled(price: str | Decimal, factor: Decimal) -> str:
    return str((Decimal(price) * factor).quantize(Decimal("0.01")))


def _sync(model, lookup: dict, values: dict):
    """Create the row, or correct the fields that differ; an unchanged row is not written at all."""
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        return model.objects.create(**lookup, **values)
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        obj.save(update_fields=changed)
    return obj


def load_agencies() -> dict[str, Agency]:
    agencies: dict[str, Agency] = {}
    for code, name, name_en, level, parent in AGENCIES:
        agencies[code] = _sync(
            Agency,
            {"code": code},
            {"name": name, "name_en": name_en, "level": level, "parent": agencies.get(parent) if parent else None},
        )
    return agencies


def publish_modules() -> dict[str, ModuleVersion]:
    modules = {}
    for _slug, _name, _name_en, module_name, _desc in SERVICES:
        directory = Path(settings.TERRAFORM_MODULES_DIR) / module_name
        version = (directory / "VERSION").read_text().strip()
        modules[module_name] = module_publish(actor=None, name=module_name, version=version, directory=directory)
    return modules


def load_catalogue(agencies: dict[str, Agency]) -> list[Cloud]:
    clouds = []
    for order, (slug, name, name_en, tier, owner, levels, description) in enumerate(CLOUDS):
        clouds.append(
            _sync(
                Cloud,
                {"slug": slug},
                {
                    "name": name,
                    "name_en": name_en,
                    "tier": tier,
                    "owner_agency": agencies[owner],
                    "allowed_classifications": levels,
                    "description": description,
                    "endpoint": settings.LOCAL_CLOUD_URL,
                    "region": "cn-north-1",
                    "offers": CLOUD_OFFERS.get(slug, ALL_OFFERS),
                    "sort_order": order,
                },
            )
        )
    services = {}
    for order, (slug, name, name_en, module_name, description) in enumerate(SERVICES):
        services[slug] = _sync(
            Service,
            {"slug": slug},
            {"name": name, "name_en": name_en, "module_name": module_name, "description": description, "sort_order": order},
        )
    modules = publish_modules()
    for cloud in clouds:
        factor = TIER_PRICE_FACTOR[CloudTier(cloud.tier)]
        for slug, service in services.items():
            base, unit_prices, usage_rules, capabilities = OFFERING_TERMS[slug]
            _sync(
                Offering,
                {"service": service, "cloud": cloud},
                {
                    "module": modules[service.module_name],
                    "base_monthly_price": Decimal(_scaled(base, factor)),
                    "unit_prices": {dim: _scaled(price, factor) for dim, price in unit_prices.items()},
                    "usage_rules": usage_rules,
                    "capabilities": [str(flag) for flag in capabilities],
                    "summary": "",
                },
            )
    return clouds


def load_users(agencies: dict[str, Agency], clouds: list[Cloud]) -> list[User]:
    users = []
    for username, full_name, agency_code, role, scope in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, email=f"{username}@demo.cloud-portal.local")
            user.set_password(DEMO_PASSWORD)
        user.full_name = full_name
        user.agency = agencies[agency_code]
        user.is_staff = role in (Role.SYSTEM_ADMIN, Role.SECURITY_ADMIN, Role.AUDIT_ADMIN)
        user.save()
        # The same groups user_role_grant gives, set (not added) so that loading twice writes nothing new.
        scopes = clouds if role in CLOUD_SCOPED and scope == "all-clouds" else [None]
        user.groups.set({group for each in scopes for group in role_groups(user=user, role=role, scope=each)})
        users.append(user)
    return users


AGENCY_STAGE = {"name": "单位审批", "name_en": "Agency approval", "approver_role": "agency_approver"}
SECURITY_STAGE = {"name": "安全审核", "name_en": "Security review", "approver_role": "security_reviewer"}
FINANCE_STAGE = {"name": "财务审核", "name_en": "Finance review", "approver_role": "finance_reviewer"}
OWNER_STAGE = {"name": "云主管部门审批", "name_en": "Cloud owner approval", "approver_role": "cloud_owner"}

# (name, English name, scope, stages): scope is {"is_default": True} or {"tier": …}; stages as PolicyStage fields.
POLICIES = [
    ("默认审批（两级）", "Default approval (two stages)", {"is_default": True}, [AGENCY_STAGE, OWNER_STAGE]),
    ("政务云审批", "Government cloud approval", {"tier": CloudTier.GOVERNMENT}, [
        AGENCY_STAGE,
        {**SECURITY_STAGE, "condition": "classification_at_least", "condition_value": "3"},
        {**FINANCE_STAGE, "condition": "cost_at_least", "condition_value": "5000"},
        OWNER_STAGE,
    ]),
    ("专属云审批", "Specialty cloud approval", {"tier": CloudTier.SPECIALTY}, [AGENCY_STAGE, SECURITY_STAGE, OWNER_STAGE]),
]

# Per agency, limits across all clouds.
QUOTAS = {
    "jyt": {"vcpu": 64, "memory_gb": 256, "storage_gb": 20480, "instances": 30, "buckets": 20, "monthly_cost": 60000},
    "tangshan": {"vcpu": 32, "memory_gb": 128, "storage_gb": 10240, "instances": 15, "buckets": 10, "monthly_cost": 30000},
}

# Each cloud's capacity, shared by every agency on it: the government cloud is the big one.
CAPACITY = {"vcpu": 256, "memory_gb": 1024, "storage_gb": 102400, "instances": 200, "buckets": 200}
CAPACITY_GOVERNMENT = {"vcpu": 2048, "memory_gb": 8192, "storage_gb": 1024000, "instances": 1000, "buckets": 1000}


def load_policies() -> None:
    from provisioning.models import ApprovalPolicy, PolicyStage

    for name, name_en, scope, stages in POLICIES:
        policy = _sync(ApprovalPolicy, {"name": name}, {"name_en": name_en, "enabled": True, **scope})
        for order, stage in enumerate(stages, start=1):
            _sync(PolicyStage, {"policy": policy, "order": order}, {
                "mode": "any", "required_approvals": 1, "condition": "always", "condition_value": "", "sla_hours": 24,
                **stage,
            })


def load_quotas(agencies: dict[str, Agency], clouds: list[Cloud]) -> None:
    from provisioning.models import QuotaLimit

    for code, limits in QUOTAS.items():
        for dimension, limit in limits.items():
            _sync(QuotaLimit, {"agency": agencies[code], "cloud": None, "dimension": dimension}, {"limit": Decimal(limit)})
    for cloud in clouds:
        capacity = CAPACITY_GOVERNMENT if cloud.tier == "government" else CAPACITY
        for dimension, limit in capacity.items():
            _sync(QuotaLimit, {"agency": None, "cloud": cloud, "dimension": dimension}, {"limit": Decimal(limit)})


@transaction.atomic
def load_demo() -> dict[str, int]:
    agencies = load_agencies()
    clouds = load_catalogue(agencies)
    users = load_users(agencies, clouds)
    load_policies()
    load_quotas(agencies, clouds)
    return {"agencies": len(agencies), "clouds": len(clouds), "users": len(users)}
