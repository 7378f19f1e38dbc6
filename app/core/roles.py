"""The roles of Dealerflow, their names in both languages, and how BPMN lanes map to them."""

ROLES: dict[str, dict] = {
    "admin": {"zh": "系统管理员", "en": "Administrator"},
    "analyst": {"zh": "流程分析师", "en": "Process analyst"},
    "regional_manager": {"zh": "区域经理", "en": "Regional manager", "regional": True},
    "finance": {"zh": "财务", "en": "Finance"},
    "sales_director": {"zh": "销售总监", "en": "Sales director"},
    "customer_service": {"zh": "客服", "en": "Customer service"},
    "store_ops": {"zh": "门店运营", "en": "Store operations"},
    "inspector": {"zh": "巡店员", "en": "Inspector"},
    "marketing": {"zh": "市场部", "en": "Marketing"},
    "dealer": {"zh": "经销商", "en": "Dealer"},
    "applicant": {"zh": "申请人", "en": "Applicant"},
    # API users of external systems (e-signature, ERP callbacks): may post messages only.
    "integration": {"zh": "系统集成", "en": "System integration"},
}

# Lanes that mean "the person who started the instance".
INITIATOR = "initiator"
_INITIATOR_NAMES = {"initiator", "applicant", "starter", "申请人", "发起人"}


def _norm(text: str) -> str:
    return "".join(text.lower().replace("_", " ").split())


_LANE_INDEX: dict[str, str] = {}
for _role, _names in ROLES.items():
    for _name in (_role, _names["zh"], _names["en"]):
        _LANE_INDEX[_norm(_name)] = _role
_LANE_INDEX.update({"director": "sales_director", "销售总监": "sales_director",
                    "cs": "customer_service", "manager": "regional_manager"})


def role_for_lane(lane: str | None) -> str | None:
    """Return the role a lane name stands for, ``initiator``, or None if it names none.

    A lane matches a role by its id (``regional_manager``), English name (``Regional manager``)
    or Chinese name (``区域经理``), ignoring case, spaces and underscores.
    """
    if not lane:
        return None
    key = _norm(lane)
    if key in {_norm(n) for n in _INITIATOR_NAMES}:
        return INITIATOR
    return _LANE_INDEX.get(key)


def is_regional(role: str) -> bool:
    return bool(ROLES.get(role, {}).get("regional"))


def role_label(role: str, locale: str) -> str:
    names = ROLES.get(role)
    if not names:
        return role
    return names["zh"] if locale.startswith("zh") else names["en"]
