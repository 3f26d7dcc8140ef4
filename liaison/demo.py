"""A fictional demo directory, accounts, mini-network groups and ring history.

Everything here is invented: people, municipalities, wellbeing services counties,
email domains (``.example``) and phone numbers. There are no personal identity
codes. The directory is a semicolon CSV, as Finnish Excel writes it, and goes
through the real import, so the demo also shows the import format.

The past weeks of ring questions (`seed_demo_history`) are invented too: a repeatable
pseudo-random simulation, so the load view has something to look back on. No real
question, client or person is behind any of it.
"""

from __future__ import annotations

import csv
import io
import math
import random
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from liaison.services.core import Core
from liaison.services.directory_import import import_directory
from liaison.services.ring_config import apply_ring_config
from liaison.services.rings import LEGAL_BASES, NAMED_RING_PREFIX, OUTCOMES, TOPICS
from liaison.store.models import (
    Consultation,
    Organisation,
    Person,
    Ring,
    RingLeg,
    RingMember,
    RingOffer,
    Unit,
)

__all__ = [
    "DEMO_PASSWORD",
    "DemoLogin",
    "demo_directory_csv",
    "demo_username",
    "seed_demo",
    "seed_demo_history",
]

# Public on purpose: the demo is for trying Liaison out, never for real data.
DEMO_PASSWORD = "demo-salasana"  # noqa: S105


@dataclass(frozen=True)
class DemoLogin:
    username: str
    name: str
    description: str


_KELA = "Kela"
_JARVI = "Järvi-Suomen hyvinvointialue"
_RANNIKKO = "Rannikon hyvinvointialue"
_POHJOINEN = "Pohjoisen hyvinvointialue"

_ORGANISATIONS: dict[str, tuple[str, str]] = {
    # name: (kind, email domain)
    _KELA: ("kela", "kela.example"),
    _JARVI: ("social_services", "jarvisuomi.hyvinvointialue.example"),
    _RANNIKKO: ("social_services", "rannikko.hyvinvointialue.example"),
    _POHJOINEN: ("social_services", "pohjoinen.hyvinvointialue.example"),
}

# unit: (organisation, unit kind, area). Areas are shared words: a Kela liaison team and
# the county it serves have the same area, so an area search finds both sides.
_UNITS: dict[str, tuple[str, str, str]] = {
    "Itäinen vakuutuspiiri": (_KELA, "insurance_district", ""),
    "Turvatiimi Itä: perustoimeentulotuki": (_KELA, "benefit_team", ""),
    "Turvatiimi Itä: asumistuki": (_KELA, "benefit_team", ""),
    "Turvatiimi Itä: työttömyysturva": (_KELA, "benefit_team", ""),
    "Asiakaspalvelu Itä": (_KELA, "customer_service", ""),
    "Kuntayhteistyö Järvi-Suomi": (_KELA, "benefit_team", "Järvi-Suomi"),
    "Kuntayhteistyö Pohjoinen": (_KELA, "benefit_team", "Pohjoinen"),
    "Läntinen vakuutuspiiri": (_KELA, "insurance_district", ""),
    "Turvatiimi Länsi: perustoimeentulotuki": (_KELA, "benefit_team", ""),
    "Turvatiimi Länsi: asumistuki": (_KELA, "benefit_team", ""),
    "Turvatiimi Länsi: työttömyysturva": (_KELA, "benefit_team", ""),
    "Asiakaspalvelu Länsi": (_KELA, "customer_service", ""),
    "Kuntayhteistyö Rannikko": (_KELA, "benefit_team", "Rannikko"),
    "Järvi-Suomi: aikuissosiaalityö": (_JARVI, "wellbeing_county", "Järvi-Suomi"),
    "Kuusilahti": (_JARVI, "municipality", "Järvi-Suomi"),
    "Ahvenjärvi": (_JARVI, "municipality", "Järvi-Suomi"),
    "Salmela": (_JARVI, "municipality", "Järvi-Suomi"),
    "Rannikko: aikuissosiaalityö": (_RANNIKKO, "wellbeing_county", "Rannikko"),
    "Merikylä": (_RANNIKKO, "municipality", "Rannikko"),
    "Saarenpää": (_RANNIKKO, "municipality", "Rannikko"),
    "Kaislaranta": (_RANNIKKO, "municipality", "Rannikko"),
    "Pohjoinen: aikuissosiaalityö": (_POHJOINEN, "wellbeing_county", "Pohjoinen"),
    "Tunturila": (_POHJOINEN, "municipality", "Pohjoinen"),
    "Jokivarsi": (_POHJOINEN, "municipality", "Pohjoinen"),
}

_BASIC = "basic_social_assistance"
_HOUSING = "housing_allowance"
_UNEMPLOYMENT = "unemployment_security"
_SECURITY = f"{_BASIC}, {_HOUSING}, {_UNEMPLOYMENT}"

# first name, last name, title, unit, roles, benefits, languages, ask me about, tags
_People = list[tuple[str, str, str, str, str, str, str, str, str]]
_PEOPLE: _People = [
    # ---- Kela, eastern insurance district
    ("Hannele", "Kinnunen", "palvelujohtaja", "Itäinen vakuutuspiiri", "supervisor", "",
     "fi, en", "Vakuutuspiirin yhteistyö hyvinvointialueiden kanssa ja tiimien kuormitus.",
     "yhteistyösopimukset, johtaminen"),
    ("Markku", "Hyvönen", "ryhmäpäällikkö", "Turvatiimi Itä: perustoimeentulotuki",
     "supervisor", _BASIC, "fi", "Tiimin jonotilanne ja käsittelyajat.",
     "käsittelyajat, perehdytys"),
    ("Sanna", "Korhonen", "ratkaisuasiantuntija", "Turvatiimi Itä: perustoimeentulotuki",
     "decision_expert", _BASIC, "fi, en",
     "Perustoimeentulotuen menot: vuokravakuudet, maksusitoumukset ja välitystili.",
     "vuokravakuus, maksusitoumus, välitystili"),
    ("Juha", "Miettinen", "ratkaisuasiantuntija", "Turvatiimi Itä: perustoimeentulotuki",
     "decision_expert", _BASIC, "fi",
     "Yrittäjien ja freelancereiden tulot perustoimeentulotuessa.",
     "yrittäjät, tulojen jaksotus"),
    ("Riikka", "Pesonen", "etuuskäsittelijä", "Turvatiimi Itä: perustoimeentulotuki",
     "decision_expert", _BASIC, "fi",
     "Nuorten aikuisten ja opiskelijoiden toimeentulotukiasiat.",
     "nuoret aikuiset, opiskelijat"),
    ("Kirsi", "Savolainen", "ryhmäpäällikkö", "Turvatiimi Itä: asumistuki", "supervisor",
     _HOUSING, "fi", "Asumistukitiimin työtilanne.", "käsittelyajat"),
    ("Tuomas", "Heikkinen", "ratkaisuasiantuntija", "Turvatiimi Itä: asumistuki",
     "decision_expert", _HOUSING, "fi, en",
     "Yleisen asumistuen ruokakunnat ja tulojen muutokset kesken tukikauden.",
     "ruokakunta, tulomuutokset, vuositarkistus"),
    ("Päivi", "Rautiainen", "ratkaisuasiantuntija", "Turvatiimi Itä: asumistuki",
     "decision_expert", _HOUSING, "fi", "Asumismenot omistus- ja asumisoikeusasunnoissa.",
     "asumismenot, omistusasunto"),
    ("Jari", "Turunen", "etuuskäsittelijä", "Turvatiimi Itä: asumistuki", "decision_expert",
     f"{_HOUSING}, pensioners_housing_allowance", "fi",
     "Siirtymät yleisestä asumistuesta eläkkeensaajan asumistukeen.",
     "eläkkeensaajan asumistuki"),
    ("Mikko", "Laitinen", "ryhmäpäällikkö", "Turvatiimi Itä: työttömyysturva", "supervisor",
     _UNEMPLOYMENT, "fi", "Työttömyysturvatiimin jonot ja sijaisuudet.", "käsittelyajat"),
    ("Elina", "Huttunen", "ratkaisuasiantuntija", "Turvatiimi Itä: työttömyysturva",
     "decision_expert", _UNEMPLOYMENT, "fi, sv",
     "Työmarkkinatuki ja peruspäiväraha, odotusajat ja karenssit.",
     "työmarkkinatuki, odotusaika, karenssi"),
    ("Antti", "Karjalainen", "ratkaisuasiantuntija", "Turvatiimi Itä: työttömyysturva",
     "decision_expert", _UNEMPLOYMENT, "fi", "Soviteltu päiväraha ja lomautukset.",
     "soviteltu päiväraha, lomautus"),
    ("Laura", "Partanen", "etuuskäsittelijä", "Turvatiimi Itä: työttömyysturva",
     "decision_expert", _UNEMPLOYMENT, "fi, en",
     "Työvoimapoliittiset lausunnot ja yhteistyö työllisyyspalvelujen kanssa.",
     "työvoimapoliittinen lausunto, työllisyyspalvelut"),
    ("Tarja", "Ikonen", "palvelupäällikkö", "Asiakaspalvelu Itä", "supervisor", "", "fi",
     "Palvelupisteiden ja puhelinpalvelun vuorot.", "palvelupisteet, vuorosuunnittelu"),
    ("Aino", "Lehtonen", "palveluasiantuntija", "Asiakaspalvelu Itä", "service_specialist",
     _SECURITY, "fi, en", "Asiakkaan ohjaus oikealle etuudelle, palvelupiste Kuusilahti.",
     "palvelupiste, etuusneuvonta"),
    ("Ville", "Nieminen", "palveluasiantuntija", "Asiakaspalvelu Itä", "service_specialist",
     _SECURITY, "fi, en", "Puhelinpalvelu ja maahan muuttaneiden asiakkaiden ohjaus.",
     "puhelinpalvelu, maahanmuuttajat"),
    ("Noora", "Räsänen", "palveluasiantuntija", "Asiakaspalvelu Itä", "service_specialist",
     _SECURITY, "fi", "Palvelupiste Ahvenjärvi, ajanvarausasiakkaat.",
     "palvelupiste, ajanvaraus"),
    ("Petri", "Hämäläinen", "palveluasiantuntija", "Asiakaspalvelu Itä", "service_specialist",
     _SECURITY, "fi", "Verkkoasioinnin neuvonta ja liitteiden toimittaminen.",
     "verkkoasiointi, liitteet"),
    ("Minna", "Jääskeläinen", "ratkaisuasiantuntija, kuntayhteyshenkilö",
     "Kuntayhteistyö Järvi-Suomi", "municipal_liaison, decision_expert", f"{_BASIC}, {_HOUSING}",
     "fi", "Järvi-Suomen sosiaalityön yhteydenotot: kiirehtimispyynnöt, lausunnot, "
     "huoli-ilmoitukset.", "kiirehtimispyyntö, lausunto, huoli-ilmoitus"),
    ("Kari", "Hakkarainen", "ratkaisuasiantuntija, kuntayhteyshenkilö",
     "Kuntayhteistyö Järvi-Suomi", "municipal_liaison, decision_expert",
     f"{_BASIC}, {_UNEMPLOYMENT}", "fi",
     "Järvi-Suomen asiakkaiden perustoimeentulotuki ja työttömyysturva yhdessä.",
     "kiirehtimispyyntö, etuuksien yhteensovitus"),
    ("Satu", "Väisänen", "ratkaisuasiantuntija, kuntayhteyshenkilö",
     "Kuntayhteistyö Pohjoinen", "municipal_liaison, decision_expert", f"{_BASIC}, {_HOUSING}",
     "fi, en", "Pohjoisen hyvinvointialueen yhteydenotot ja etäasiointi.",
     "kiirehtimispyyntö, etäasiointi"),
    # ---- Kela, western insurance district
    ("Anders", "Lindqvist", "palvelujohtaja", "Läntinen vakuutuspiiri", "supervisor", "",
     "sv, fi, en", "Vakuutuspiirin kaksikielinen palvelu ja yhteistyösopimukset.",
     "kaksikielisyys, yhteistyösopimukset"),
    ("Heidi", "Salonen", "järjestelmäasiantuntija (pääkäyttäjä)", "Läntinen vakuutuspiiri",
     "admin", "", "fi, en", "Liaisonin käyttäjätunnukset, hakemiston tuonti ja ryhmät.",
     "käyttäjätuki, hakemisto"),
    ("Jukka", "Lehtinen", "ryhmäpäällikkö", "Turvatiimi Länsi: perustoimeentulotuki",
     "supervisor", _BASIC, "fi", "Tiimin jonotilanne ja käsittelyajat.", "käsittelyajat"),
    ("Katja", "Mäkelä", "ratkaisuasiantuntija", "Turvatiimi Länsi: perustoimeentulotuki",
     "decision_expert", _BASIC, "fi",
     "Asiakkaan ohjaaminen hyvinvointialueelle täydentävää ja ehkäisevää tukea varten.",
     "täydentävä toimeentulotuki, ehkäisevä toimeentulotuki, ohjaus sosiaalityöhön"),
    ("Linnea", "Holmström", "ratkaisuasiantuntija", "Turvatiimi Länsi: perustoimeentulotuki",
     "decision_expert", _BASIC, "sv, fi", "Ruotsinkielisten asiakkaiden toimeentulotukiasiat.",
     "ruotsinkieliset asiakkaat"),
    ("Timo", "Salminen", "ryhmäpäällikkö", "Turvatiimi Länsi: asumistuki", "supervisor",
     _HOUSING, "fi", "Asumistukitiimin työtilanne.", "käsittelyajat"),
    ("Johanna", "Virtanen", "ratkaisuasiantuntija", "Turvatiimi Länsi: asumistuki",
     "decision_expert", _HOUSING, "fi, en", "Alivuokralaiset ja yhteistaloudet asumistuessa.",
     "alivuokralainen, yhteistalous"),
    ("Mikael", "Grönroos", "ratkaisuasiantuntija", "Turvatiimi Länsi: asumistuki",
     "decision_expert", _HOUSING, "sv, fi", "Asumistuki ruotsiksi, asumisoikeusasunnot.",
     "ruotsinkieliset asiakkaat, asumisoikeusasunto"),
    ("Pirjo", "Koskinen", "ryhmäpäällikkö", "Turvatiimi Länsi: työttömyysturva", "supervisor",
     _UNEMPLOYMENT, "fi", "Työttömyysturvatiimin jonot.", "käsittelyajat"),
    ("Henna", "Lahtinen", "ratkaisuasiantuntija", "Turvatiimi Länsi: työttömyysturva",
     "decision_expert", _UNEMPLOYMENT, "fi, en",
     "Kotoutumisen aikainen työttömyysturva ja kotoutumistuki.", "kotoutumistuki"),
    ("Teemu", "Järvinen", "ratkaisuasiantuntija", "Turvatiimi Länsi: työttömyysturva",
     "decision_expert", _UNEMPLOYMENT, "fi", "Työttömyysetuuden sovittelu ja keikkatyö.",
     "soviteltu päiväraha, keikkatyö"),
    ("Merja", "Aaltonen", "palvelupäällikkö", "Asiakaspalvelu Länsi", "supervisor", "",
     "fi, sv", "Palvelupisteiden aukioloajat ja puhelinpalvelun vuorot.",
     "palvelupisteet, vuorosuunnittelu"),
    ("Emma", "Nyström", "palveluasiantuntija", "Asiakaspalvelu Länsi", "service_specialist",
     _SECURITY, "sv, fi, en", "Asiakaspalvelu ruotsiksi ja englanniksi.",
     "ruotsinkieliset asiakkaat, englanninkieliset asiakkaat"),
    ("Oskari", "Leino", "palveluasiantuntija", "Asiakaspalvelu Länsi", "service_specialist",
     _SECURITY, "fi", "Puhelinpalvelu, etuuksien yhteensovitus.", "puhelinpalvelu"),
    ("Julia", "Heinonen", "palveluasiantuntija", "Asiakaspalvelu Länsi", "service_specialist",
     _SECURITY, "fi, en", "Palvelupiste Merikylä, nuoret asiakkaat.",
     "palvelupiste, nuoret aikuiset"),
    ("Camilla", "Westerlund", "ratkaisuasiantuntija, kuntayhteyshenkilö",
     "Kuntayhteistyö Rannikko", "municipal_liaison, decision_expert", f"{_BASIC}, {_HOUSING}",
     "sv, fi", "Rannikon hyvinvointialueen yhteydenotot suomeksi ja ruotsiksi.",
     "kiirehtimispyyntö, ruotsinkieliset asiakkaat"),
    ("Petteri", "Mattila", "ratkaisuasiantuntija, kuntayhteyshenkilö",
     "Kuntayhteistyö Rannikko", "municipal_liaison, decision_expert",
     f"{_BASIC}, {_UNEMPLOYMENT}", "fi", "Rannikon sosiaalityön lausuntopyynnöt.",
     "lausunto, kiirehtimispyyntö"),
    # ---- Järvi-Suomen hyvinvointialue
    ("Marja-Liisa", "Toivonen", "johtava sosiaalityöntekijä", "Järvi-Suomi: aikuissosiaalityö",
     "supervisor", "", "fi", "Aikuissosiaalityön tiimit ja yhteistyö Kelan kanssa.",
     "aikuissosiaalityö, yhteistyö Kelan kanssa"),
    ("Eeva", "Ruotsalainen", "sosiaalityöntekijä", "Kuusilahti", "social_worker", _BASIC,
     "fi, en", "Täydentävä ja ehkäisevä toimeentulotuki, vastuutyöntekijänä toimiminen.",
     "täydentävä toimeentulotuki, ehkäisevä toimeentulotuki, vastuutyöntekijä"),
    ("Janne", "Pitkänen", "sosiaalityöntekijä", "Ahvenjärvi", "social_worker", _BASIC, "fi",
     "Asunnottomuus ja päihdetyö.", "asunnottomuus, päihdetyö"),
    ("Tiina", "Hirvonen", "sosiaaliohjaaja", "Kuusilahti", "social_worker", "", "fi",
     "Nuorten aikuisten talousneuvonta.", "nuoret aikuiset, talousneuvonta"),
    ("Sami", "Kettunen", "sosiaaliohjaaja", "Salmela", "social_worker", _UNEMPLOYMENT, "fi",
     "Kuntouttava työtoiminta ja työllisyyspalvelut.",
     "kuntouttava työtoiminta, työllisyyspalvelut"),
    ("Outi", "Nissinen", "sosiaalityöntekijä", "Salmela", "social_worker", "", "fi",
     "Lapsiperheiden sosiaalityö.", "lapsiperheet, lastensuojelu"),
    ("Reijo", "Kärkkäinen", "sosiaaliohjaaja", "Ahvenjärvi", "social_worker", "", "fi",
     "Ikäihmisten palvelut ja velkaneuvontaan ohjaaminen.", "ikäihmiset, velkaneuvonta"),
    # ---- Rannikon hyvinvointialue
    ("Susanna", "Blomqvist", "johtava sosiaalityöntekijä", "Rannikko: aikuissosiaalityö",
     "supervisor", "", "sv, fi", "Kaksikielinen aikuissosiaalityö.", "kaksikielisyys"),
    ("Fredrik", "Sundström", "sosiaalityöntekijä", "Merikylä", "social_worker", _BASIC,
     "sv, fi", "Ruotsinkieliset asiakkaat ja täydentävä toimeentulotuki.",
     "ruotsinkieliset asiakkaat, täydentävä toimeentulotuki"),
    ("Maria", "Lindroos", "sosiaaliohjaaja", "Merikylä", "social_worker", "", "sv, fi, en",
     "Asumisneuvonta ja vuokrarästit.", "asumisneuvonta, vuokrarästit"),
    ("Heikki", "Rantanen", "sosiaalityöntekijä", "Saarenpää", "social_worker", _BASIC, "fi",
     "Pitkään työttömänä olleiden asiakkaiden sosiaalityö.", "pitkäaikaistyöttömyys"),
    ("Anu", "Leppänen", "sosiaaliohjaaja", "Saarenpää", "social_worker", "", "fi, en",
     "Maahan muuttaneiden asiakkaiden ohjaus ja tulkkauksen järjestäminen.",
     "maahanmuuttajat, tulkkaus"),
    ("Tommi", "Suominen", "sosiaalityöntekijä", "Kaislaranta", "social_worker", _BASIC, "fi",
     "Aikuissosiaalityö ja huoli-ilmoitukset.", "huoli-ilmoitus, aikuissosiaalityö"),
    ("Ida", "Backman", "sosiaaliohjaaja", "Kaislaranta", "social_worker", "", "sv, fi",
     "Nuorten aikuisten tuki ruotsiksi.", "nuoret aikuiset, ruotsinkieliset asiakkaat"),
    # ---- Pohjoisen hyvinvointialue
    ("Raili", "Kemppainen", "johtava sosiaalityöntekijä", "Pohjoinen: aikuissosiaalityö",
     "supervisor", "", "fi", "Aikuissosiaalityö pitkien etäisyyksien alueella.",
     "etäasiointi, yhteistyö Kelan kanssa"),
    ("Juho", "Tervo", "sosiaalityöntekijä", "Tunturila", "social_worker", _BASIC, "fi",
     "Etäasiointi ja asiakkaiden tavoittaminen syrjäkylillä.", "etäasiointi"),
    ("Saara", "Niskanen", "sosiaaliohjaaja", "Tunturila", "social_worker", "", "fi, en",
     "Talousneuvonta ja Kelan etuuksien hakemisessa avustaminen.",
     "talousneuvonta, hakemusapu"),
    ("Ilkka", "Keränen", "sosiaalityöntekijä", "Jokivarsi", "social_worker", _BASIC, "fi, se",
     "Saamenkieliset asiakkaat ja aikuissosiaalityö.", "saamenkieliset asiakkaat"),
    ("Hanna", "Karvonen", "sosiaaliohjaaja", "Jokivarsi", "social_worker", "", "fi",
     "Nuorten aikuisten asuminen ja itsenäistyminen.", "nuoret aikuiset, asuminen"),
    ("Aleksi", "Moilanen", "sosiaalityöntekijä", "Jokivarsi", "social_worker", _BASIC, "fi",
     "Päihde- ja mielenterveysasiakkaiden toimeentulo.", "päihdetyö, mielenterveys"),
    ("Veera", "Ahonen", "sosiaaliohjaaja", "Tunturila", "social_worker", "", "fi",
     "Kuntouttava työtoiminta.", "kuntouttava työtoiminta"),
    ("Paavo", "Kauppinen", "sosiaalityöntekijä", "Pohjoinen: aikuissosiaalityö",
     "social_worker", _BASIC, "fi", "Ehkäisevä toimeentulotuki ja velkajärjestely.",
     "ehkäisevä toimeentulotuki, velkajärjestely"),
]  # fmt: skip

_HEADER = [
    "email",
    "first_name",
    "last_name",
    "title",
    "organisation",
    "organisation_kind",
    "unit",
    "unit_kind",
    "area",
    "roles",
    "benefits",
    "languages",
    "work_phone",
    "ask_me_about",
    "tags",
]


def _ascii(text: str) -> str:
    """ä→a, ö→o, å→a and so on: the accents are dropped, the letters kept."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def demo_username(first_name: str, last_name: str) -> str:
    """firstname.lastname in lower-case ASCII, e.g. "minna.jaaskelainen"."""
    raw = f"{_ascii(first_name)}.{_ascii(last_name)}"
    return "".join(ch for ch in raw if ch.isascii() and (ch.isalnum() or ch in ".-"))


def _email(first_name: str, last_name: str, unit: str) -> str:
    organisation = _UNITS[unit][0]
    return f"{demo_username(first_name, last_name)}@{_ORGANISATIONS[organisation][1]}"


def demo_directory_csv() -> bytes:
    """The demo directory as a semicolon CSV in UTF-8 with a BOM, as Excel saves it."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(_HEADER)
    for number, person in enumerate(_PEOPLE, start=1):
        first, last, title, unit, roles, benefits, languages, ask, tags = person
        organisation, unit_kind, area = _UNITS[unit]
        kind = _ORGANISATIONS[organisation][0]
        # A made-up direct-dial range, only for the demo: do not call it.
        prefix = "+358 20 634 9" if kind == "kela" else "+358 20 700 9"
        writer.writerow(
            [
                _email(first, last, unit),
                first,
                last,
                title,
                organisation,
                kind,
                unit,
                unit_kind,
                area,
                roles,
                benefits,
                languages,
                f"{prefix}{number:03d}",
                ask,
                tags,
            ]
        )
    return out.getvalue().encode("utf-8-sig")


# (username, description) of the people the demo suggests signing in as.
_LOGINS = [
    ("aino.lehtonen", "service specialist (palveluasiantuntija), Asiakaspalvelu Itä"),
    ("tuomas.heikkinen", "decision expert for housing allowance, Turvatiimi Itä: asumistuki"),
    ("minna.jaaskelainen", "Kela municipal liaison (kuntayhteyshenkilö) for Järvi-Suomi"),
    ("eeva.ruotsalainen", "social worker, Järvi-Suomen hyvinvointialue, Kuusilahti"),
    ("markku.hyvonen", "supervisor (ryhmäpäällikkö), Turvatiimi Itä: perustoimeentulotuki"),
    ("heidi.salonen", "administrator (pääkäyttäjä), Kela"),
]

# Mini-networks: title, creator, other members (usernames), opening messages.
_GROUPS: list[tuple[str, str, list[str], list[tuple[str, str]]]] = [
    (
        "Miniverkosto Itä: turvaetuudet",
        "aino.lehtonen",
        ["sanna.korhonen", "tuomas.heikkinen", "elina.huttunen", "ville.nieminen"],
        [
            (
                "aino.lehtonen",
                "Hei kaikki! Minulla on asiakas linjalla: hän jäi juuri työttömäksi ja kysyy, "
                "pitääkö asumistuki ja perustoimeentulotuki hakea uudelleen. Kuka ehtii?",
            ),
            (
                "tuomas.heikkinen",
                "Asumistuesta: tulojen muutoksesta tehdään muutosilmoitus, uutta hakemusta "
                "ei tarvita. Tuki tarkistetaan uusien tulojen mukaan.",
            ),
            (
                "elina.huttunen",
                "Työttömyysetuutta haetaan omalla hakemuksella, kun asiakas on ilmoittautunut "
                "työnhakijaksi. Katson tarkemmin, jos kirjaat asiakasviitteen konsultaatioon.",
            ),
            (
                "sanna.korhonen",
                "Perustoimeentulotukea voi hakea heti, vaikka työttömyysetuus olisi vielä "
                "käsittelyssä. Liitteeksi viimeisin palkkalaskelma ja tiliote.",
            ),
        ],
    ),
    (
        "Miniverkosto Länsi: turvaetuudet",
        "emma.nystrom",
        ["katja.makela", "johanna.virtanen", "henna.lahtinen", "oskari.leino"],
        [
            (
                "emma.nystrom",
                "Hei! Ruotsinkielinen asiakas kysyy, miten työmarkkinatuki vaikuttaa "
                "asumistukeen. Onko jollakulla hetki?",
            ),
            (
                "johanna.virtanen",
                "Työmarkkinatuki lasketaan asumistuessa tuloksi. Muutosilmoituksen voi tehdä "
                "verkossa, ja ohje löytyy myös ruotsiksi.",
            ),
        ],
    ),
    (
        "Järvi-Suomi: Kela ja sosiaalipalvelut",
        "minna.jaaskelainen",
        ["kari.hakkarainen", "eeva.ruotsalainen", "janne.pitkanen", "marja-liisa.toivonen"],
        [
            (
                "eeva.ruotsalainen",
                "Huomenta! Asiakkaan perustoimeentulotukihakemus on ollut vireillä kolme "
                "viikkoa ja vuokra erääntyy perjantaina. Puuttuuko hakemuksesta jotain? "
                "Asiakasviite on konsultaatiossa.",
            ),
            (
                "minna.jaaskelainen",
                "Huomenta! Katson asian aamupäivän aikana ja palaan tähän ennen lounasta.",
            ),
            (
                "marja-liisa.toivonen",
                "Kiitos! Sovitaanko samalla ensi viikolle lyhyt palaveri kuntayhteistyön "
                "käytännöistä?",
            ),
        ],
    ),
]


def _logins() -> list[DemoLogin]:
    names = {demo_username(p[0], p[1]): f"{p[0]} {p[1]}" for p in _PEOPLE}
    return [DemoLogin(username, names[username], text) for username, text in _LOGINS]


async def seed_demo(core: Core) -> list[DemoLogin]:
    """Fills an empty database with the demo directory, accounts, groups and messages.

    Idempotent: when anyone is in the directory already, nothing is touched (a real
    directory is never mixed with demo people). Returns the logins worth showing;
    every demo account has the password DEMO_PASSWORD.
    """
    async with core.db() as db:
        if await db.scalar(select(Person.id).limit(1)) is not None:
            return _logins()

    report = await import_directory(core.db, "demo.csv", demo_directory_csv(), dry_run=False)
    if not report.applied:
        # The demo data is ours: an error here is a bug, not a user mistake.
        raise RuntimeError(f"the demo directory did not import: {report.to_dict()['errors']}")

    async with core.db() as db:
        people = (await db.execute(select(Person.id, Person.email, Person.roles))).all()
    ids: dict[str, int] = {}
    for person_id, email, roles in people:
        username = email.split("@", 1)[0]
        ids[username] = person_id
        await core.accounts.create_account(
            username, DEMO_PASSWORD, person_id, is_admin="admin" in roles
        )

    client_number = 0
    for title, creator, members, messages in _GROUPS:
        group = await core.chat.create_group(ids[creator], title, [ids[m] for m in members])
        for sender, body in messages:
            client_number += 1
            await core.chat.send(ids[sender], group["id"], f"demo-{client_number}", body)
    await apply_ring_config(core.db, await demo_ring_config(core))
    await core.rings.reload_rings()
    async with core.db() as db:
        has_history = await db.scalar(select(RingLeg.id).limit(1)) is not None
    if not has_history:
        await seed_demo_history(core)
    return _logins()


DEMO_BENEFIT_RINGS = {
    "basic_social_assistance": "Perustoimeentulotuki",
    "housing_allowance": "Yleinen asumistuki",
    "unemployment_security": "Työttömyysturva",
}


async def demo_ring_config(core: Core) -> dict[str, Any]:
    """Rings made from the demo directory: one per security benefit answered by its
    decision experts, one per county for its Kela liaisons, and named contacts per area."""
    async with core.db() as db:
        rows = (
            await db.execute(
                select(Person.email, Person.roles, Person.benefits, Unit.area, Organisation.kind)
                .join(Organisation, Person.organisation_id == Organisation.id)
                .outerjoin(Unit, Person.unit_id == Unit.id)
                .order_by(Person.last_name)
            )
        ).all()
    rings: list[dict[str, Any]] = [
        {
            "id": benefit,
            "name": name,
            "kind": "benefit",
            "benefit": benefit,
            "members": [
                r.email for r in rows if "decision_expert" in r.roles and benefit in r.benefits
            ],
        }
        for benefit, name in DEMO_BENEFIT_RINGS.items()
    ]
    contacts: list[dict[str, Any]] = []
    areas = sorted({r.area for r in rows if r.area and r.kind == "social_services"})
    for area in areas:
        liaisons = [
            r.email
            for r in rows
            if r.kind == "kela" and r.area == area and "municipal_liaison" in r.roles
        ]
        workers = [
            r.email
            for r in rows
            if r.kind == "social_services" and r.area == area and "social_worker" in r.roles
        ]
        rings.append(
            {
                "id": f"liaison-{area.lower()}",
                "name": f"Kuntayhteyshenkilöt: {area}",
                "kind": "liaison",
                "area": area,
                "members": liaisons,
            }
        )
        contacts.append({"area": area, "side": "kela", "people": liaisons})
        contacts.append({"area": area, "side": "social_services", "people": workers[:2]})
    return {"rings": rings, "named_contacts": contacts}


# ---------------------------------------------------------------- invented ring history

# Short generic questions per benefit ring, and for the liaison rings: no names, no codes.
_HISTORY_QUESTIONS: dict[str, tuple[str, ...]] = {
    "basic_social_assistance": (
        "Miten vuokravakuus käsitellään perustoimeentulotuessa?",
        "Hakemus on ollut vireillä pitkään. Puuttuuko siitä jokin liite?",
        "Lasketaanko kertaluonteinen tulo hakukuukauden tuloksi?",
        "Saako lääkkeisiin maksusitoumuksen vielä tänään?",
        "Miten yrittäjän tulot arvioidaan perustoimeentulotuessa?",
    ),
    "housing_allowance": (
        "Miten ruokakunnan muutos ilmoitetaan kesken tukikauden?",
        "Tulot nousivat: riittääkö muutosilmoitus vai tarvitaanko uusi hakemus?",
        "Hyväksytäänkö erillinen vesimaksu asumismenoksi?",
        "Mitä liitteitä alivuokralaisen asumistukeen tarvitaan?",
        "Milloin vuositarkistuksen päätös on tulossa?",
    ),
    "unemployment_security": (
        "Miten soviteltu päiväraha lasketaan keikkatyössä?",
        "Tuleeko karenssi, kun työsuhde päättyi omasta pyynnöstä?",
        "Vaikuttaako lomautus työttömyysetuuden maksupäiviin?",
        "Puuttuuko hakemukselta työvoimapoliittinen lausunto?",
        "Milloin työmarkkinatuen hakemus kannattaa jättää?",
    ),
    "liaison": (
        "Kiirehtimispyyntö: asiakkaan vuokra erääntyy tällä viikolla.",
        "Pyydämme lausuntoa asiakkaan perustoimeentulotuen tilanteesta.",
        "Tarvitaanko Kelan päätös ennen täydentävää toimeentulotukea?",
        "Asiakkaan toimeentulo on vaarassa: voiko käsittelyä nopeuttaa?",
        "Hakemuksesta puuttuu liite: voiko sosiaalityö toimittaa sen?",
    ),
}
_GENERIC_QUESTIONS = (
    "Asiakas kysyy hakemuksensa käsittelytilannetta.",
    "Mitä liitteitä hakemukseen vielä tarvitaan?",
)
# Questions on an average weekday per benefit ring; a liaison ring gets so many per member.
_DAILY_QUESTIONS = {"basic_social_assistance": 26.0, "housing_allowance": 22.0}
_DEFAULT_DAILY_QUESTIONS = 16.0
_LIAISON_QUESTIONS_PER_MEMBER = 3.0
# Monday to Friday: Mondays are busiest, Fridays quiet.
_WEEKDAY_FACTORS = (1.25, 1.1, 1.0, 0.95, 0.75)
# Local hour of the ask, 08-15: a morning peak at 9-11 and a smaller one after lunch.
_HOUR_WEIGHTS = {8: 6, 9: 14, 10: 15, 11: 10, 12: 5, 13: 9, 14: 8, 15: 5}
_BUSY_HOURS = (9, 10)
_OUTCOME_WEIGHTS = {"answered": 70, "needs_follow_up": 12, "forwarded": 8, "callback_needed": 10}
_TOPIC_WEIGHTS = {
    "benefit": {"clients_situation": 5, "missing_attachment": 4, "discretion": 2},
    "liaison": {"request_to_expedite": 5, "statement": 4, "clients_situation": 3, "urgent_need": 2},
}
_LEGAL_BASIS_WEIGHTS = {
    "benefit": {"client_present": 6, "client_consent": 3},
    "liaison": {"client_consent": 5, "necessity_sa_18": 3, "client_present": 2},
}
_HISTORY_SEED = 20261123


@dataclass(frozen=True)
class _HistoryRing:
    id: str
    kind: str  # "benefit" or "liaison"
    questions: tuple[str, ...]
    members: tuple[int, ...]
    askers: tuple[int, ...]
    per_day: float
    alert_seconds: int
    timeout_seconds: int
    target_seconds: int


@dataclass(frozen=True)
class _Offer:
    person_id: int
    start: float  # seconds after the ask
    end: float
    outcome: str  # accepted, missed or declined


@dataclass(frozen=True)
class _Past:
    """One invented question's stay in its ring; times are seconds after the ask."""

    question_id: str
    asked_at: datetime
    urgency: str
    outcome: str  # the leg's: answered, cancelled or timed_out
    expert: int | None
    wait: float  # until the answer, the cancel or the timeout
    offers: tuple[_Offer, ...]

    def at(self, seconds: float) -> datetime:
        return self.asked_at + timedelta(seconds=seconds)

    @property
    def ended_at(self) -> datetime:
        return self.at(self.wait)

    @property
    def first_offered_at(self) -> datetime | None:
        return self.at(min(o.start for o in self.offers)) if self.offers else None

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.offers if o.outcome == outcome)


async def seed_demo_history(core: Core, days: int = 30) -> int:
    """Writes an invented, repeatable past for the demo's benefit and liaison rings.

    Every weekday of the `days` days before today (local time; nothing today, which is
    the live demo's) gets questions with their consultation record, ring leg and ended
    offers, as the ring service would have written them. Returns the number of questions.
    """
    tz = ZoneInfo(core.settings.time_zone)
    today = core.clock.now().astimezone(tz).date()
    rng = random.Random(_HISTORY_SEED)
    async with core.db() as db:
        rings = await _history_rings(db)
    written = 0
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        if day.weekday() >= 5:
            continue
        rows: list[object] = []
        for ring in rings:
            for asked_at in _ask_times(rng, ring, day, tz):
                busy = asked_at.astimezone(tz).hour in _BUSY_HOURS
                past = _simulate(rng, ring, asked_at, busy)
                rows += [_consultation(rng, ring, past), _leg(ring, past)]
                rows += _offer_rows(ring, past)
                written += 1
        async with core.db.begin() as db:
            db.add_all(rows)
    return written


async def _history_rings(db: AsyncSession) -> list[_HistoryRing]:
    """The benefit and liaison rings (not the named-contact ones) that have members."""
    rings = (await db.scalars(select(Ring).order_by(Ring.id))).all()
    memberships = (
        await db.execute(
            select(RingMember.ring_id, RingMember.person_id).order_by(RingMember.position)
        )
    ).all()
    people = (
        await db.execute(
            select(Person.id, Person.roles, Unit.area, Organisation.kind)
            .join(Organisation, Person.organisation_id == Organisation.id)
            .outerjoin(Unit, Person.unit_id == Unit.id)
            .order_by(Person.id)
        )
    ).all()
    result = []
    for ring in rings:
        if ring.kind not in ("benefit", "liaison") or ring.id.startswith(NAMED_RING_PREFIX):
            continue
        members = tuple(p for r, p in memberships if r == ring.id)
        if ring.kind == "liaison":
            # Social workers of the ring's area ask its Kela liaisons.
            askers = [
                pid
                for pid, roles, area, kind in people
                if kind == "social_services"
                and "social_worker" in roles
                and (area or "").lower() == ring.area.lower()
            ]
            questions = _HISTORY_QUESTIONS["liaison"]
            per_day = _LIAISON_QUESTIONS_PER_MEMBER * len(members)
        else:
            # Kela's service specialists ask with a client on the line.
            askers = [
                pid
                for pid, roles, _, kind in people
                if kind == "kela" and "service_specialist" in roles
            ]
            questions = _HISTORY_QUESTIONS.get(ring.benefit or "", _GENERIC_QUESTIONS)
            per_day = _DAILY_QUESTIONS.get(ring.benefit or "", _DEFAULT_DAILY_QUESTIONS)
        askers = [a for a in askers if a not in members]
        if members and askers:
            result.append(
                _HistoryRing(
                    id=ring.id,
                    kind=ring.kind,
                    questions=questions,
                    members=members,
                    askers=tuple(askers),
                    per_day=per_day,
                    alert_seconds=ring.alert_seconds,
                    timeout_seconds=ring.queue_timeout_seconds,
                    target_seconds=ring.target_answer_seconds,
                )
            )
    return result


def _ask_times(rng: random.Random, ring: _HistoryRing, day: date, tz: ZoneInfo) -> list[datetime]:
    """When the day's questions were asked (UTC), between 08:00 and 16:00 local time."""
    expected = ring.per_day * _WEEKDAY_FACTORS[day.weekday()]
    count = max(1, round(expected * max(0.4, rng.gauss(1.0, 0.2))))
    hours = rng.choices(list(_HOUR_WEIGHTS), list(_HOUR_WEIGHTS.values()), k=count)
    return sorted(
        (
            datetime.combine(day, time(hour), tz) + timedelta(seconds=rng.randrange(36000) / 10)
        ).astimezone(UTC)
        for hour in hours
    )


def _tenths(seconds: float) -> float:
    return round(seconds, 1)


def _simulate(rng: random.Random, ring: _HistoryRing, asked_at: datetime, busy: bool) -> _Past:
    """Answered mostly within a minute; a few askers give up and a few questions time out."""
    timed_out_weight = 5 if busy else 3
    outcome = rng.choices(("answered", "cancelled", "timed_out"), (93, 4, timed_out_weight))[0]
    expert = rng.choice(ring.members) if outcome == "answered" else None
    if outcome == "answered":
        wait = _answer_wait(rng, ring, busy)
    elif outcome == "cancelled":
        wait = _tenths(rng.uniform(30.0, min(200.0, ring.timeout_seconds - 1.0)))
    else:
        wait = float(ring.timeout_seconds)
    urgent = rng.random() < (0.2 if ring.kind == "liaison" else 0.08)
    return _Past(
        question_id=f"{rng.getrandbits(64):016x}",
        asked_at=asked_at,
        urgency="urgent" if urgent else "normal",
        outcome=outcome,
        expert=expert,
        wait=wait,
        offers=_offers(rng, ring, wait, expert),
    )


def _answer_wait(rng: random.Random, ring: _HistoryRing, busy: bool) -> float:
    """Mostly 5-90 s, longer in the busy hours and in small rings, a tail of minutes."""
    median = (26.0 if busy else 16.0) * (1.3 if len(ring.members) < 3 else 1.0)
    wait = rng.lognormvariate(math.log(median), 0.8)
    return _tenths(min(max(wait, 4.0), ring.timeout_seconds - 5.0))


def _offers(
    rng: random.Random, ring: _HistoryRing, wait: float, expert: int | None
) -> tuple[_Offer, ...]:
    """The ended offers, built backwards from the end: the expert's accepted one ends at
    the answer; before it, missed and declined offers to others, back to back. Time left
    at the start is time when nobody was free. An offer still ringing when the asker gave
    up or the question timed out was withdrawn, and is not listed."""
    offers: list[_Offer] = []
    end = wait
    if expert is not None:
        ringing = _tenths(rng.uniform(2.0, min(15.0, wait - 1.0)))
        offers.append(_Offer(expert, _tenths(end - ringing), end, "accepted"))
        end = _tenths(end - ringing - 0.5)
    else:
        end = _tenths(end - rng.uniform(0.5, ring.alert_seconds))
    others = [m for m in ring.members if m != expert] or list(ring.members)
    kinds = ["missed"] * rng.choice((0, 0, 1, 1, 2, 3)) + ["declined"] * (rng.random() < 0.08)
    rng.shuffle(kinds)
    for kind in kinds:
        length = float(ring.alert_seconds) if kind == "missed" else _tenths(rng.uniform(2, 10))
        if end - length < 0.5:
            break
        offers.append(_Offer(rng.choice(others), _tenths(end - length), end, kind))
        end = _tenths(end - length - 0.5)
    return tuple(reversed(offers))


def _weighted(rng: random.Random, choices: tuple[str, ...], weights: dict[str, int]) -> str:
    return rng.choices(choices, [weights.get(c, 1) for c in choices])[0]


def _consultation(rng: random.Random, ring: _HistoryRing, past: _Past) -> Consultation:
    answered = past.outcome == "answered"
    closed_at = past.ended_at
    if answered:
        # Five or six minutes of talk on average, from one minute to forty.
        closed_at += timedelta(seconds=_tenths(min(max(rng.lognormvariate(5.8, 0.6), 60), 2400)))
    return Consultation(
        question_id=past.question_id,
        kind="ring",
        ring_id=ring.id,
        asker_id=rng.choice(ring.askers),
        expert_id=past.expert,
        third_party_id=None,
        conversation_id=None,
        question=rng.choice(ring.questions),
        urgency=past.urgency,
        client_ref=None,
        legal_basis=_weighted(rng, LEGAL_BASES, _LEGAL_BASIS_WEIGHTS[ring.kind])
        if answered
        else None,
        state="closed" if answered else past.outcome,
        asked_at=past.asked_at,
        offered_at=past.first_offered_at,
        accepted_at=past.ended_at if answered else None,
        closed_at=closed_at,
        missed_offers=past.count("missed"),
        outcome=_weighted(rng, OUTCOMES, _OUTCOME_WEIGHTS) if answered else None,
        topic=_weighted(rng, TOPICS, _TOPIC_WEIGHTS[ring.kind]) if answered else None,
    )


def _leg(ring: _HistoryRing, past: _Past) -> RingLeg:
    return RingLeg(
        question_id=past.question_id,
        ring_id=ring.id,
        urgency=past.urgency,
        asked_at=past.asked_at,
        entered_at=past.asked_at,
        first_offered_at=past.first_offered_at,
        ended_at=past.ended_at,
        outcome=past.outcome,
        answered_by=past.expert,
        wait_seconds=(past.ended_at - past.asked_at).total_seconds(),
        missed_offers=past.count("missed"),
        declined_offers=past.count("declined"),
        target_answer_seconds=ring.target_seconds,
    )


def _offer_rows(ring: _HistoryRing, past: _Past) -> list[RingOffer]:
    return [
        RingOffer(
            question_id=past.question_id,
            ring_id=ring.id,
            person_id=o.person_id,
            offered_at=past.at(o.start),
            ended_at=past.at(o.end),
            outcome=o.outcome,
        )
        for o in past.offers
    ]
