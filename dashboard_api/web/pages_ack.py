"""The signed acknowledge link's page: `/ack/{token}` (the link a notification carries).

GET shows the alert the link names (device by name and place, what happened, since when, its
state) and a confirm button; nothing changes on a GET, so a chat app's link preview cannot
acknowledge anything. POST acknowledges through the same `AlertBook` step as the API:

- someone logged in (the session's cookie): in their name, with the session's CSRF field, and
  only with the role staff, as on the alert's own page;
- nobody logged in: in the name of the link's holder, the channel it was sent to ("via wecom
  link (kitchen-robot)"), as issue 13 allows. The form then carries a field derived from the
  token with the service's secret: the token itself is the credential, and a page elsewhere
  that does not know it cannot make a browser post it.

An expired, altered or foreign link, an unknown alert, or links switched off in the config is
a page saying so (410, 400, 404), never a 500; an alert already acknowledged shows by whom.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse

from alerts.errors import AlertError, AlertNotFoundError
from alerts.notify.links import LinkError, LinkExpiredError, LinkTamperedError, verify
from core.records import Alert, AlertAction, AlertState, Role
from dashboard_api.auth import Person
from dashboard_api.context import ApiContext
from dashboard_api.deps import Context, check_form_csrf, current_person, get_desk
from dashboard_api.routes.alerts import announce_step
from dashboard_api.web.i18n_registers import add_words
from dashboard_api.web.render import render

__all__ = ["link_actor", "router"]

router = APIRouter(include_in_schema=False)

_TOKEN_MAX = 512  # a token of ours is about 100 characters; longer is not one


@router.get("/ack/{token}", response_class=HTMLResponse)
async def ack_page(request: Request, context: Context, token: str) -> HTMLResponse:
    found = _checked(request, context, token)
    if isinstance(found, HTMLResponse):
        return found
    alert_id, audience = found
    alert = await _alert(request, context, alert_id)
    if isinstance(alert, HTMLResponse):
        return alert
    return _show(request, context, token, alert, audience)


@router.post("/ack/{token}", response_class=HTMLResponse)
async def ack_confirm(request: Request, context: Context, token: str) -> HTMLResponse:
    found = _checked(request, context, token)
    if isinstance(found, HTMLResponse):
        return found
    alert_id, audience = found
    form = await request.form()
    person = current_person(request)
    if person is not None and person.via == "session":
        check_form_csrf(person, form.get("csrf"))  # a refusal is the shell's 403 page
        if not person.role.allows(Role.STAFF):
            return _problem(request, 403, "ack.viewer", name=person.name)
        by = person.name
    else:
        sent = form.get("csrf")
        if not isinstance(sent, str) or not hmac.compare_digest(sent, _form_key(context, token)):
            return _problem(request, 403, "ack.form_key")
        by = link_actor(context, audience)
    desk = get_desk(context)
    try:
        alert = await run_in_threadpool(
            desk.book.acknowledge, alert_id, by, "acknowledged through the signed link"
        )
    except AlertNotFoundError:
        return _problem(request, 404, "ack.unknown_alert", id=alert_id)
    except AlertError as exc:
        current = await _alert(request, context, alert_id)
        if isinstance(current, HTMLResponse):
            return current
        return _show(request, context, token, current, audience, refused=exc.message, status=409)
    announce_step(context, alert, AlertAction.ACKNOWLEDGED)
    return _show(request, context, token, alert, audience, done=True)


def link_actor(context: ApiContext, audience: str) -> str:
    """Who the history names for an acknowledgement through a link nobody logged in to."""
    channel = context.config.notify.channels.get(audience)
    kind = channel.type if channel is not None else "signed"
    return f"via {kind} link ({audience})"


def _checked(request: Request, context: Context, token: str) -> tuple[int, str] | HTMLResponse:
    secret = context.config.notify.link_secret_text()
    if secret is None:
        return _problem(request, 404, "ack.disabled")
    if len(token) > _TOKEN_MAX:
        return _problem(request, 400, "ack.malformed")
    try:
        return verify(token, secret, context.clock.now())
    except LinkExpiredError as exc:
        return _problem(
            request, 410, "ack.expired", at=_local(context, exc.expired_at), id=exc.alert_id
        )
    except LinkTamperedError:
        return _problem(request, 400, "ack.tampered")
    except LinkError:
        return _problem(request, 400, "ack.malformed")


async def _alert(request: Request, context: Context, alert_id: int) -> Alert | HTMLResponse:
    desk = get_desk(context)
    try:
        alert: Alert = await run_in_threadpool(desk.book.get, alert_id)
    except AlertNotFoundError:
        return _problem(request, 404, "ack.unknown_alert", id=alert_id)
    return alert


def _show(
    request: Request,
    context: ApiContext,
    token: str,
    alert: Alert,
    audience: str,
    *,
    done: bool = False,
    refused: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    person = current_person(request)
    acting = person if person is not None and person.via == "session" else None
    values: dict[str, Any] = {
        "alert": alert,
        "token": token,
        "device": _device(context, alert),
        "can_ack": alert.state is AlertState.FIRING and not done,
        "done": done,
        "refused": refused,
        "acting": acting,
        "staff": acting is None or acting.role.allows(Role.STAFF),
        "holder": link_actor(context, audience),
        "form_key": _form_key(context, token) if acting is None else _csrf(acting),
    }
    return render(request, "ack.html", values, status_code=status)


def _device(context: ApiContext, alert: Alert) -> dict[str, str]:
    device = context.config.device(alert.device)
    buildings = {b.id: b.name for b in context.config.buildings}
    if device is None:
        return {"name": alert.device, "location": ""}
    where = " ".join(p for p in (buildings.get(device.building, ""), device.location) if p)
    return {"name": device.name or device.id, "location": where}


def _csrf(person: Person) -> str:
    return person.csrf or ""


def _form_key(context: ApiContext, token: str) -> str:
    secret = context.config.notify.link_secret_text() or ""
    return hmac.new(secret.encode(), f"ack-form|{token}".encode(), hashlib.sha256).hexdigest()


def _problem(request: Request, status: int, key: str, **values: object) -> HTMLResponse:
    return render(request, "ack_problem.html", {"key": key, "values": values}, status_code=status)


def _local(context: ApiContext, instant: datetime) -> str:
    return instant.astimezone(context.config.site.zone).strftime("%Y-%m-%d %H:%M")


add_words(
    {
        "ack.title": "确认告警",
        "ack.intro": "此链接来自告警通知。确认表示您已看到并正在处理。",
        "ack.device": "设备",
        "ack.location": "位置",
        "ack.what": "情况",
        "ack.since": "开始时间",
        "ack.state": "状态",
        "ack.confirm": "确认已收到并处理",
        "ack.as_person": "将以您的名义（{name}）记录。",
        "ack.as_holder": "您未登录：将记录为“{holder}”。如需以本人名义确认，请先登录。",
        "ack.login": "登录后确认",
        "ack.done": "已确认。升级提醒已停止。",
        "ack.already": "已由 {by} 于 {at} 确认。",
        "ack.not_firing": "此告警当前状态为“{state}”，无需确认。",
        "ack.open_alert": "查看告警详情",
        "ack.problem_title": "无法使用此链接",
        "ack.disabled": "本服务未启用确认链接（notify.link_secret 未配置）。",
        "ack.malformed": "这不是本服务发出的确认链接（格式不对或被截断）。请从通知中完整复制链接。",
        "ack.tampered": "确认链接已被修改或不是本服务签发的。",
        "ack.expired": "确认链接已于 {at} 过期。请登录后在告警 #{id} 的页面上确认。",
        "ack.unknown_alert": "没有编号为 {id} 的告警。",
        "ack.form_key": "确认表单无效（缺少或不匹配的表单校验字段）。请重新打开链接后再确认。",
        "ack.viewer": "{name} 的角色为只读，不能确认告警；需要 staff 角色。",
        # The energy anomalies the service raises as alerts (canteen.energy_alerts).
        "rule.energy_night_base_load": "夜间基础负荷偏高",
        "rule.energy_holiday_base_load": "假期负荷偏高",
        "rule.energy_night_water_flow": "夜间持续用水（疑似漏水）",
        "rule.energy_kitchen_off_hours": "厨房非营业时段用能",
    },
    {
        "ack.title": "Acknowledge alert",
        "ack.intro": "This link came with an alert notification. Acknowledging says you have "
        "seen it and are acting on it.",
        "ack.device": "Device",
        "ack.location": "Location",
        "ack.what": "What",
        "ack.since": "Since",
        "ack.state": "State",
        "ack.confirm": "Acknowledge: seen and acting",
        "ack.as_person": "Recorded in your name ({name}).",
        "ack.as_holder": "You are not logged in: recorded as \u201c{holder}\u201d. Log in first to "
        "acknowledge in your own name.",
        "ack.login": "Log in to acknowledge",
        "ack.done": "Acknowledged. Escalation has stopped.",
        "ack.already": "Acknowledged by {by} at {at}.",
        "ack.not_firing": "This alert is {state}: there is nothing to acknowledge.",
        "ack.open_alert": "Open the alert",
        "ack.problem_title": "This link cannot be used",
        "ack.disabled": "Acknowledge links are not enabled in this service "
        "(notify.link_secret is not set).",
        "ack.malformed": "This is not an acknowledge link of this service (wrong shape or cut "
        "off). Copy the whole link from the notification.",
        "ack.tampered": "The acknowledge link was altered or was not issued by this service.",
        "ack.expired": "The acknowledge link expired at {at}. Log in and acknowledge alert "
        "#{id} on its page.",
        "ack.unknown_alert": "There is no alert {id}.",
        "ack.form_key": "The acknowledge form is not valid (its check field is missing or "
        "wrong). Open the link again and confirm.",
        "ack.viewer": "{name} has the role viewer and cannot acknowledge alerts; staff is needed.",
        "rule.energy_night_base_load": "High night base load",
        "rule.energy_holiday_base_load": "High holiday load",
        "rule.energy_night_water_flow": "Water flowing at night (leak?)",
        "rule.energy_kitchen_off_hours": "Kitchen energy out of hours",
    },
)
