"""The field page in Korean and in Simplified Chinese, on a phone, with the
details a coordinator writes for a Korean and a Chinese cell (the README's
screenshots)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from safepassage.journeys.services import (
    do_add_leg,
    do_create_journey,
    do_mark_leg_started,
    do_start_journey,
    do_update_handoff,
)
from safepassage.members.services import do_update_preferences
from safepassage.vault.keyring import unlocked
from tests.alerts.support import set_pins

from .conftest import log_in, screenshot

pytestmark = pytest.mark.browser


def _bilingual_journey(world):
    """Leg 1 for the Korean-speaking cell (Heron), leg 2 for the Chinese-speaking
    one (Otter); the handoff between them written in both languages."""
    coord = world.coord
    start = (timezone.now() + timedelta(days=1)).replace(hour=1, minute=0, second=0, microsecond=0)
    with unlocked(world.coord_keyring):
        journey = do_create_journey(actor=coord, case=world.case, title="West route")
        first = do_add_leg(
            actor=coord,
            journey=journey,
            cell=world.cells[0],
            route="연길 → 장춘. 검문소가 있는 고속도로 대신 옛 국도로",
            vehicle="회색 폭스바겐 산타나",
            notes="휴게소에 서지 마세요. 물과 간식은 차에 있습니다.",
            window_start=start,
            window_end=start + timedelta(hours=5),
        )
        second = do_add_leg(
            actor=coord,
            journey=journey,
            cell=world.cells[1],
            transport="bus",
            route="长春 → 丹东，走老路，避开高速收费站",  # noqa: RUF001 - Chinese punctuation
            notes="到丹东之前不要下车。有问题就发短信。",
            window_start=start + timedelta(hours=6),
            window_end=start + timedelta(hours=12),
        )
        handoffs = {h.position: h for h in journey.handoffs.all()}
        do_update_handoff(
            actor=coord,
            handoff=handoffs[0],
            place="연길 서시장 북문 앞",
            window_start=start - timedelta(minutes=30),
            window_end=start,
            clothing="남색 패딩, 흰 운동화",
            signal="오른손에 검은 우산",
        )
        do_update_handoff(
            actor=coord,
            handoff=handoffs[1],
            place="长春粮食市场后面的停车场 (장춘 곡물시장 뒤 주차장)",
            window_start=start + timedelta(hours=5),
            window_end=start + timedelta(hours=6),
            vehicle_colour="银色 / 은색",
            vehicle_plate="吉A 7Q219",
            signal="左手拿着报纸 / 왼손에 신문",
        )
        do_update_handoff(
            actor=coord,
            handoff=handoffs[2],
            place="丹东火车站南边的小旅馆",
            window_start=start + timedelta(hours=11),
            window_end=start + timedelta(hours=12),
            clothing="灰色外套",
        )
        do_start_journey(actor=coord, journey=journey)
    return first, second


# (language, time zone, the cell whose member reads it, a word of that leg's details)
READERS = [("ko", "Asia/Seoul", 0, "연길"), ("zh-hans", "Asia/Shanghai", 1, "丹东")]


def test_the_field_page_in_korean_and_chinese(contexts, world):
    legs = _bilingual_journey(world)
    for language, zone, cell, word in READERS:
        leg = legs[cell]
        member, ring = world.member(cell)
        set_pins(member, ring)
        with unlocked(ring):
            do_update_preferences(actor=member, time_zone=zone, language=language)
            if cell == 0:
                leg.refresh_from_db(fields=["released_at"])  # released by the start
                do_mark_leg_started(actor=member, leg=leg)

        page = contexts(phone=True).new_page()
        log_in(page, member.handle)
        page.goto(f"/field/legs/{leg.pk}/")
        assert page.locator("html").get_attribute("lang") == language
        title = page.get_by_role("heading", level=1).inner_text()
        assert title and title != "Your leg", f"the page is not in {language}"
        body = page.locator("main").inner_text()
        assert word in body and zone in body
        # Glyphs, not boxes: Chromium drew the heading with a CJK font.
        cdp = page.context.new_cdp_session(page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument")["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "main h1"})["nodeId"]
        platform = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        fonts = [f["familyName"] for f in platform]
        assert any("CJK" in name for name in fonts), fonts
        screenshot(page, "field-ko" if language == "ko" else "field-zh", docs=True)
