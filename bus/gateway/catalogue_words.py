# ruff: noqa: RUF001  -- Kazakh and Russian text: Cyrillic letters are meant, not look-alikes
"""What the catalogue page says, in Kazakh, Russian and English (pure, reviewable alone)."""

from __future__ import annotations

from typing import Final

from bus.gateway.words import Lang, pick

CATALOGUE_LABELS: Final[dict[str, dict[Lang, str]]] = {
    "title": {Lang.KK: "Деректер каталогы", Lang.RU: "Каталог данных", Lang.EN: "Data catalogue"},
    "intro": {
        Lang.KK: "Әр мекеме шинада қандай деректерді жариялайды, және кім қандай өрістерді, не үшін және "
        "қандай құқықтық негізде алады.",
        Lang.RU: "Какие данные каждое ведомство публикует в шине и кто получает какие поля, зачем и на "
        "каком правовом основании.",
        Lang.EN: "What each agency publishes on the bus, and who receives which fields, why and under "
        "which law.",
    },
    "contents": {Lang.KK: "Мазмұны", Lang.RU: "Содержание", Lang.EN: "Contents"},
    "language": {Lang.KK: "Тіл", Lang.RU: "Язык", Lang.EN: "Language"},
    "provider": {Lang.KK: "Жеткізуші", Lang.RU: "Поставщик", Lang.EN: "Provider"},
    "topic": {Lang.KK: "Топик", Lang.RU: "Топик", Lang.EN: "Topic"},
    "schema": {Lang.KK: "Схема", Lang.RU: "Схема", Lang.EN: "Schema"},
    "version": {Lang.KK: "нұсқа", Lang.RU: "версия", Lang.EN: "version"},
    "compatibility": {Lang.KK: "Үйлесімділік", Lang.RU: "Совместимость", Lang.EN: "Compatibility"},
    "fields": {Lang.KK: "Өрістер", Lang.RU: "Поля", Lang.EN: "Fields"},
    "field": {Lang.KK: "Өріс", Lang.RU: "Поле", Lang.EN: "Field"},
    "type": {Lang.KK: "Түрі", Lang.RU: "Тип", Lang.EN: "Type"},
    "description": {Lang.KK: "Сипаттама", Lang.RU: "Описание", Lang.EN: "Description"},
    "optional": {Lang.KK: "міндетті емес", Lang.RU: "необязательное", Lang.EN: "optional"},
    "agreements": {
        Lang.KK: "Деректер алмасу келісімдері",
        Lang.RU: "Соглашения об обмене данными",
        Lang.EN: "Data-sharing agreements",
    },
    "agreements_none": {
        Lang.KK: "Бұл жазба түрі әзірге ешбір келісім бойынша берілмейді.",
        Lang.RU: "Этот тип записей пока не передаётся ни по одному соглашению.",
        Lang.EN: "No agreement shares this record type yet.",
    },
    "consumer": {Lang.KK: "Алушы", Lang.RU: "Получатель", Lang.EN: "Receiver"},
    "purpose": {Lang.KK: "Мақсаты", Lang.RU: "Цель", Lang.EN: "Purpose"},
    "law": {Lang.KK: "Құқықтық негіз", Lang.RU: "Правовое основание", Lang.EN: "Legal basis"},
    "granted": {Lang.KK: "Берілетін өрістер", Lang.RU: "Передаваемые поля", Lang.EN: "Fields granted"},
    "validity": {Lang.KK: "Қолданылу мерзімі", Lang.RU: "Срок действия", Lang.EN: "In force"},
    "open_ended": {Lang.KK: "мерзімсіз", Lang.RU: "бессрочно", Lang.EN: "no end date"},
    "not_in_force": {
        Lang.KK: "бүгін қолданылмайды",
        Lang.RU: "сегодня не действует",
        Lang.EN: "not in force today",
    },
    "consent": {Lang.KK: "Азаматтың келісімі", Lang.RU: "Согласие гражданина", Lang.EN: "Citizen's consent"},
    "consent_required": {Lang.KK: "қажет", Lang.RU: "требуется", Lang.EN: "required"},
    "consent_none": {Lang.KK: "қажет емес", Lang.RU: "не требуется", Lang.EN: "not required"},
    "replaces": {Lang.KK: "Алмастырылатын анықтама", Lang.RU: "Заменяет справку", Lang.EN: "Replaces"},
    "where": {Lang.KK: "Тек мына жазбалар", Lang.RU: "Только записи, где", Lang.EN: "Only records where"},
    "unregistered": {
        Lang.KK: "Схемасы тіркелмеген жазба түрлері бойынша келісімдер",
        Lang.RU: "Соглашения по типам записей без зарегистрированной схемы",
        Lang.EN: "Agreements on record types without a registered schema",
    },
    "empty": {
        Lang.KK: "Әзірге ешбір жазба түрі тіркелмеген.",
        Lang.RU: "Пока не зарегистрировано ни одного типа записей.",
        Lang.EN: "No record type is registered yet.",
    },
    "error": {Lang.KK: "Қате", Lang.RU: "Ошибка", Lang.EN: "Error"},
    "unauthenticated": {
        Lang.KK: "Мекемеңіздің токенімен кіріңіз.",
        Lang.RU: "Войдите с токеном вашего ведомства.",
        Lang.EN: "Sign in with your agency's token.",
    },
}


def catalogue_label(name: str, lang: Lang) -> str:
    return pick(CATALOGUE_LABELS[name], lang)
