"""The catalogue's fixed vocabulary: offer and merchant categories and the city's districts (Chengdu), each with
its name in 中文 and English. The API serves it (GET /v1/catalogue/vocabulary) so no page hard-codes a name; an
offer or a merchant profile names its category and district by these codes only."""
from __future__ import annotations

CATEGORIES: dict[str, dict[str, str]] = {
    "food": {"zh": "餐饮", "en": "Food & drink"},
    "groceries": {"zh": "生活超市", "en": "Groceries"},
    "culture": {"zh": "文化", "en": "Culture"},
    "transport": {"zh": "交通出行", "en": "Transport"},
    "services": {"zh": "生活服务", "en": "Services"},
    "health": {"zh": "健康", "en": "Health"},
    "education": {"zh": "教育", "en": "Education"},
}

DISTRICTS: dict[str, dict[str, str]] = {
    "jinjiang": {"zh": "锦江区", "en": "Jinjiang"},
    "qingyang": {"zh": "青羊区", "en": "Qingyang"},
    "jinniu": {"zh": "金牛区", "en": "Jinniu"},
    "wuhou": {"zh": "武侯区", "en": "Wuhou"},
    "chenghua": {"zh": "成华区", "en": "Chenghua"},
    "gaoxin": {"zh": "高新区", "en": "Gaoxin"},
    "tianfu": {"zh": "天府新区", "en": "Tianfu New Area"},
}


def vocabulary() -> dict:
    """The answer of GET /v1/catalogue/vocabulary: codes in a fixed order, each with both names."""
    return {"object": "catalogue_vocabulary",
            "categories": [{"code": c, **names} for c, names in CATEGORIES.items()],
            "districts": [{"code": d, **names} for d, names in DISTRICTS.items()]}
