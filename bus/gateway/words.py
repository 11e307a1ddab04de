# ruff: noqa: RUF001  -- Kazakh and Russian text: Cyrillic letters are meant, not look-alikes
"""What the citizen tracker says, in Kazakh, Russian and English: labels and plain-terms sentences.

Pure (no I/O), so the wording can be reviewed and tested alone. A missing translation falls back
to English; an unknown deny or dead-letter reason still gets a sentence that names its code.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final


class Lang(StrEnum):
    KK = "kk"
    RU = "ru"
    EN = "en"


FALLBACK: Final = Lang.EN
LANGUAGE_NAMES: Final = {Lang.KK: "Қазақша", Lang.RU: "Русский", Lang.EN: "English"}

LABELS: Final[dict[str, dict[Lang, str]]] = {
    "title": {
        Lang.KK: "Менің деректерімді кім пайдаланды",
        Lang.RU: "Кто использовал мои данные",
        Lang.EN: "Who used my data",
    },
    "subject": {Lang.KK: "ЖСН", Lang.RU: "ИИН", Lang.EN: "Personal number (IIN)"},
    "language": {Lang.KK: "Тіл", Lang.RU: "Язык", Lang.EN: "Language"},
    "consents": {Lang.KK: "Менің келісімдерім", Lang.RU: "Мои согласия", Lang.EN: "My consents"},
    "consents_none": {
        Lang.KK: "Келісім сұралған жоқ.",
        Lang.RU: "Согласий не запрашивалось.",
        Lang.EN: "No consent has been asked for.",
    },
    "timeline": {
        Lang.KK: "Берілімдер мен бас тартулар",
        Lang.RU: "Передачи и отказы",
        Lang.EN: "Deliveries and refusals",
    },
    "timeline_none": {
        Lang.KK: "Сіз туралы жазбалар әлі жоқ.",
        Lang.RU: "Записей о вас пока нет.",
        Lang.EN: "No records about you yet.",
    },
    "when": {Lang.KK: "Қашан", Lang.RU: "Когда", Lang.EN: "When"},
    "agency": {Lang.KK: "Мекеме", Lang.RU: "Ведомство", Lang.EN: "Agency"},
    "decision": {Lang.KK: "Шешім", Lang.RU: "Решение", Lang.EN: "Decision"},
    "fields": {Lang.KK: "Деректер", Lang.RU: "Данные", Lang.EN: "Data"},
    "purpose": {Lang.KK: "Мақсаты", Lang.RU: "Цель", Lang.EN: "Purpose"},
    "law": {Lang.KK: "Құқықтық негіз", Lang.RU: "Правовое основание", Lang.EN: "Legal basis"},
    "replaces": {
        Lang.KK: "Алмастырылған анықтама",
        Lang.RU: "Заменённая справка",
        Lang.EN: "Paper it replaced",
    },
    "explanation": {Lang.KK: "Түсініктеме", Lang.RU: "Пояснение", Lang.EN: "In plain words"},
    "status": {Lang.KK: "Күйі", Lang.RU: "Статус", Lang.EN: "Status"},
    "since": {Lang.KK: "Бастап", Lang.RU: "С", Lang.EN: "Since"},
    "action": {Lang.KK: "Әрекет", Lang.RU: "Действие", Lang.EN: "Action"},
    "grant": {Lang.KK: "Келісім беру", Lang.RU: "Дать согласие", Lang.EN: "Grant"},
    "revoke": {Lang.KK: "Кері қайтару", Lang.RU: "Отозвать", Lang.EN: "Revoke"},
    "granted": {Lang.KK: "Берілген", Lang.RU: "Дано", Lang.EN: "Granted"},
    "revoked": {Lang.KK: "Кері қайтарылған", Lang.RU: "Отозвано", Lang.EN: "Revoked"},
    "not_given": {Lang.KK: "Берілмеген", Lang.RU: "Не дано", Lang.EN: "Not given"},
    "expired": {Lang.KK: "Мерзімі өтті", Lang.RU: "Срок истёк", Lang.EN: "Expired"},
    "until": {Lang.KK: "Мерзімі", Lang.RU: "Действует до", Lang.EN: "Valid until"},
    "no_end": {Lang.KK: "мерзімсіз", Lang.RU: "бессрочно", Lang.EN: "no end date"},
    "done_granted": {
        Lang.KK: "Келісім берілді.",
        Lang.RU: "Согласие дано.",
        Lang.EN: "Consent granted.",
    },
    "done_revoked": {
        Lang.KK: "Келісім кері қайтарылды.",
        Lang.RU: "Согласие отозвано.",
        Lang.EN: "Consent revoked.",
    },
    "older": {Lang.KK: "Ертерек жазбалар", Lang.RU: "Более ранние записи", Lang.EN: "Older entries"},
    "refresh": {Lang.KK: "Жаңарту", Lang.RU: "Обновить", Lang.EN: "Refresh"},
    "updated": {Lang.KK: "Жаңартылды", Lang.RU: "Обновлено", Lang.EN: "Updated"},
    "unauthenticated": {
        Lang.KK: "Порталға кіріңіз.",
        Lang.RU: "Войдите через портал.",
        Lang.EN: "Please sign in through the portal.",
    },
    "forbidden": {
        Lang.KK: "Бұл бетті тек азаматтар порталы аша алады.",
        Lang.RU: "Эту страницу открывает только портал для граждан.",
        Lang.EN: "Only the citizen portal may open this page.",
    },
    "error": {Lang.KK: "Қате", Lang.RU: "Ошибка", Lang.EN: "Error"},
    "delivered": {Lang.KK: "Берілді", Lang.RU: "Передано", Lang.EN: "Delivered"},
    "denied": {Lang.KK: "Бас тартылды", Lang.RU: "Отказано", Lang.EN: "Refused"},
    "dead_lettered": {
        Lang.KK: "Жарамсыз деп қабылданбады",
        Lang.RU: "Отклонено как некорректное",
        Lang.EN: "Set aside as invalid",
    },
    "backfilled": {
        Lang.KK: "Берілді (бастапқы көшірме)",
        Lang.RU: "Передано (начальная копия)",
        Lang.EN: "Delivered (first copy)",
    },
}

NOTHING_SENT: Final = {
    Lang.KK: "сондықтан ештеңе жіберілмеді.",
    Lang.RU: "поэтому ничего не передано.",
    Lang.EN: "so nothing was sent.",
}

# DenyReason values of bus.policy.evaluate; the first half of a sentence that NOTHING_SENT ends.
REASONS: Final[dict[str, dict[Lang, str]]] = {
    "no_agreement": {
        Lang.KK: "Бұл деректерді беруге рұқсат ететін деректер алмасу келісімі жоқ,",
        Lang.RU: "Нет соглашения об обмене данными, которое разрешает эту передачу,",
        Lang.EN: "No data-sharing agreement allows this data to be shared,",
    },
    "not_yet_valid": {
        Lang.KK: "Келісім әлі күшіне енбеген,",
        Lang.RU: "Соглашение ещё не вступило в силу,",
        Lang.EN: "The agreement was not yet in force,",
    },
    "expired": {
        Lang.KK: "Келісімнің мерзімі өтіп кеткен,",
        Lang.RU: "Срок действия соглашения истёк,",
        Lang.EN: "The agreement had expired,",
    },
    "revoked": {
        Lang.KK: "Келісімнің күші жойылған,",
        Lang.RU: "Соглашение было отменено,",
        Lang.EN: "The agreement had been cancelled,",
    },
    "consent_missing": {
        Lang.KK: "Бұл беріліске сіздің келісіміңіз қажет, бірақ сіз оны бермегенсіз,",
        Lang.RU: "Для этой передачи нужно ваше согласие, а вы его не давали,",
        Lang.EN: "This needs your consent and you had not given it,",
    },
    "consent_revoked": {
        Lang.KK: "Сіз келісіміңізді кері қайтардыңыз,",
        Lang.RU: "Вы отозвали своё согласие,",
        Lang.EN: "You had revoked your consent,",
    },
    "consent_expired": {
        Lang.KK: "Сіздің келісіміңіздің мерзімі өтіп кеткен,",
        Lang.RU: "Срок вашего согласия истёк,",
        Lang.EN: "Your consent had expired,",
    },
    "where_mismatch": {
        Lang.KK: "Келісім тек кейбір жазбаларға қолданылады және бұл жазба оларға кірмейді,",
        Lang.RU: "Соглашение касается только части записей, и эта запись в неё не входит,",
        Lang.EN: "The agreement covers only some records and this one is not among them,",
    },
    "unchanged_fields": {
        Lang.KK: "Бұл мекеме ала алатын деректер өзгермеді,",
        Lang.RU: "Данные, которые может получать это ведомство, не изменились,",
        Lang.EN: "None of the data this agency may receive had changed,",
    },
}

UNKNOWN_REASON: Final = {
    Lang.KK: "Жіберілмеді (себебі: {code}).",
    Lang.RU: "Не передано (причина: {code}).",
    Lang.EN: "Not sent (reason: {code}).",
}

DEAD_LETTER: Final = {
    Lang.KK: (
        "{provider} жіберген өзгеріс тексеруден өтпеді ({code}) және бөлек қойылды; оны ешкім алған жоқ."
    ),
    Lang.RU: "Изменение от {provider} не прошло проверку ({code}) и отложено; никто его не получил.",
    Lang.EN: "The change sent by {provider} failed a check ({code}) and was set aside; nobody received it.",
}

DELIVERED: Final = {
    Lang.KK: "{consumer} «{purpose}» мақсатында {fields} деректерін алды; негізі: {law}.",
    Lang.RU: "{consumer} получило {fields} для цели «{purpose}»; основание: {law}.",
    Lang.EN: "{consumer} received {fields} for “{purpose}” under {law}.",
}

BACKFILLED: Final = {
    Lang.KK: (
        "{consumer} «{purpose}» мақсатында {fields} деректерінің бастапқы көшірмесін алды; негізі: {law}."
    ),
    Lang.RU: "{consumer} получило начальную копию {fields} для цели «{purpose}»; основание: {law}.",
    Lang.EN: "{consumer} received a first copy of {fields} for “{purpose}” under {law}.",
}

DELETED: Final = {
    Lang.KK: "{consumer} жазбаның жойылғаны туралы хабарлама алды.",
    Lang.RU: "{consumer} получило уведомление об удалении записи.",
    Lang.EN: "{consumer} was told that the record was deleted.",
}

REPLACES: Final = {
    Lang.KK: " «{replaces}» қағаз анықтамасын енді әкелудің қажеті жоқ.",
    Lang.RU: " Бумажная справка «{replaces}» вам больше не нужна.",
    Lang.EN: " You no longer need to bring the paper “{replaces}”.",
}


def label(name: str, lang: Lang) -> str:
    """The label in ``lang``, else in English, else its own name (a missing label shows, not crashes)."""
    texts = LABELS.get(name, {})
    return texts.get(lang) or texts.get(FALLBACK) or name


def pick(texts: dict[Lang, str], lang: Lang) -> str:
    return texts.get(lang) or texts[FALLBACK]


def negotiate(requested: str | None, accept_language: str | None) -> Lang:
    """``?lang=`` if it names a language we have, else the best of Accept-Language, else English."""
    if requested:
        found = _lang_of(requested)
        if found is not None:
            return found
    ranked: list[tuple[float, int, Lang]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        found = _lang_of(tag)
        if found is None:
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, index, found))
    return min(ranked)[2] if ranked else FALLBACK


def _lang_of(tag: str) -> Lang | None:
    primary = tag.strip().lower().split("-")[0]
    return Lang(primary) if primary in Lang._value2member_map_ else None


# Delayed disclosure: appended to the sentence of a decision the citizen was shown only later.
DISCLOSED_LATE: Final = {
    Lang.KK: " Бұл жазба сізден {date} дейін жасырылды: {reason} ({law}).",
    Lang.RU: " Эта запись была скрыта от вас до {date}: {reason} ({law}).",
    Lang.EN: " This was hidden from you until {date}: {reason} ({law}).",
}
# ... and, for auditors and operators, to one the citizen is not shown yet.
HIDDEN_NOW: Final = {
    Lang.KK: " Азаматтан {date} дейін жасырылған: {reason} ({law}).",
    Lang.RU: " Скрыто от гражданина до {date}: {reason} ({law}).",
    Lang.EN: " Hidden from the citizen until {date}: {reason} ({law}).",
}


# A delivery the consumer's software signed a receipt for, and one it has not (yet).
RECEIVED: Final = {
    Lang.KK: " {consumer} алғанын {date} растады.",
    Lang.RU: " {consumer} подтвердил получение {date}.",
    Lang.EN: " {consumer} confirmed receipt at {date}.",
}
NOT_RECEIVED: Final = {
    Lang.KK: " Алушы әзірге алғанын растаған жоқ.",
    Lang.RU: " Получатель пока не подтвердил получение.",
    Lang.EN: " Receipt not yet confirmed by the recipient.",
}


def explain_receipt(*, consumer: str, date: str | None, lang: Lang) -> str:
    """Whether the consumer confirmed (with a signed receipt) that the delivery reached it."""
    return (
        pick(NOT_RECEIVED, lang)
        if date is None
        else pick(RECEIVED, lang).format(consumer=consumer, date=date)
    )


def explain_disclosure(*, hidden: bool, date: str, reason: str, law: str, lang: Lang) -> str:
    """The delayed-disclosure sentence: still hidden (auditor's view) or shown late (everyone's)."""
    return pick(HIDDEN_NOW if hidden else DISCLOSED_LATE, lang).format(date=date, reason=reason, law=law)


def explain_denial(reason: str | None, lang: Lang) -> str:
    """A refusal in one sentence; unknown codes are named rather than hidden."""
    texts = REASONS.get(reason or "")
    if texts is None:
        return pick(UNKNOWN_REASON, lang).format(code=reason or "-")
    return f"{pick(texts, lang)} {pick(NOTHING_SENT, lang)}"


def explain_dead_letter(reason: str | None, provider: str, lang: Lang) -> str:
    return pick(DEAD_LETTER, lang).format(provider=provider, code=reason or "-")


def explain_delivery(
    *,
    backfill: bool,
    consumer: str,
    fields: Iterable[str],
    purpose: str | None,
    law: str | None,
    replaces: str | None,
    lang: Lang,
) -> str:
    """Who received which fields, for what, under which law, and which paper it made unnecessary."""
    names = ", ".join(fields)
    if not names:
        return pick(DELETED, lang).format(consumer=consumer)
    template = pick(BACKFILLED if backfill else DELIVERED, lang)
    sentence = template.format(consumer=consumer, fields=names, purpose=purpose or "-", law=law or "-")
    if replaces:
        sentence += pick(REPLACES, lang).format(replaces=replaces)
    return sentence
