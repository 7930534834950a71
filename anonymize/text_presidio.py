"""Optional heavier PHI backend: Microsoft Presidio's analyzer (``pip install 'medmint[phi]'``).

Presidio downloads a spaCy model at start-up unless one is installed; here it gets an installed
English model if there is one (``en_core_web_lg``/``md``/``sm``: person names via NER) and otherwise
``spacy.blank("en")``, which keeps it offline with its pattern recognizers only (no names). Its
hits are added to the built-in ones, never replace them, and clinical words are never taken.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from medmint.anonymize.phi_text import PhiHit
from medmint.anonymize.text_vocab import NEVER_NAMES

ENTITY_KINDS = {
    "PERSON": "name", "DATE_TIME": "date", "PHONE_NUMBER": "phone", "EMAIL_ADDRESS": "email", "URL": "url",
    "LOCATION": "address", "US_SSN": "id", "US_DRIVER_LICENSE": "id", "US_PASSPORT": "id",
    "US_BANK_NUMBER": "id", "MEDICAL_LICENSE": "id", "IP_ADDRESS": "id", "CREDIT_CARD": "id",
    "IBAN_CODE": "id", "UK_NHS": "id",
}
MIN_SCORE = 0.5


class PhiBackendUnavailable(ImportError):
    """An optional PHI backend was asked for but is not installed."""


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    try:
        import spacy
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import SpacyNlpEngine
    except ImportError as e:
        raise PhiBackendUnavailable(
            "backend='presidio' needs the optional 'phi' extra (presidio-analyzer), which is not installed: "
            "pip install 'medmint[phi]' -- or use the default backend='builtin'") from e
    models = ("en_core_web_lg", "en_core_web_md", "en_core_web_sm")
    model = next((m for m in models if spacy.util.is_package(m)), None)
    engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": model or "blank"}])
    engine.nlp = {"en": spacy.load(model) if model else spacy.blank("en")}  # loaded: nothing is downloaded
    return AnalyzerEngine(nlp_engine=engine, supported_languages=["en"])


def presidio_hits(text: str) -> list[PhiHit]:
    """Presidio's findings in ``text`` as ``PhiHit``s of medmint's kinds (clinical words dropped)."""
    hits = []
    for r in _analyzer().analyze(text=text, language="en", entities=list(ENTITY_KINDS)):
        span = text[r.start : r.end]
        clinical = set(span.lower().split()) <= NEVER_NAMES
        if r.score >= MIN_SCORE and r.entity_type in ENTITY_KINDS and not clinical:
            hits.append(PhiHit(ENTITY_KINDS[r.entity_type], r.start, r.end, span))
    return hits


__all__ = ["ENTITY_KINDS", "PhiBackendUnavailable", "presidio_hits"]
