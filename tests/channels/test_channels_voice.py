"""The Twilio voice channel against the sandbox peer's Calls API with the real ``twilio`` client: the TwiML per
language, each scripted outcome mapped to a receipt, forged callbacks, and call-creation errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from twilio.request_validator import RequestValidator
from werkzeug.wrappers import Request, Response

from app.channels.base import ReceiptUpdate, SmsOutbound, VoiceOutbound, WrongMessageKind
from app.channels.twilio_sms import ForgedCallback
from app.channels.twilio_voice import (
    DETECTION,
    TwilioVoiceChannel,
    answer_twiml,
    map_call_status,
    menu_twiml,
    parse_call_status,
    voice_for,
)
from app.notices.rendering import NoticeRenderer
from app.sandbox.common import HttpPeer
from app.sandbox.twilio_calls import inspect_twiml
from app.sandbox.twilio_peer import TwilioPeer
from tests.notices.notices_sample import TEMPLATES, context

FROM = "+15005550006"
NUMBERS = {"human": "+14155550101", "machine": "+14155550102", "busy": "+14155550103",
           "no-answer": "+14155550104", "failed": "+14155550105"}


def voice_message(locale: str, to: str, *, policy: str = "voicemail", base: str = "http://app.test") -> VoiceOutbound:
    notice = NoticeRenderer(TEMPLATES).render_for(context(locale), regime="us-ca", channel="voice")
    return VoiceOutbound(to, dict(notice.parts), notice.locale, f"{base}/voice/answer", f"{base}/voice/status",
                         DETECTION[policy], "77")


@pytest.mark.parametrize(("locale", "voice", "language", "phrase"), [
    ("en", "Polly.Joanna", "en-US", "This is an important call from Acme Health, Inc."),
    ("de", "Polly.Vicki", "de-DE", "Dies ist ein wichtiger Anruf von Acme Health, Inc."),
    ("fr", "Polly.Lea", "fr-FR", "Ceci est un appel important de Acme Health, Inc."),
    ("zh", "Polly.Zhiyu", "cmn-CN", "这是Acme Health, Inc.关于您个人信息的重要来电"),
])
def test_twiml_speaks_the_notice_in_the_persons_language(locale: str, voice: str, language: str, phrase: str) -> None:
    message = voice_message(locale, NUMBERS["human"])
    document = inspect_twiml(answer_twiml(message, answered_by="human", policy="voicemail",
                                          gather_url="http://app.test/voice/gather"))
    assert document.problems == ()
    assert document.verbs == ("Say", "Gather", "Gather/Say", "Hangup")
    assert {(v, lang) for _, v, lang in document.says} == {(voice, language)}
    spoken, menu = document.says[0][0], document.says[1][0]
    assert phrase in spoken and "1-800-555-0100" in spoken and "Siobhán O'Brien" in spoken
    assert "1" in menu and "2" in menu and "https://" not in spoken
    assert document.gather_action == "http://app.test/voice/gather?ref=77"
    # an answering machine gets the voicemail variant: no name, no menu, the call-centre number
    machine = inspect_twiml(answer_twiml(message, answered_by="machine_end_beep", policy="voicemail",
                                         gather_url="http://app.test/voice/gather"))
    assert machine.problems == () and machine.verbs == ("Say", "Hangup") and machine.gather_action is None
    assert "1-800-555-0100" in machine.says[0][0] and "O'Brien" not in machine.says[0][0]
    assert machine.says[0][1:] == (voice, language)


def test_machine_policies_and_menu_choices() -> None:
    message = voice_message("en", NUMBERS["machine"])
    gather = "http://app.test/voice/gather"
    hangup = inspect_twiml(answer_twiml(message, answered_by="machine_start", policy="hangup", gather_url=gather))
    assert hangup.verbs == ("Hangup",)
    spoken = inspect_twiml(answer_twiml(message, answered_by="machine_start", policy="notice", gather_url=gather))
    assert "Gather" in spoken.verbs
    again = inspect_twiml(menu_twiml(message, digits="1", gather_url=gather, link_sent=False))
    assert again.says[0][0] == message.parts["notice"] and again.gather_action == f"{gather}?ref=77"
    sent = inspect_twiml(menu_twiml(message, digits="2", gather_url=gather, link_sent=True))
    assert sent.says == ((message.parts["sent"], "Polly.Joanna", "en-US"),) and sent.verbs == ("Say", "Hangup")
    other = inspect_twiml(menu_twiml(message, digits="9", gather_url=gather, link_sent=False))
    assert other.says[0][0] == message.parts["menu"]
    assert voice_for("de-AT") == ("Polly.Vicki", "de-DE") and voice_for("pt-BR") == ("Polly.Joanna", "en-US")


def test_status_mapping_table() -> None:
    def state(status: str, answered: str | None = None, policy: Any = "voicemail", code: str | None = None) -> Any:
        update = map_call_status("CA1", status, answered_by=answered, error_code=code, policy=policy)
        return update.state, update.provider_status, update.dead_contact

    assert state("ringing") == ("sent", "ringing", False)
    assert state("completed", "human") == ("delivered", "completed", False)
    assert state("completed") == ("delivered", "completed", False)
    assert state("completed", "machine_end_beep") == ("delivered", "voicemail", False)
    assert state("completed", "machine_start", "hangup") == ("failed_temporary", "machine", False)
    assert state("completed", "machine_end_beep", "notice") == ("delivered", "completed", False)
    assert state("completed", "fax") == ("failed_permanent", "fax", True)
    assert state("busy") == ("failed_temporary", "busy", False)
    assert state("no-answer") == ("failed_temporary", "no-answer", False)
    assert state("failed", code="13224") == ("failed_permanent", "failed", True)
    assert state("failed") == ("failed_permanent", "failed", False)


@dataclass
class OurSide:
    """Our webhooks in miniature: the answer and gather URLs serve the TwiML for ``message`` and the status URL
    verifies and maps callbacks (403 for a bad signature)."""

    auth_token: str
    messages: dict[str, VoiceOutbound] = field(default_factory=dict)
    updates: list[ReceiptUpdate] = field(default_factory=list)
    forged: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.http = HttpPeer(self._wsgi)

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        signature = request.headers.get("X-Twilio-Signature")
        if request.path.endswith("/status"):
            try:
                update = parse_call_status(request.url, request.form, signature, self.auth_token, policy="voicemail")
            except ForgedCallback:
                with self.lock:
                    self.forged += 1
                return Response("forged", status=403)(environ, start_response)
            with self.lock:
                self.updates.append(update)
            return Response(status=204)(environ, start_response)
        if not RequestValidator(self.auth_token).validate(request.url, dict(request.form), signature or ""):
            return Response("forged", status=403)(environ, start_response)
        message = self.messages[request.form["To"]]
        gather = f"{self.http.url}/voice/gather"
        if request.path.endswith("/answer"):
            body = answer_twiml(message, answered_by=request.form.get("AnsweredBy"), policy="voicemail",
                                gather_url=gather)
        else:
            body = menu_twiml(message, digits=request.form.get("Digits", ""), gather_url=gather, link_sent=True)
        return Response(body, mimetype="application/xml")(environ, start_response)


@pytest.fixture
def peer() -> Iterator[TwilioPeer]:
    twilio = TwilioPeer("AC" + "1" * 32, "voice-token")
    twilio.start()
    yield twilio
    twilio.stop()


def test_each_scripted_outcome_reaches_our_status_webhook(peer: TwilioPeer) -> None:
    ours = OurSide(peer.auth_token)
    ours.http.start()
    channel = TwilioVoiceChannel(peer.account_sid, peer.auth_token, from_number=FROM, base_url=peer.url)
    try:
        for outcome, number in NUMBERS.items():
            peer.calls.script(number, outcome, digits="12" if outcome == "human" else "",  # type: ignore[arg-type]
                              error_code="13224" if outcome == "failed" else None)
            ours.messages[number] = voice_message("en", number, base=ours.http.url)
            result = channel.send(ours.messages[number])
            assert result.accepted and (result.provider_id or "").startswith("CA"), result
            assert result.provider_status == "queued"
        assert len(peer.calls.wait_for_statuses(5, timeout=20)) == 5
    finally:
        channel.close()
        ours.http.stop()
    placed = {c.to: c for c in peer.calls.calls}
    assert placed[NUMBERS["human"]].url == f"{ours.http.url}/voice/answer?ref=77"
    assert placed[NUMBERS["human"]].status_callback == f"{ours.http.url}/voice/status?ref=77"
    assert placed[NUMBERS["human"]].machine_detection == "DetectMessageEnd"
    states = {u.provider_id: (u.state, u.provider_status, u.reference) for u in ours.updates}
    by_number = {c.to: states[c.sid] for c in peer.calls.calls}
    assert by_number == {NUMBERS["human"]: ("delivered", "completed", "77"),
                         NUMBERS["machine"]: ("delivered", "voicemail", "77"),
                         NUMBERS["busy"]: ("failed_temporary", "busy", "77"),
                         NUMBERS["no-answer"]: ("failed_temporary", "no-answer", "77"),
                         NUMBERS["failed"]: ("failed_permanent", "failed", "77")}
    assert ours.forged == 0 and {s.answer for s in peer.calls.statuses} == {204}
    documents = peer.calls.documents
    assert all(d.problems == () for d in documents), [d.problems for d in documents]
    human_sid = placed[NUMBERS["human"]].sid
    assert [d.step for d in documents if d.sid == human_sid] == ["answer", "gather:1", "gather:2"]
    machine = next(d for d in documents if d.sid == placed[NUMBERS["machine"]].sid)
    assert machine.gather_action is None and "important message" in machine.says[0][0]
    assert not any(d.sid == placed[NUMBERS["busy"]].sid for d in documents)  # nobody answered: no TwiML


def test_forged_call_status_is_refused(peer: TwilioPeer) -> None:
    url = "http://127.0.0.1:5000/webhooks/twilio/voice/status?ref=5"
    params = {"CallSid": "CA" + "2" * 32, "CallStatus": "completed"}
    with pytest.raises(ForgedCallback):
        parse_call_status(url, params, "bm90IGEgc2lnbmF0dXJl", peer.auth_token, policy="voicemail")
    with pytest.raises(ForgedCallback):
        parse_call_status(url, params, None, peer.auth_token, policy="voicemail")
    good = RequestValidator(peer.auth_token).compute_signature(url, params)
    assert parse_call_status(url, params, good, peer.auth_token, policy="voicemail").state == "delivered"


def test_call_creation_errors_are_classified(peer: TwilioPeer) -> None:
    wrong = TwilioVoiceChannel(peer.account_sid, "not-the-token", from_number=FROM, base_url=peer.url)
    result = wrong.send(voice_message("en", NUMBERS["human"]))
    assert (result.outcome, result.error_code) == ("temporary_failure", "20003")
    no_caller = TwilioVoiceChannel(peer.account_sid, peer.auth_token, from_number="", base_url=peer.url)
    result = no_caller.send(voice_message("en", NUMBERS["human"]))
    assert (result.outcome, result.error_code) == ("permanent_failure", "21213")
    assert peer.calls.calls == []
    with pytest.raises(WrongMessageKind):
        wrong.send(SmsOutbound("+14155550101", "hi", None, "1"))
