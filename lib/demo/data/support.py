"""Demo support tickets (MongoDB-shaped documents), written in the customer's language."""

from __future__ import annotations

from datetime import datetime, timedelta

from lib.demo.data.base import END_TS, START_TS, Row, is_korean, iso_z, later, seeded_rng

TICKET_COUNT = 3000

TICKET_TOPICS: list[tuple[str, list[str], list[tuple[str, str]]]] = [
    # (topic, tags, [(English subject, Korean subject)])
    ("delivery", ["delivery"], [
        ("My order has not arrived yet", "주문한 상품이 아직 도착하지 않았어요"),
        ("Tracking number does not work", "송장번호 조회가 안 됩니다"),
        ("Wrong delivery address", "배송지를 잘못 입력했어요")]),
    ("damaged", ["delivery", "damaged"], [
        ("Package arrived damaged", "상품이 파손되어 도착했습니다"),
        ("Missing item in my package", "상품이 일부 누락되었어요")]),
    ("refund", ["refund"], [
        ("Refund request", "환불 요청드립니다"),
        ("Refund not received yet", "환불이 아직 안 들어왔어요"),
        ("Partial refund for one item", "일부 상품만 환불하고 싶어요")]),
    ("payment", ["payment"], [
        ("Card was charged twice", "카드 결제가 두 번 되었어요"),
        ("Virtual account deposit not confirmed", "가상계좌 입금 확인이 안 됩니다")]),
    ("account", ["account"], [
        ("Cannot log in", "로그인이 안 돼요"),
        ("Please change my email address", "이메일 주소 변경 부탁드립니다")]),
    ("product", ["product"], [
        ("Question about product size", "상품 사이즈 문의"),
        ("When will this item be back in stock?", "재입고 일정이 궁금합니다")]),
]  # fmt: skip
TICKET_TOPIC_WEIGHTS = [30, 10, 22, 12, 10, 16]
SUPPORT_AGENTS = {
    "Tier 1": ["Jiyoon Park", "Minho Lee", "Emma Wilson"],
    "Billing": ["Sarah Kim", "Daniel Choi"],
    "Logistics": ["Hyejin Jung", "Tom Baker"],
}
TOPIC_TEAM = {"refund": "Billing", "payment": "Billing", "delivery": "Logistics",
              "damaged": "Logistics", "account": "Tier 1", "product": "Tier 1"}  # fmt: skip
AGENT_REPLIES = [
    ("Thanks for reaching out. We are looking into it.",
     "문의 감사합니다. 확인 후 안내드리겠습니다."),
    ("We have checked your order and updated it.", "주문 내역을 확인하고 처리했습니다."),
    ("Is there anything else we can help with?", "더 도와드릴 일이 있을까요?"),
]  # fmt: skip
CUSTOMER_FOLLOW_UPS = [
    ("Could you check again, please?", "다시 한번 확인 부탁드립니다."),
    ("Any update on this?", "진행 상황이 궁금합니다."),
    ("I attached a photo.", "사진 첨부했습니다."),
]  # fmt: skip


def tickets(customer_rows: list[Row]) -> list[Row]:
    """3000 support tickets (MongoDB-shaped documents), ids T000001.. in creation order.

    Korean-named customers write in Korean. Older tickets are nearly all closed.
    """
    rng = seeded_rng("tickets")
    drafts = []
    for _ in range(TICKET_COUNT):
        customer = rng.choice(customer_rows)
        signup = datetime.fromisoformat(customer["signup_date"])
        lo = max(signup, START_TS)
        # Skewed towards recent dates, as the customer base grows.
        created = lo + timedelta(seconds=int((END_TS - lo).total_seconds() * rng.random() ** 0.7))
        drafts.append((created, customer))
    drafts.sort(key=lambda d: (d[0], d[1]["id"]))

    rows: list[Row] = []
    for n, (created, customer) in enumerate(drafts, start=1):
        ko = is_korean(customer["name"])
        topic, tags, subjects = rng.choices(TICKET_TOPICS, TICKET_TOPIC_WEIGHTS)[0]
        subject_en, subject_ko = rng.choice(subjects)
        age_days = (END_TS - created).days
        if age_days < 7:
            status = rng.choices(("open", "pending", "closed"), (50, 30, 20))[0]
        elif age_days < 30:
            status = rng.choices(("open", "pending", "closed"), (20, 30, 50))[0]
        else:
            status = rng.choices(("open", "pending", "closed"), (2, 3, 95))[0]
        high_share = 30 if topic in ("payment", "damaged") else 10
        priority = rng.choices(("low", "normal", "high"), (25, 65 - high_share, high_share))[0]
        team = TOPIC_TEAM[topic]

        subject = subject_ko if ko else subject_en
        messages = [{"from": "customer", "at": iso_z(created), "body": subject}]
        # Open tickets wait for an agent (last word: customer); pending ones wait for the
        # customer and closed ones are done (last word: agent).
        agent_replies = rng.choice((0, 0, 1)) if status == "open" else rng.randint(1, 3)
        at = created
        for r in range(agent_replies):
            at = later(rng, at, 300, 8 * 3600)
            body = rng.choice(AGENT_REPLIES)[ko]
            messages.append({"from": "agent", "at": iso_z(at), "body": body})
            if status == "open" or r < agent_replies - 1:
                at = later(rng, at, 300, 24 * 3600)
                body = rng.choice(CUSTOMER_FOLLOW_UPS)[ko]
                messages.append({"from": "customer", "at": iso_z(at), "body": body})
        rows.append(
            {
                "_id": f"T{n:06d}",
                "customer_id": customer["id"],
                "subject": subject,
                "status": status,
                "priority": priority,
                "channel": rng.choices(("email", "chat", "phone"), (45, 40, 15))[0],
                "created_at": iso_z(created),
                "assignee": {"name": rng.choice(SUPPORT_AGENTS[team]), "team": team},
                "tags": list(tags),
                "messages": messages,
            }
        )
    return rows
