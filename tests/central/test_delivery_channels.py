"""Each channel posts its service's documented JSON to a real local receiver, signs as documented,
fits its size limit with a link to the full notice, treats an error reply as a failure even on HTTP
200, and never shows a secret; e-mail goes to a real aiosmtpd server with text and HTML parts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest

from central.delivery.channels import (
    WECOM_MARKDOWN_BYTES,
    SendError,
    build,
    post,
    webhook_signature,
)
from central.delivery.destinations import DestinationError, check_destination, redact
from central.delivery.mail import SmtpSettings, send_mail
from central.delivery.message import Message, fit
from tests.central.receivers import Hit, HttpReceiver, SmtpReceiver

MSG = Message(
    title="每日通报 2026年12月5日",
    markdown="**每日通报**\n\n- 诊所甲: 人员聚集 2\n",
    text="每日通报\n诊所甲: 人员聚集 2\n",
    html="<h1>每日通报</h1>",
    url="https://district.example/notices/2026-0001",
    more="查看全文",
)


def _send(receiver: HttpReceiver, channel: str, path: str, secret: str = "") -> Hit:
    dest = check_destination(channel, receiver.url(path), "zh_CN", secret)
    post(build(dest, MSG, kind="summary", ref="summary:2026-12-05:1"), channel)
    return receiver.taken()[-1]


def test_wecom_markdown(receiver: HttpReceiver) -> None:
    hit = _send(receiver, "wecom", "/wecom/cgi-bin/webhook/send?key=KEY-1234567890")
    assert hit.query == {"key": "KEY-1234567890"}
    assert hit.json() == {"msgtype": "markdown", "markdown": {"content": MSG.markdown}}
    assert hit.headers["content-type"].startswith("application/json")


def test_dingtalk_markdown_signed(receiver: HttpReceiver) -> None:
    secret = "SEC0123456789abcdef"
    before = int(time.time() * 1000)
    hit = _send(receiver, "dingtalk", "/dingtalk/robot/send?access_token=TOKEN99", secret)
    assert hit.json() == {
        "msgtype": "markdown",
        "markdown": {"title": MSG.title, "text": MSG.markdown},
    }
    ts = int(hit.query["timestamp"])
    assert before <= ts <= int(time.time() * 1000)
    want = base64.b64encode(
        hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()
    ).decode()
    assert hit.query["sign"] == want  # parse_qs undid the URL encoding
    assert hit.query["access_token"] == "TOKEN99"


def test_feishu_card_signed(receiver: HttpReceiver) -> None:
    secret = "feishu-secret-xyz"
    hit = _send(receiver, "feishu", "/feishu/open-apis/bot/v2/hook/abcdef-1234-5678", secret)
    doc = hit.json()
    assert doc["msg_type"] == "interactive"
    assert doc["card"]["header"]["title"] == {"tag": "plain_text", "content": MSG.title}
    assert doc["card"]["elements"] == [{"tag": "markdown", "content": MSG.markdown}]
    s = int(doc["timestamp"])
    assert abs(s - time.time()) < 5
    key = f"{s}\n{secret}".encode()
    assert doc["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def test_webhook_schema_and_signature(receiver: HttpReceiver) -> None:
    hit = _send(receiver, "webhook", "/webhook/hooks/triage", "hook-secret")
    doc = hit.json()
    assert doc["schema"] == "triage-central.delivery/1"
    assert (doc["id"], doc["kind"], doc["locale"]) == ("summary:2026-12-05:1", "summary", "zh_CN")
    assert doc["title"] == MSG.title
    assert doc["url"] == MSG.url
    assert doc["markdown"] == MSG.markdown
    ts = int(hit.headers["x-triage-timestamp"])
    assert hit.headers["x-triage-signature"] == webhook_signature("hook-secret", ts, hit.body)
    want = hmac.new(b"hook-secret", f"{ts}.".encode() + hit.body, hashlib.sha256).hexdigest()
    assert hit.headers["x-triage-signature"] == f"sha256={want}"


@pytest.mark.parametrize(
    ("channel", "reply", "permanent"),
    [
        ("wecom", {"errcode": 93000, "errmsg": "invalid webhook url"}, True),
        ("wecom", {"errcode": 45009, "errmsg": "api freq out of limit"}, False),
        ("dingtalk", {"errcode": 310000, "errmsg": "sign not match"}, True),
        ("dingtalk", {"errcode": 130101, "errmsg": "send too fast"}, False),
        ("feishu", {"code": 19021, "msg": "sign match fail", "data": {}}, True),
        ("feishu", {"code": 11232, "msg": "frequency limited", "data": {}}, False),
    ],
)
def test_error_code_on_http_200_is_a_failure(
    receiver: HttpReceiver, channel: str, reply: dict[str, object], permanent: bool
) -> None:
    receiver.reply = lambda hit: (200, json.dumps(reply).encode())
    path = {
        "wecom": "/wecom/send?key=K1234567890",
        "dingtalk": "/dingtalk/robot/send?access_token=T1234567890",
        "feishu": "/feishu/open-apis/bot/v2/hook/H1234567890abcdef",
    }[channel]
    with pytest.raises(SendError) as err:
        _send(receiver, channel, path)
    assert err.value.permanent is permanent
    code = reply.get("errcode", reply.get("code"))
    assert err.value.throttled is (code in (45009, 130101, 11232))  # sent too fast
    assert str(code) in str(err.value)
    assert "K1234567890" not in str(err.value)
    assert "T1234567890" not in str(err.value)


def test_http_errors_and_a_receiver_that_is_down(receiver: HttpReceiver) -> None:
    receiver.reply = lambda hit: (503, b"{}")
    with pytest.raises(SendError, match="HTTP 503") as err:
        _send(receiver, "webhook", "/webhook/x")
    assert not err.value.permanent
    receiver.reply = lambda hit: (404, b"{}")
    with pytest.raises(SendError, match="HTTP 404") as err:
        _send(receiver, "webhook", "/webhook/x")
    assert err.value.permanent
    receiver.reply = lambda hit: (429, b"{}")
    with pytest.raises(SendError, match="HTTP 429") as err:
        _send(receiver, "webhook", "/webhook/x")
    assert (err.value.permanent, err.value.throttled) == (False, True)
    url = receiver.url("/wecom/send?key=SECRETKEY123456")
    receiver.stop()
    dest = check_destination("wecom", url, "en")
    with pytest.raises(SendError, match="cannot reach") as err:
        post(build(dest, MSG), "wecom")
    assert not err.value.permanent
    assert "SECRETKEY" not in str(err.value)


def test_wecom_markdown_is_cut_to_4096_bytes_with_a_link(receiver: HttpReceiver) -> None:
    long = Message(
        title="t",
        markdown="\n".join(f"- 诊所{i}: 室内患者未戴口罩" for i in range(500)),
        text="",
        url="https://district.example/day/2026-12-05",
        more="查看全文",
    )
    dest = check_destination("wecom", receiver.url("/wecom/send?key=K"), "zh_CN")
    post(build(dest, long), "wecom")
    content = receiver.taken()[-1].json()["markdown"]["content"]
    assert len(content.encode("utf-8")) <= WECOM_MARKDOWN_BYTES
    assert content.endswith("[查看全文](https://district.example/day/2026-12-05)")
    assert content.startswith("- 诊所0:")
    body = "x" * 10
    assert fit(body, 4096, "u", "m", markdown=True) == body


def test_destinations_are_checked_and_redacted() -> None:
    url = (
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"
    )
    shown = check_destination("wecom", url, "zh-CN", name="区卫健群").shown()
    assert shown == "区卫健群: wecom qyapi.weixin.qq.com key=…5aaa"
    assert "693a91f6" not in repr(check_destination("wecom", url, "zh_CN"))
    feishu = "https://open.feishu.cn/open-apis/bot/v2/hook/0f9e8d7c-aaaa-bbbb-cccc-1234567890ab"
    assert redact("feishu", feishu) == "feishu open.feishu.cn …/…90ab"
    ding = "https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789"
    assert redact("dingtalk", ding) == "dingtalk oapi.dingtalk.com access_token=…6789"
    for channel, address, locale, secret, why in [
        ("sms", "x", "zh_CN", "", "channel 'sms'"),
        ("wecom", "ftp://x/?key=1", "zh_CN", "", "not an http"),
        (
            "wecom",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
            "zh_CN",
            "",
            "carries its key",
        ),
        ("dingtalk", "https://oapi.dingtalk.com/robot/send", "zh_CN", "", "carries its token"),
        ("email", "not-an-address", "zh_CN", "", "not an e-mail"),
        ("email", "a@b.cn", "fr", "", "language 'fr'"),
        ("wecom", url, "en", "s3cret", "signing secret"),
    ]:
        with pytest.raises(DestinationError, match=why) as err:
            check_destination(channel, address, locale, secret, where="groups[0]")
        assert str(err.value).startswith("groups[0]: ")
        assert "693a91f6" not in str(err.value)
        assert "s3cret" not in str(err.value)


def test_email_has_text_and_html_parts() -> None:
    smtp = SmtpReceiver().start()
    try:
        relay = SmtpSettings(host="127.0.0.1", port=smtp.port, sender="triage@district.example")
        dest = check_destination("email", "clinic@district.example", "zh_CN")
        send_mail(relay, dest, MSG, ref="notice:2026-0001")
        (mail,) = smtp.box
        assert mail["Subject"] == MSG.title
        assert mail["To"] == "clinic@district.example"
        text = mail.get_body(preferencelist=("plain",))
        html = mail.get_body(preferencelist=("html",))
        assert text is not None
        assert html is not None
        assert "人员聚集" in text.get_content()
        assert MSG.url in text.get_content()
        assert html.get_content().strip() == "<h1>每日通报</h1>"
        with pytest.raises(SendError, match="refused the recipient") as err:
            send_mail(relay, check_destination("email", "nobody@district.example", "en"), MSG)
        assert err.value.permanent
    finally:
        smtp.stop()
    with pytest.raises(SendError, match="cannot reach the mail relay") as err:
        send_mail(relay, dest, MSG)
    assert not err.value.permanent
