"""The web UI's words in Chinese (default) and English, and which language a request gets.

`?lang=zh|en` wins and is remembered in the `canteen_lang` cookie; otherwise the cookie;
otherwise Chinese. A page uses `t("key")` (or `t("key", n=3)` for a `{n}` in the text); a key
missing from the catalogue is a programming error caught by `tests/dashboard_api/
test_web_shell.py`, which checks that both languages have the same keys. Page helpers add
their own keys to `CATALOGUE` (one block per page, keys prefixed with the page's name).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from starlette.requests import Request

__all__ = ["CATALOGUE", "LANGUAGES", "LANG_COOKIE", "Language", "language_of", "translator"]

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
LANG_COOKIE = "canteen_lang"

CATALOGUE: dict[Language, dict[str, str]] = {
    "zh": {
        "app.name": "食堂监测",
        "nav.overview": "总览",
        "nav.alerts": "报警",
        "nav.registers": "记录",
        "nav.energy": "能耗",
        "nav.docs": "接口文档",
        "nav.menu": "菜单",
        "user.role.viewer": "查看",
        "user.role.staff": "值班人员",
        "user.role.admin": "管理员",
        "user.logout": "退出登录",
        "lang.switch": "English",
        "login.title": "登录",
        "login.name": "用户名",
        "login.password": "密码",
        "login.submit": "登录",
        "login.failed": "用户名或密码不正确。",
        "login.locked": "登录失败次数过多，已暂时锁定。请在 {until}（约 {minutes} 分钟后）再试。",
        "login.expired": "登录表单已过期，请重新输入。",
        "login.logged_out": "已退出登录。",
        "refused.title": "请求被拒绝",
        "refused.csrf": "表单缺少有效的安全令牌（可能页面已打开太久或已在别处退出）。"
        "请返回、刷新页面后再提交。",
        "refused.back": "返回",
        "overview.title": "总览",
        "overview.coming": "设备总览页面即将上线。现在可在接口文档中查看数据。",
        "placeholder.coming": "此页面即将上线。",
        "time.local": "当地时间",
    },
    "en": {
        "app.name": "Canteen monitor",
        "nav.overview": "Overview",
        "nav.alerts": "Alerts",
        "nav.registers": "Registers",
        "nav.energy": "Energy",
        "nav.docs": "API docs",
        "nav.menu": "Menu",
        "user.role.viewer": "viewer",
        "user.role.staff": "staff",
        "user.role.admin": "administrator",
        "user.logout": "Log out",
        "lang.switch": "中文",
        "login.title": "Log in",
        "login.name": "User name",
        "login.password": "Password",
        "login.submit": "Log in",
        "login.failed": "Wrong user name or password.",
        "login.locked": "Too many failed logins: locked for now. Try again at {until} "
        "(in about {minutes} min).",
        "login.expired": "The login form had expired; please enter your details again.",
        "login.logged_out": "You are logged out.",
        "refused.title": "Request refused",
        "refused.csrf": "The form lacks a valid security token (the page may have been open "
        "too long, or you logged out elsewhere). Go back, reload the page and submit again.",
        "refused.back": "Back",
        "overview.title": "Overview",
        "overview.coming": "The device overview is coming. Meanwhile the data is in the API docs.",
        "placeholder.coming": "This page is coming.",
        "time.local": "local time",
    },
}


def language_of(request: Request) -> Language:
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate == "en":
            return "en"
        if candidate == "zh":
            return "zh"
    return "zh"


def translator(lang: Language) -> Callable[..., str]:
    words = CATALOGUE[lang]

    def t(key: str, **values: object) -> str:
        text = words[key]
        return text.format(**values) if values else text

    return t
