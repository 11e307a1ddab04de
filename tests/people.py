"""Valid demo people for tests: real IIN check digits, consistent birth dates and sexes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from bus.validate.iin import make_iin


def person(n: int, **overrides: Any) -> dict[str, Any]:
    """The n-th test person (deterministic), with a valid IIN and a registered address."""
    birth = dt.date(1950, 1, 1) + dt.timedelta(days=(n * 37) % 20000)
    sex = "MALE" if n % 2 else "FEMALE"
    serial = n % 9000
    iin = None
    while iin is None:
        iin = make_iin(birth, sex, serial)
        serial += 1
    record: dict[str, Any] = {
        "iin": iin,
        "surname": f"Testova{n}" if sex == "FEMALE" else f"Testov{n}",
        "given_name": "Aruzhan" if sex == "FEMALE" else "Daniyar",
        "patronymic": None,
        "birth_date": birth,
        "sex": sex,
        "citizenship": "KAZ",
        "registered_address": {
            "region": "Akmola",
            "district": "Tselinograd",
            "settlement": "Kosshy",
            "street": "Respublika",
            "building": str(1 + n % 120),
            "apartment": None,
            "ark_code": None,
        },
        "phone": None,
        "document": None,
    }
    record.update(overrides)
    return record
