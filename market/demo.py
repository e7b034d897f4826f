"""Realistic demo data: organisations and a few hundred listings of every kind around
the Kanto region, with plausible soil classes, grades, volumes, windows and prices.

Deterministic for a given seed. Demo users share one password, printed by the command.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from decimal import Decimal

from PIL import Image, ImageDraw, ImageFilter
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from market import tasks
from market.accounts.models import Organisation, OrgKind, Partnership, Role, User
from market.accounts.services import active_members
from market.allocation import runs as matching_runs
from market.allocation import services as allocation
from market.allocation.models import Deal, Plant, PlantConversion
from market.catalog import photos, validation
from market.catalog import services as catalog
from market.catalog.kinds import SPECS
from market.catalog.models import (
    Grade,
    ListingKind,
    ListingStatus,
    MaterialCategory,
    ReuseCategory,
)
from market.db import as_of, japan_today, utcnow
from market.demo_history import History
from market.errors import DomainError, NotFound
from market.orders.demo import open_trades

DEMO_PASSWORD = "meguri-demo-2026"

# (name, municipality code, prefecture code, lat, lon, weight)
CITIES = [
    ("新宿区", "131041", "13", 35.6938, 139.7034, 3),
    ("渋谷区", "131130", "13", 35.6640, 139.6982, 2),
    ("江東区", "131083", "13", 35.6727, 139.8171, 4),
    ("大田区", "131113", "13", 35.5614, 139.7160, 3),
    ("八王子市", "132012", "13", 35.6664, 139.3160, 2),
    ("横浜市", "141003", "14", 35.4437, 139.6380, 5),
    ("川崎市", "141305", "14", 35.5308, 139.7029, 3),
    ("相模原市", "141500", "14", 35.5714, 139.3733, 2),
    ("厚木市", "142123", "14", 35.4431, 139.3620, 1),
    ("さいたま市", "111007", "11", 35.8617, 139.6455, 4),
    ("川口市", "112038", "11", 35.8078, 139.7241, 2),
    ("所沢市", "112089", "11", 35.7996, 139.4686, 1),
    ("千葉市", "121002", "12", 35.6074, 140.1065, 3),
    ("船橋市", "122041", "12", 35.6946, 139.9826, 2),
    ("柏市", "122173", "12", 35.8676, 139.9758, 1),
    ("宇都宮市", "092011", "09", 36.5551, 139.8828, 1),
    ("前橋市", "102016", "10", 36.3895, 139.0634, 1),
    ("高崎市", "102024", "10", 36.3219, 139.0033, 1),
    ("水戸市", "082015", "08", 36.3659, 140.4714, 1),
    ("つくば市", "082201", "08", 36.0835, 140.0764, 1),
]

# (kind, name, home city): each organisation works around where it is based, so its
# distances, invoices and listings agree with its address.
ORGS = [
    (OrgKind.contractor, "東都建設株式会社", "新宿区"),
    (OrgKind.contractor, "湾岸土木工業株式会社", "江東区"),
    (OrgKind.contractor, "武蔵野組", "八王子市"),
    (OrgKind.contractor, "相模開発株式会社", "相模原市"),
    (OrgKind.contractor, "北関東建設株式会社", "宇都宮市"),
    (OrgKind.contractor, "房総基盤工事株式会社", "千葉市"),
    (OrgKind.contractor, "横浜みなと建設", "横浜市"),
    (OrgKind.contractor, "彩の国土木株式会社", "さいたま市"),
    (OrgKind.municipality, "横浜市 資源循環局", "横浜市"),
    (OrgKind.municipality, "川崎市 環境局", "川崎市"),
    (OrgKind.municipality, "さいたま市 環境局", "さいたま市"),
    (OrgKind.municipality, "千葉市 環境局", "千葉市"),
    (OrgKind.municipality, "八王子市 資源循環部", "八王子市"),
    (OrgKind.municipality, "宇都宮市 環境部", "宇都宮市"),
    (OrgKind.reuse_operator, "リユースかながわ株式会社", "横浜市"),
    (OrgKind.reuse_operator, "まちの道具屋", "川崎市"),
    (OrgKind.reuse_operator, "セカンドライフ家具", "さいたま市"),
    (OrgKind.reuse_operator, "関東リサイクルショップ連合", "船橋市"),
    (OrgKind.reuse_operator, "自転車再生工房", "八王子市"),
    (OrgKind.reuse_operator, "ふたたび商会", "宇都宮市"),
    (OrgKind.recycler, "首都圏再生砕石株式会社", "川崎市"),
    (OrgKind.recycler, "京浜スクラップ工業", "大田区"),
    (OrgKind.recycler, "関東資源再生株式会社", "川口市"),
    (OrgKind.recycler, "東京湾岸リサイクルセンター", "江東区"),
    (OrgKind.recycler, "北総アスコン再生", "柏市"),
    (OrgKind.stockyard_operator, "京葉ストックヤード株式会社", "船橋市"),
    (OrgKind.stockyard_operator, "多摩土砂ストック", "八王子市"),
    (OrgKind.stockyard_operator, "埼玉中央ストックヤード", "さいたま市"),
    (OrgKind.stockyard_operator, "湘南残土センター", "厚木市"),
]

# How many listings of each kind per 400.
MIX = {
    ListingKind.soil_offer: 90,
    ListingKind.soil_want: 60,
    ListingKind.material_offer: 40,
    ListingKind.material_want: 20,
    ListingKind.reuse_item: 100,
    ListingKind.reuse_want: 12,
    ListingKind.recycled_offer: 40,
    ListingKind.recycled_want: 26,
    ListingKind.stockyard: 12,
}
# Surplus soil is mostly 2nd/3rd class in Greater Tokyo; mud is rarer.
SOIL_MIX = [
    ("1", 8),
    ("1i", 2),
    ("2a", 10),
    ("2b", 14),
    ("2i", 3),
    ("3a", 16),
    ("3b", 14),
    ("3i", 5),
    ("4a", 8),
    ("4b", 6),
    ("4i", 3),
    ("mud-a", 4),
    ("mud-b", 3),
    ("mud-c", 1),
]
SOIL_GROUP_RANK = {
    "1": 0,
    "1i": 0,
    "2a": 1,
    "2b": 1,
    "2i": 1,
    "3a": 2,
    "3b": 2,
    "3i": 2,
    "4a": 3,
    "4b": 3,
    "4i": 3,
    "mud-a": 4,
    "mud-b": 4,
    "mud-c": 4,
}
CONE = {"1": None, "2": 800, "3": 400, "4": 200, "m": 100}
PROJECTS = [
    "マンション新築工事",
    "物流倉庫建設工事",
    "下水道管渠工事",
    "駅前再開発工事",
    "道路拡幅工事",
    "小学校改築工事",
    "河川護岸工事",
    "造成工事",
    "地下駐車場工事",
    "病院増築工事",
]
USES = [
    "structure_backfill",
    "civil_backfill",
    "road_embankment",
    "road_body",
    "river_levee",
    "land_development",
    "water_reclamation",
]
CONDITIONS = ["A", "A", "B", "B", "B", "C"]


def _pick(rng: random.Random, weighted):
    items, weights = zip(*weighted, strict=True)
    return rng.choices(items, weights=weights)[0]


CITY = {c[0]: c for c in CITIES}


def _km(a, b) -> float:
    """Rough distance between two cities' points (enough to pick neighbours)."""
    return ((a[3] - b[3]) * 111) ** 2 + ((a[4] - b[4]) * 91) ** 2


def _place(rng: random.Random, home: str, *, stay: bool = False):
    """A site near an organisation's home: its own city, or (for those that travel to
    work, like contractors) now and then a neighbouring one within about 40 km."""
    base = CITY[home]
    if not stay and rng.random() < 0.35:
        near = [c for c in CITIES if c[0] != home and _km(c, base) < 40**2]
        if near:
            base = rng.choice(near)
    name, code, pref, lat, lon, _ = base
    return name, code, pref, lat + rng.gauss(0, 0.03), lon + rng.gauss(0, 0.035)


def _window(rng: random.Random, today: dt.date, min_days=20, max_days=180):
    start = today + dt.timedelta(days=rng.randint(-20, 120))
    return start, start + dt.timedelta(days=rng.randint(min_days, max_days))


def _draw_item(draw, rng: random.Random, category: str | None, wood) -> None:
    """A simple drawing of a bulky-waste item of ``category`` standing on the floor."""
    dark = (70, 55, 40)
    if category == "bicycle":
        for cx in (210, 430):
            draw.ellipse((cx - 80, 250, cx + 80, 410), outline=(40, 40, 45), width=8)
        draw.line((210, 330, 300, 230, 430, 330, 330, 330, 210, 330), fill=(180, 40, 40), width=9)
        draw.line((300, 230, 290, 200, 330, 200), fill=(40, 40, 45), width=8)
        draw.line((430, 330, 400, 210, 440, 200), fill=(40, 40, 45), width=8)
    elif category == "chair":
        draw.rectangle((250, 120, 270, 400), fill=wood)
        draw.rectangle((250, 120, 390, 150), fill=wood)
        draw.rectangle((250, 270, 400, 295), fill=wood)
        for x in (255, 380):
            draw.rectangle((x, 290, x + 16, 400), fill=wood)
    elif category == "table":
        draw.rectangle((140, 220, 500, 250), fill=wood)
        for x in (160, 460):
            draw.rectangle((x, 250, x + 22, 390), fill=wood)
    elif category in ("sofa", "bed"):
        cloth = (90, 110, 150) if category == "sofa" else (230, 230, 235)
        draw.rectangle((110, 240, 530, 340), fill=cloth, outline=dark, width=3)
        draw.rectangle((110, 170 if category == "sofa" else 200, 150, 360), fill=wood)
        if category == "sofa":
            draw.rectangle((110, 170, 530, 250), fill=tuple(c - 20 for c in cloth))
        draw.rectangle((490, 220, 530, 360), fill=wood)
    elif category == "appliance":
        draw.rectangle((210, 170, 430, 380), fill=(225, 228, 230), outline=(120, 120, 125), width=4)
        draw.rectangle((240, 200, 400, 300), fill=(60, 70, 80))
        draw.ellipse((390, 330, 410, 350), fill=(120, 120, 125))
    elif category in ("instrument", "toy", "household"):
        colour = {"instrument": (40, 30, 25), "toy": (220, 80, 60)}.get(category, (90, 140, 170))
        draw.rounded_rectangle((220, 200, 420, 380), radius=30, fill=colour)
        draw.rectangle((260, 240, 380, 270), fill=(240, 240, 235))
    else:  # a chest of drawers or a cabinet
        left, top = rng.randint(150, 230), rng.randint(90, 150)
        draw.rectangle((left, top, left + 240, 360), fill=wood, outline=(90, 60, 35), width=4)
        rows = rng.randint(3, 5)
        for i in range(rows):
            y0 = top + 12 + i * (360 - top - 24) // rows
            y1 = y0 + (360 - top - 24) // rows - 8
            draw.rectangle((left + 14, y0, left + 226, y1), outline=(95, 65, 40), width=3)
            draw.ellipse(
                (left + 112, (y0 + y1) // 2 - 5, left + 128, (y0 + y1) // 2 + 5), fill=dark
            )


def _photo(rng: random.Random, family: str, category: str | None = None) -> bytes:
    """A small picture that fits the listing: a heap of soil or gravel outdoors, stacked
    boards for materials, a piece of furniture indoors for reuse items."""
    img = Image.new("RGB", (640, 480), (200, 215, 225))
    draw = ImageDraw.Draw(img)

    def shade(base, spread=30):
        return tuple(max(0, min(255, c + rng.randint(-spread, spread))) for c in base)

    if family == "reuse":  # a wall, a floor and the item on it
        draw.rectangle((0, 0, 640, 330), fill=(236, 232, 224))
        draw.rectangle((0, 330, 640, 480), fill=(176, 150, 118))
        _draw_item(draw, rng, category, shade((150, 105, 65), 20))
    elif family == "material":  # boards stacked on a pallet
        draw.rectangle((0, 300, 640, 480), fill=(160, 160, 150))
        colour = shade((196, 170, 120), 25)
        for i in range(rng.randint(6, 10)):
            y = 330 - i * 22
            draw.rectangle(
                (120 + i % 2 * 6, y, 520 - i % 2 * 6, y + 18),
                fill=shade(colour, 10),
                outline=(120, 100, 70),
            )
        draw.rectangle((110, 350, 530, 370), fill=(120, 95, 60))
    else:  # a heap: brown soil, grey aggregate or asphalt, on a site
        base = {"soil": (120, 90, 60), "stockyard": (125, 95, 65)}.get(family, (140, 140, 135))
        for _ in range(900):
            x, y = rng.randint(0, 640), rng.randint(160, 480)
            draw.ellipse((x, y, x + rng.randint(6, 30), y + rng.randint(4, 18)), fill=shade(base))
        draw.polygon(
            [(60, 420), (320, 170 + rng.randint(-40, 40)), (600, 420)],
            fill=tuple(max(0, c - 20) for c in base),
        )
        img = img.filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80)
    return out.getvalue()


# How a Japanese site writes a unit in a listing's title (the stored unit codes are English).
TITLE_UNIT = {"m3": "m³", "m2": "m²", "piece": "個", "sheet": "枚"}

ALREADY_LOADED = "demo data already present; nothing loaded"


def load_demo(
    session: Session, *, seed: int = 20261122, target: int = 400, if_empty: bool = False
) -> str:
    if if_empty and session.scalar(select(func.count()).select_from(Organisation)):
        return ALREADY_LOADED
    rng = random.Random(seed)
    today = japan_today()
    now = utcnow().replace(tzinfo=dt.UTC)
    password_hash = generate_password_hash(DEMO_PASSWORD)
    orgs: dict[OrgKind, list[Organisation]] = {}
    users: dict[int, User] = {}
    home: dict[int, str] = {}
    # The organisations joined a little over a year ago.
    with as_of(now - dt.timedelta(days=400)):
        for i, (kind, name, city_name) in enumerate(ORGS):
            city = CITY[city_name]
            org = Organisation(
                name=name,
                kind=kind,
                prefecture_code=city[2],
                municipality_code=city[1],
                address=f"{city[0]}",
                stockyard_registration_no=f"SY-{city[2]}-{1000 + i}"
                if kind == OrgKind.stockyard_operator
                else None,
                invoice_registration_no=f"T{rng.randint(10**12, 10**13 - 1)}",
            )
            session.add(org)
            user = User(
                email=f"demo{i + 1}@meguri.example",
                password_hash=password_hash,
                display_name=f"{name} 担当者",
                organisation=org,
                role=Role.admin,
            )
            session.add(user)
            session.flush()
            orgs.setdefault(kind, []).append(org)
            users[org.id] = user
            home[org.id] = city_name

        # Each municipality works with the two reuse operators nearest to it.
        for municipality in orgs[OrgKind.municipality]:
            here = CITY[home[municipality.id]]
            nearest = sorted(
                orgs[OrgKind.reuse_operator], key=lambda o: _km(CITY[home[o.id]], here)
            )
            for operator in nearest[:2]:
                session.add(Partnership(municipality_id=municipality.id, operator_id=operator.id))
            session.flush()

    categories = session.scalars(select(MaterialCategory)).all()
    reuse_categories = session.scalars(select(ReuseCategory)).all()
    grades = session.scalars(select(Grade).order_by(Grade.material_code, Grade.rank)).all()
    by_material: dict[str, list[Grade]] = {}
    for g in grades:
        by_material.setdefault(g.material_code, []).append(g)
    materials = (
        ["road_base"] * 5
        + ["rca_coarse"] * 2
        + ["rca_fine", "scrap_steel", "scrap_steel", "rpet", "waste_paper", "recycled_asphalt"]
    )
    scale = target / sum(MIX.values())
    created = 0
    for kind, count in MIX.items():
        for n in range(max(1, round(count * scale))):
            org, form = _make(
                rng,
                kind,
                n,
                today,
                orgs,
                home,
                categories,
                reuse_categories,
                by_material,
                materials,
            )
            # Published through the catalogue's service, some hours or weeks ago.
            with as_of(now - dt.timedelta(hours=rng.randint(1, 24 * 60))):
                listing = catalog.create_listing(session, users[org.id], kind, form)
            if rng.random() < 0.3 and SPECS[kind].side != "want":
                category = listing.reuse_category_code or listing.material_category_code
                photos.add_photo(session, listing, _photo(rng, _family(kind), category))
            created += 1
    history = _history(
        session,
        seed,
        today,
        orgs,
        users,
        home,
        categories,
        reuse_categories,
        by_material,
        materials,
    )
    # The members confirm their addresses now: the year's events mailed nobody.
    for user in users.values():
        user.email_verified_at = utcnow()
    open_trades(session, today)
    # After everything else, so that the listings drawn above stay as they were.
    created += _plant_operator(session, password_hash, len(ORGS) + 1, today, users)
    # A site administrator, so that a visitor can try a matching run on the demo data.
    session.add(
        User(
            email="admin@meguri.example",
            password_hash=password_hash,
            display_name="めぐり運営",
            email_verified_at=utcnow(),
            is_site_admin=True,
            role=Role.member,
        )
    )
    session.flush()
    past = ", ".join(f"{n} {what}" for what, n in sorted(history.items()))
    return (
        f"loaded {len(ORGS) + 1} organisations and {created} listings, and a year of history ({past}); "
        f"site admin admin@meguri.example; "
        f"sign in as demo1@meguri.example … demo{len(ORGS) + 1}@meguri.example with password {DEMO_PASSWORD}"
    )


# An improvement plant (改良プラント) on the Tokyo waterfront and what it treats: class-4
# soil and mud into improved soil, each line with its price and weekly capacity [U].
PLANT_OPERATOR = (OrgKind.plant_operator, "城南土質改良センター株式会社", "大田区")
PLANT_LINES = [("4a", "2i", 1800, 600), ("4b", "3i", 1600, 400), ("mud-a", "3i", 2800, 300)]


def _plant_operator(
    session: Session, password_hash: str, n: int, today: dt.date, users: dict[int, User]
) -> int:
    kind, org_name, city = PLANT_OPERATOR
    name, code, pref, lat, lon, _ = CITY[city]
    org = Organisation(
        name=org_name,
        kind=kind,
        prefecture_code=pref,
        municipality_code=code,
        address=name,
    )
    session.add(org)
    session.add(
        User(
            email=f"demo{n}@meguri.example",
            password_hash=password_hash,
            display_name="城南土質改良センター 担当者",
            organisation=org,
            role=Role.admin,
            email_verified_at=utcnow(),
        )
    )
    plant = Plant(
        organisation=org,
        name="城南改良プラント（京浜島）",
        lat=lat + 0.01,
        lon=lon + 0.03,
        prefecture_code=pref,
        address=f"{name}京浜島",
    )
    session.add(plant)
    for source, target, price, capacity in PLANT_LINES:
        session.add(
            PlantConversion(
                plant=plant,
                from_class=source,
                to_class=target,
                price_per_m3=price,
                weekly_capacity=Decimal(capacity),
            )
        )
    session.flush()
    return _treated_pair(session, today, users)


def _treated_pair(session: Session, today: dt.date, users: dict[int, User]) -> int:
    """A site digging class-4a soil near the plant and a road embankment that takes only
    improved soil: a planned run sends the one to the other through the plant, so the
    plant's page, the proposal timeline and the yard charts have something to show."""
    by_name = {u.organisation.name: u for u in users.values()}
    digger, builder = by_name["湾岸土木工業株式会社"], by_name["東都建設株式会社"]
    koto, ota = CITY["江東区"], CITY["大田区"]
    site = {"status": "open", "max_haul_km": 40}
    offer = {
        **site,
        "title": "江東区 地下鉄駅工事 発生土 第4a種 3,000m³ 搬出",
        "description": "シールド工事の泥水処理後の第4a種土です。改良プラント経由の利用を想定。",
        "lat": koto[3] + 0.004,
        "lon": koto[4] - 0.01,
        "prefecture_code": koto[2],
        "municipality_code": koto[1],
        "address": koto[0],
        "window_start": (today + dt.timedelta(days=7)).isoformat(),
        "window_end": (today + dt.timedelta(days=70)).isoformat(),
        "quantity": 3000,
        "weekly_rate": 400,
        "price_per_unit": -2500,
        "soil_class_code": "4a",
        "cone_index": 260,
        "contamination_status": "checked_clean",
    }
    want = {
        **site,
        "title": "大田区 臨海部道路 盛土材（改良土）2,400m³ 受入",
        "description": "道路盛土に第2種改良土を受け入れます。",
        "lat": ota[3] - 0.006,
        "lon": ota[4] + 0.02,
        "prefecture_code": ota[2],
        "municipality_code": ota[1],
        "address": ota[0],
        "window_start": (today + dt.timedelta(days=21)).isoformat(),
        "window_end": (today + dt.timedelta(days=120)).isoformat(),
        "quantity": 2400,
        "weekly_rate": 300,
        "price_per_unit": 1500,
        "soil_use_code": "road_embankment",
        "accepted_classes": ["2i"],
        "improved_allowed": True,
    }
    for user, kind, data in (
        (digger, ListingKind.soil_offer, offer),
        (builder, ListingKind.soil_want, want),
    ):
        catalog.create_listing(session, user, kind, validation.validate(session, kind, data))
    return 2


def _family(kind: ListingKind) -> str:
    return SPECS[kind].family


# Which kind of organisation lists each kind.
LISTER = {
    ListingKind.soil_offer: OrgKind.contractor,
    ListingKind.soil_want: OrgKind.contractor,
    ListingKind.material_offer: OrgKind.contractor,
    ListingKind.material_want: OrgKind.contractor,
    ListingKind.reuse_item: OrgKind.municipality,
    ListingKind.reuse_want: OrgKind.reuse_operator,
    ListingKind.recycled_offer: OrgKind.recycler,
    ListingKind.recycled_want: OrgKind.contractor,
    ListingKind.stockyard: OrgKind.stockyard_operator,
}


def _make(
    rng, kind, n, today, orgs, home, categories, reuse_categories, by_material, materials
) -> tuple[Organisation, dict]:  # noqa: C901
    """Who lists, and what it enters in the form (the fields ``catalog.services`` takes)."""
    listers = orgs[LISTER[kind]]
    org = listers[n % len(listers)] if kind == ListingKind.stockyard else rng.choice(listers)
    # A municipality's items, a recycler's plant and a stockyard are where the lister is;
    # contractors' sites are around their home.
    stay = LISTER[kind] != OrgKind.contractor
    city, code, pref, lat, lon = _place(rng, home[org.id], stay=stay)
    status = ListingStatus.open if rng.random() > 0.06 else ListingStatus.draft
    start, end = _window(rng, today)
    common = dict(
        kind=kind,
        status=status,
        lat=round(lat, 5),
        lon=round(lon, 5),
        prefecture_code=pref,
        municipality_code=code,
        address=f"{city}",
        window_start=start,
        window_end=end,
    )
    if kind == ListingKind.soil_offer:
        cls = _pick(rng, SOIL_MIX)
        qty = rng.choice([300, 500, 800, 1200, 2000, 3500, 5000, 8000, 12000])
        project = rng.choice(PROJECTS)
        cone = (
            None if cls.startswith("1") else int((CONE.get(cls[0]) or 100) * rng.uniform(1.0, 2.2))
        )
        return org, dict(
            **common,
            title=f"{city} {project} 発生土 {_class_ja(cls)} {qty:,}m³ 搬出",
            description=(
                f"{project}の掘削で発生する{_class_ja(cls)}の建設発生土です。"
                f"搬出期間中は平日8時〜17時に積込み可能。10tダンプ対応。"
            ),
            quantity=Decimal(qty),
            unit="m3",
            price_per_unit=-rng.choice([800, 1200, 1500, 2000, 2500, 3000]),
            soil_class_code=cls,
            cone_index=cone,
            contamination_status=rng.choice(
                ["not_required", "not_required", "checked_clean", "pending"]
            ),
            max_haul_km=rng.choice([None, 30, 40, 50, 50, 60]),
        )
    if kind == ListingKind.soil_want:
        use = rng.choice(USES)
        worst = rng.choice([1, 2, 2, 3, 3, 4])
        accepted = [
            c
            for c, _ in SOIL_MIX
            if SOIL_GROUP_RANK[c] < worst or (SOIL_GROUP_RANK[c] == worst and not c.endswith("i"))
        ]
        qty = rng.choice([500, 1000, 2000, 4000, 6000, 10000])
        return org, dict(
            **common,
            title=f"{city} {rng.choice(PROJECTS)} 盛土材 {qty:,}m³ 受入",
            description="盛土・埋戻し用の土砂を受け入れます。土質試験結果(コーン指数)の提出をお願いします。",
            quantity=Decimal(qty),
            unit="m3",
            price_per_unit=rng.choice([0, 0, 300, 500, 800]),
            soil_use_code=use,
            accepted_classes=accepted,
            min_cone_index=rng.choice([None, 200, 400, 800]),
            improved_allowed=rng.random() < 0.6,
            max_particle_mm=rng.choice([None, 100, 300]),
            contamination_check_required=rng.random() < 0.7,
            max_haul_km=rng.choice([None, 30, 40, 50]),
        )
    if kind in (ListingKind.material_offer, ListingKind.material_want):
        cat = rng.choice(categories)
        qty = {"t": rng.randint(1, 30), "m3": rng.randint(2, 40)}.get(
            cat.unit, rng.randint(10, 400)
        )
        offer = kind == ListingKind.material_offer
        return org, dict(
            **common,
            title=f"{cat.name_ja} {'余剰' if offer else '募集'} {qty}{TITLE_UNIT.get(cat.unit, cat.unit)}（{city}）",
            description=(
                "工事完了に伴う未使用の余剰資材です。現場引取りをお願いします。"
                if offer
                else "未使用資材を探しています。状態の良いものを希望します。"
            ),
            quantity=Decimal(qty),
            unit=cat.unit,
            price_per_unit=rng.randint(0, 50) * 100,
            material_category_code=cat.code,
            condition=rng.choice(["unused", "opened", "offcut"]) if offer else None,
            max_haul_km=rng.choice([None, 30, 50]),
        )
    if kind == ListingKind.reuse_item:
        cat = rng.choice(reuse_categories)
        start = today + dt.timedelta(days=rng.randint(-5, 20))
        end = start + dt.timedelta(days=rng.randint(7, 28))
        common.update(window_start=start, window_end=end)
        return org, dict(
            **common,
            title=f"粗大ごみリユース品: {cat.name_ja}（{city}）",
            description=f"粗大ごみとして収集された{cat.name_ja}です。清掃・動作確認済み。引取りのみ。",
            quantity=Decimal(1),
            unit="item",
            price_per_unit=rng.choice([0, 100, 300, 500, 1000, 2000]),
            reuse_category_code=cat.code,
            condition=rng.choice(CONDITIONS),
            pickup_point=f"{city} クリーンセンター リユース置場",
            partner_only_until=start + dt.timedelta(days=3) if rng.random() < 0.5 else None,
        )
    if kind == ListingKind.reuse_want:
        cats = rng.sample(reuse_categories, k=rng.randint(3, 7))
        return org, dict(
            **common,
            title=f"リユース品 常時買取（{city}周辺）",
            description="家具・自転車・小型家電などを継続的に引き取ります。週5日回収可能。",
            quantity=Decimal(rng.choice([50, 100, 200, 400])),
            unit="item",
            price_per_unit=0,
            category_prices={c.code: rng.choice([0, 200, 500, 800, 1500, 3000]) for c in cats},
            service_radius_km=rng.choice([15, 20, 30, 40]),
            daily_pickup_capacity=rng.randint(5, 40),
        )
    if kind == ListingKind.recycled_offer:
        material = rng.choice(materials)
        grade = rng.choice(by_material[material])
        props = _properties(rng, material, grade)
        qty = rng.choice([100, 200, 500, 800, 1500, 3000])
        return org, dict(
            **common,
            title=f"{grade.name_ja} {qty:,}t（{city}工場）",
            description="品質管理試験済み。試験成績表を提供します。工場渡し・配送とも相談可。",
            quantity=Decimal(qty),
            unit="t",
            price_per_unit=rng.choice([800, 1200, 1500, 1800, 2500])
            if material in ("road_base", "rca_coarse", "rca_fine")
            else rng.choice([20000, 35000, 48000]),
            material_code=material,
            grade_code=grade.code,
            properties=props,
            monthly=rng.random() < 0.4,
            max_haul_km=rng.choice([None, 40, 50]),
        )
    if kind == ListingKind.recycled_want:
        material = rng.choice(materials)
        grade = rng.choice(by_material[material])
        limits = (
            {"absorption": {"max": rng.choice([3.0, 5.0, 7.0])}}
            if material.startswith(("rca", "road"))
            else {}
        )
        qty = rng.choice([200, 500, 1000, 2000])
        return org, dict(
            **common,
            title=f"{grade.name_ja}以上 {qty:,}t 購入希望（{city}）",
            description="路盤・基礎工事に使用します。品質証明書の提示をお願いします。",
            quantity=Decimal(qty),
            unit="t",
            price_per_unit=rng.choice([1500, 2000, 2800]),
            material_code=material,
            min_grade_code=grade.code,
            property_limits=limits,
            blend_allowed=rng.random() < 0.5,
            max_haul_km=rng.choice([None, 40, 50]),
        )
    # stockyard
    capacity = rng.choice([5000, 10000, 20000, 40000])
    common.update(
        window_start=today - dt.timedelta(days=30), window_end=today + dt.timedelta(days=365)
    )
    return org, dict(
        **common,
        title=f"{city} ストックヤード 容量{capacity:,}m³",
        description="登録ストックヤード。第1種〜第3種の一時保管を受け付けます。改良土の製造も相談可。",
        quantity=Decimal(capacity),
        unit="m3",
        price_per_unit=rng.choice([400, 600, 800, 1000]),
        capacity_m3=Decimal(capacity),
        accepted_classes=["1", "1i", "2a", "2b", "2i", "3a", "3b", "3i"],
    )


def _class_ja(code: str) -> str:
    return {"mud-a": "泥土a", "mud-b": "泥土b", "mud-c": "泥土c"}.get(
        code, f"第{code[0]}{'種改良土' if code.endswith('i') else code[1:] + '種'}"
    )


def _properties(rng, material: str, grade: Grade) -> dict:
    if material in ("road_base", "rca_coarse", "rca_fine"):
        limit = (grade.limits or {}).get("absorption", {}).get("max", 7.0)
        return {
            "absorption": round(rng.uniform(limit * 0.5, limit * 1.05), 2),
            "fines": round(rng.uniform(0.3, 3.0), 2),
        }
    if material == "rpet":
        return {"contaminants": round(rng.uniform(0.2, 4.0), 2)}
    return {}


def _history(
    session, seed, today, orgs, users, home, categories, reuse_categories, by_material, materials
) -> dict[str, int]:
    """The year before today, told through the services (``market.demo_history``)."""
    rng = random.Random(seed + 7)

    def make(kind: ListingKind, lister: Organisation, day: dt.date) -> dict:
        return _make(
            rng,
            kind,
            0,
            day,
            {LISTER[kind]: [lister]},
            home,
            categories,
            reuse_categories,
            by_material,
            materials,
        )[1]

    def near(org: Organisation, others: list[Organisation]) -> list[Organisation]:
        here = CITY[home[org.id]]
        return sorted(others, key=lambda o: (_km(CITY[home[o.id]], here), o.id))

    partners: dict[int, list[Organisation]] = {}
    by_id = {o.id: o for group in orgs.values() for o in group}
    for p in session.scalars(select(Partnership).order_by(Partnership.id)):
        partners.setdefault(p.municipality_id, []).append(by_id[p.operator_id])
    return History(session, rng, today, orgs, users, partners, make, near).load()


def run_matching(app, session: Session) -> str:
    """This morning's matching on the demo: the nightly runs (soil planned over 26 weeks,
    reuse, each recycled material with open lots), carried out here as a worker would; then
    the parties of every other deal accept it through the same service as the page's 承諾する,
    so orders from matching exist and the rest stay proposed for a visitor to decide."""

    runs = matching_runs.schedule_nightly(session)
    session.commit()
    ids = [run.id for run in runs]
    for _ in range(8):  # a run split into regions queues its region jobs and then a merge
        waiting = session.scalars(
            select(tasks.Job.id)
            .where(tasks.Job.status == "queued", tasks.Job.kind.like("matching%"))
            .order_by(tasks.Job.created_at)
        ).all()
        if not waiting:
            break
        for job_id in waiting:
            tasks.run_here(app, job_id)
        session.expire_all()
    deals = session.scalars(
        select(Deal).where(Deal.run_id.in_(ids), Deal.state == "proposed").order_by(Deal.id)
    ).all()
    agreed = 0
    for deal in deals[::2]:
        try:
            for party in deal.parties:
                [member, *_] = active_members(session, [party.organisation_id])
                proposal = next(p for p in deal.proposals if _is_side(allocation, p, member))
                allocation.decide(session, member, proposal, accept=True)
        except DomainError:  # the quantity went to an earlier deal: it stays for later
            session.rollback()
            continue
        session.commit()
        agreed += deal.state == "agreed"
    return f"{len(runs)} matching runs, {len(deals)} deals proposed, {agreed} agreed"


def _is_side(allocation, proposal, user: User) -> bool:
    try:
        allocation.side_of(proposal, user)
    except NotFound:  # not this party's part
        return False
    return True
